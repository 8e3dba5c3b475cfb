package postgres_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

func TestAuthStore(t *testing.T) {
	authtest.Run(t, func(t *testing.T) auth.Store {
		db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), 8)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return postgres.NewAuthStore(db)
	})
}
