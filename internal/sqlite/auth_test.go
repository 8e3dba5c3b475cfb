package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/sqlite"
)

func TestAuthStore(t *testing.T) {
	authtest.Run(t, func(t *testing.T) auth.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.AppFile), "app")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return sqlite.NewAuthStore(db)
	})
}
