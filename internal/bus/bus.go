// Package bus is the only package that imports NATS. It starts an embedded
// NATS server (JetStream on, no TCP listener) or connects to an external one,
// and offers publish/subscribe, request/reply, key-value buckets with
// per-key TTL and work-queue streams with durable pull consumers. Subject
// names are built in subjects.go and nowhere else.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/errs"
)

// Config selects and tunes the bus.
type Config struct {
	// URL of an external NATS server or cluster; empty starts an embedded
	// server with no network listener.
	URL string
	// StoreDir holds the embedded server's JetStream files.
	StoreDir string
	// Name identifies this connection (the node id).
	Name string
	// Listen, for the embedded server only, opens a TCP listener on
	// 127.0.0.1 with a random port (used by tests that need a real socket).
	Listen bool
	Logger *slog.Logger
}

// Bus is a connection to NATS, and the embedded server when there is one.
// It is safe for concurrent use.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	srv    *server.Server
	log    *slog.Logger
	closed chan struct{}

	mu          sync.Mutex
	stoppers    map[uint64]func() // running watches and consumers, stopped by Close
	nextStop    uint64
	reconnected chan struct{} // closed and replaced at each reconnection
}

// Open starts the embedded server or connects to cfg.URL, and waits until
// JetStream answers.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	b := &Bus{log: log, closed: make(chan struct{}), stoppers: map[uint64]func(){}, reconnected: make(chan struct{})}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
		nats.PingInterval(10 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
			b.signalReconnect()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Error("nats async error", "subject", subj, "err", err)
		}),
	}
	url := cfg.URL
	if url == "" {
		if cfg.StoreDir == "" {
			return nil, errors.New("bus: embedded server needs a store dir")
		}
		sopts := &server.Options{
			ServerName: serverName(cfg.Name),
			DontListen: !cfg.Listen,
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   filepath.Clean(cfg.StoreDir),
			NoSigs:     true,
			NoLog:      true,
			// Parley's own frames are bounded by the gateway; allow room for
			// batched work-queue payloads.
			MaxPayload: 8 << 20,
		}
		srv, err := server.NewServer(sopts)
		if err != nil {
			return nil, fmt.Errorf("bus: embedded server: %w", err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(30 * time.Second) {
			srv.Shutdown()
			return nil, errors.New("bus: embedded server did not start within 30s")
		}
		b.srv = srv
		if cfg.Listen {
			url = srv.ClientURL()
		} else {
			opts = append(opts, nats.InProcessServer(srv))
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.shutdownServer()
		return nil, errs.Wrap(errs.Unavailable, err, "bus: connect to NATS")
	}
	b.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	b.js = js
	if _, err := js.AccountInfo(ctx); err != nil {
		b.Close()
		return nil, errs.Wrap(errs.Unavailable, err, "bus: JetStream is not available")
	}
	return b, nil
}

func serverName(name string) string {
	if name == "" {
		return "parley"
	}
	return name
}

// ClientURL returns the URL other processes can use to reach the embedded
// server (only when it was started with Listen), or "".
func (b *Bus) ClientURL() string {
	if b.srv == nil || b.srv.Addr() == nil {
		return ""
	}
	return b.srv.ClientURL()
}

// Embedded reports whether the bus runs its own server.
func (b *Bus) Embedded() bool { return b.srv != nil }

// Ping checks that the server answers a round trip. A ctx without a
// deadline gets flushTimeout.
func (b *Bus) Ping(ctx context.Context) error {
	if err := b.flush(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "bus: ping")
	}
	return nil
}

// flushTimeout bounds Ping and Flush when their context has no deadline
// (the client refuses to flush without one).
const flushTimeout = 10 * time.Second

func (b *Bus) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return b.nc.FlushWithContext(ctx)
}

