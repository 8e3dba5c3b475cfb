package postgres_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/chat/chattest"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

// See chattest/bench.go for the commands.

func openBenchChatStore(b *testing.B) chat.Store {
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), 8)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return postgres.NewChatStore(db)
}

func BenchmarkChatProject(b *testing.B) { chattest.BenchProject(b, openBenchChatStore(b)) }

func BenchmarkChatSearch(b *testing.B) { chattest.BenchSearch(b, openBenchChatStore(b)) }
