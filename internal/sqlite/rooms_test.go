package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/parleyhq/parley/internal/rooms/roomstest"
	"github.com/parleyhq/parley/internal/sqlite"
)

func TestRoomStores(t *testing.T) {
	roomstest.RunStores(t, func(t *testing.T) roomstest.Stores {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.AppFile), "app")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s := sqlite.NewRoomStore(db)
		return roomstest.Stores{Listings: s, Archives: s, Blocks: s, Follows: s, Homes: s}
	})
}