// Close stops the watches and work-queue consumers still running (waiting
// for jobs in progress, see Queue.Consume), drains the connection and stops
// the embedded server. It is safe to call more than once.
func (b *Bus) Close() error {
	b.mu.Lock()
	select {
	case <-b.closed:
		b.mu.Unlock()
		return nil
	default:
		close(b.closed)
	}
	stoppers := make([]func(), 0, len(b.stoppers))
	for _, stop := range b.stoppers {
		stoppers = append(stoppers, stop)
	}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, stop := range stoppers {
		wg.Go(stop)
	}
	wg.Wait()
	if b.nc != nil {
		_ = b.nc.Drain()
		deadline := time.Now().Add(5 * time.Second)
		for !b.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		b.nc.Close()
	}
	b.shutdownServer()
	return nil
}

// signalReconnect wakes everything waiting on reconnectSignal.
func (b *Bus) signalReconnect() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.reconnected)
	b.reconnected = make(chan struct{})
}

// reconnectSignal returns a channel closed at the next reconnection. Pull
// requests pending on the server are lost when the connection drops; a
// fetch waiting for them re-issues its request when this fires.
func (b *Bus) reconnectSignal() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reconnected
}

// track registers stop to be called by Close and returns its id (never 0)
// for untrack. It fails once the bus is closed.
func (b *Bus) track(stop func()) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.closed:
		return 0, errs.E(errs.Unavailable, "bus: closed")
	default:
	}
	b.nextStop++
	b.stoppers[b.nextStop] = stop
	return b.nextStop, nil
}

// untrack forgets the stop function registered as id; 0 is ignored.
func (b *Bus) untrack(id uint64) {
	if id == 0 {
		return
	}
	b.mu.Lock()
	delete(b.stoppers, id)
	b.mu.Unlock()
}

func (b *Bus) shutdownServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// Subscription is an active subscription.
type Subscription struct{ s *nats.Subscription }

// Unsubscribe stops the subscription. It is safe to call more than once.
func (s *Subscription) Unsubscribe() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Unsubscribe()
	if errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
		return nil
	}
	return err
}

// Publish sends data on subject. Delivery is at most once; Parley closes
// gaps with the event log's sequence numbers.
func (b *Bus) Publish(subject string, data []byte) error {
	if err := b.nc.Publish(subject, data); err != nil {
		return errs.Wrap(errs.Unavailable, err, "bus: publish")
	}
	return nil
}

// Subscribe calls fn for each message on subject (wildcards allowed). fn is
// called from one goroutine per subscription, in the order messages arrive,
// so it must not block for long.
func (b *Bus) Subscribe(subject string, fn func(subject string, data []byte)) (*Subscription, error) {
	s, err := b.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Subject, m.Data) })
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "bus: subscribe")
	}
	// Fan-out subscriptions can burst; do not drop on the client side before
	// the gateway's own bounded queues decide.
	_ = s.SetPendingLimits(1<<20, 256<<20)
	return &Subscription{s: s}, nil
}

// QueueSubscribe is Subscribe with load balancing: each message goes to one
// member of queue.
func (b *Bus) QueueSubscribe(subject, queue string, fn func(subject string, data []byte)) (*Subscription, error) {
	s, err := b.nc.QueueSubscribe(subject, queue, func(m *nats.Msg) { fn(m.Subject, m.Data) })
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "bus: queue subscribe")
	}
	return &Subscription{s: s}, nil
}

// Request sends data on subject and waits for one reply.
func (b *Bus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	m, err := b.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, errs.Wrap(errs.Unavailable, err, "bus: no responder on "+subject)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			return nil, errs.Wrap(errs.Unavailable, err, "bus: request timed out")
		}
		return nil, errs.Wrap(errs.Unavailable, err, "bus: request")
	}
	return m.Data, nil
}

// Handle answers requests on subject with fn's reply. Each request runs in
// its own goroutine.
func (b *Bus) Handle(subject string, fn func(ctx context.Context, data []byte) []byte) (*Subscription, error) {
	s, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = m.Respond(fn(ctx, m.Data))
		}()
	})
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "bus: handle")
	}
	return &Subscription{s: s}, nil
}

// Flush waits until the server has processed everything published so far
// on this connection. A ctx without a deadline gets flushTimeout.
func (b *Bus) Flush(ctx context.Context) error {
	if err := b.flush(ctx); err != nil {
		return errs.Wrap(errs.Unavailable, err, "bus: flush")
	}
	return nil
}
