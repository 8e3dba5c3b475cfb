package bus

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/testutil/natstest"
)

// env is one bus under test and what it runs on.
type env struct {
	name string
	b    *Bus
	srv  *natstest.Server // nil for the embedded server
}

// backends runs fn once against the embedded in-process server and once
// against a separate nats-server process, so that every behaviour is
// checked on both deployments. The two runs are independent and run in
// parallel.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		b := openBus(t, Config{StoreDir: t.TempDir(), Name: "test-embedded"})
		fn(t, &env{name: "embedded", b: b})
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		srv := natstest.Start(t)
		b := openBus(t, Config{URL: srv.URL(), Name: "test-external"})
		fn(t, &env{name: "external", b: b, srv: srv})
	})
}

// openBus opens a bus that is closed when the test ends, logging to the
// test's log while the test runs.
func openBus(t testing.TB, cfg Config) *Bus {
	t.Helper()
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// client opens a second, independent connection to the same server: the
// view of another Parley node (or of a worker process that may crash).
func (e *env) client(t *testing.T) *Bus {
	t.Helper()
	if e.srv != nil {
		return openBus(t, Config{URL: e.srv.URL(), Name: "test-client"})
	}
	nc, err := nats.Connect("", nats.InProcessServer(e.b.srv), nats.Name("test-client"))
	if err != nil {
		t.Fatalf("connect in-process: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	b := &Bus{nc: nc, js: js, log: testLogger(t), closed: make(chan struct{}), stoppers: map[uint64]func(){}}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// crash drops b's connection at once, without draining: pending acks and
// replies are lost, as when a process dies.
func crash(b *Bus) { b.nc.Close() }

// testLogger writes to t.Log until the test's cleanups run; log lines from
// goroutines that outlive the test are dropped instead of panicking.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receive waits up to d for a value on ch.
func receive[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		var zero T
		return zero
	}
}

// quiet checks that nothing arrives on ch for d.
func quiet[T any](t testing.TB, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	case <-time.After(d):
	}
}

func wantCode(t testing.TB, err error, code errs.Code) {
	t.Helper()
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
