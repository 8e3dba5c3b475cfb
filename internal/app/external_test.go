package app_test

import (
	"os"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/testutil/natstest"
	"github.com/parleyhq/parley/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestExternalNATSAndPostgres runs two nodes on a real nats-server process
// and a real PostgreSQL database (--nats-url, --database-url): a user on
// one node receives what a user on the other publishes, sees presence from
// the other node, and resumes on the other node after a disconnect.
func TestExternalNATSAndPostgres(t *testing.T) {
	ns := natstest.Start(t)
	db := pgtest.NewDatabase(t)
	ext := apptest.WithConfig(func(c *config.Config) {
		c.NATS.URL = ns.URL()
		c.Database.URL = db
	})
	a := apptest.Start(t, ext)
	b := apptest.Start(t, ext)
	alice := a.SignUp(t, "Alice")
	// Accounts live in the shared database: Bob signs up on a, connects to b.
	bob := a.SignUp(t, "Bob")
	var got apptest.Events
	bc := b.Dial(t, bob, got.Options())
	if _, err := bc.Subscribe(ctx(t), "topic:shared", nil); err != nil {
		t.Fatal(err)
	}
	ac := a.Dial(t, alice, nil)
	apptest.Publish(t, ac, "topic:shared", 20)
	apptest.Wait(t, 10*time.Second, "events across nodes", func() bool { return len(got.Of("topic:shared")) == 20 })

	// Presence crosses nodes through the shared directory.
	var pres apptest.Events
	watcher := a.Dial(t, alice, pres.Options())
	if _, err := watcher.Subscribe(ctx(t), "presence:"+bob.ID, nil); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 10*time.Second, "bob online as seen from node a", func() bool { return lastPresence(t, &pres, "presence:"+bob.ID).Status == "online" })

	// Bob resumes on node a after losing node b's connection.
	pos := bc.Position("topic:shared")
	bc.Close()
	apptest.Publish(t, ac, "topic:shared", 5)
	var again apptest.Events
	rc := a.Dial(t, bob, again.Options())
	if _, err := rc.Subscribe(ctx(t), "topic:shared", &pos); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 10*time.Second, "resume on the other node", func() bool { return len(again.Of("topic:shared")) == 5 })
	if first := again.Of("topic:shared")[0].Seq; first != 21 {
		t.Fatalf("resumed at %d", first)
	}
}
