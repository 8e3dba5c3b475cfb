package postgres_test

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/rooms/roomstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

func TestRoomStores(t *testing.T) {
	roomstest.RunStores(t, func(t *testing.T) roomstest.Stores {
		db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), 8)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s := postgres.NewRoomStore(db)
		return roomstest.Stores{Listings: s, Archives: s, Blocks: s, Follows: s, Homes: s}
	})
}
