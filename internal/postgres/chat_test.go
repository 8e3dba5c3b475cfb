package postgres_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/chat/chattest"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

func TestChatStoreContract(t *testing.T) {
	chattest.Run(t, func(t *testing.T) chat.Store {
		db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), 8)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return postgres.NewChatStore(db)
	})
}

func TestChatStoreShared(t *testing.T) {
	chattest.RunShared(t, func(t *testing.T) (chat.Store, chat.Store) {
		url := pgtest.NewDatabase(t)
		var out [2]chat.Store
		for i := range out {
			db, err := postgres.Open(context.Background(), url, 4)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			out[i] = postgres.NewChatStore(db)
		}
		return out[0], out[1]
	})
}
