// Package app wires Parley together: it opens the stores, the bus, the event
// log, auth, presence, the actor host and the gateway, registers the stream
// kinds and protocol methods of each domain, and serves HTTP. Main is the one
// place that knows every adapter; cmd/parley only parses the command line,
// and tests drive a whole node through Main on port 0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/metrics"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/presence"
	"github.com/parleyhq/parley/internal/sqlite"
)

// Main is one Parley node. Set the exported fields, call Run, and Close (or
// Shutdown, then Close) when done.
type Main struct {
	Config config.Config
	Logger *slog.Logger
	// Sender, if set, replaces the configured one-time-code sender (tests
	// read codes from it).
	Sender auth.Sender
	// Clock, if set, replaces the system clock.
	Clock core.Clock
	// Version is reported by /healthz.
	Version string

	node    core.NodeID
	url     string
	metrics *metrics.Metrics

	closers []func() error // run in reverse order by Close

	sqlEvents *sqlite.DB
	sqlApp    *sqlite.DB
	pg        *postgres.DB
	store     eventlog.Store
	log       *eventlog.Log
	bus       *bus.Bus
	auth      *auth.Service
	dir       *presence.Directory
	host      *actor.Host
	pub       *publisher
	gw        *gateway.Server
	push      *pusher
	httpSrv   *http.Server

	presenceRule PresenceRule
	verifiers    []prefixVerifier // token verifiers of domains (see verify.go)
	chat         *chatNode        // the chat domain's wiring (see chat.go)
	media        mediaApp
	listener     net.Listener

	rooms *roomsApp // the rooms domain's wiring (rooms.go); nil when disabled

	stopProbes chan struct{}
	probes     sync.WaitGroup
	closeOnce  sync.Once
	shutOnce   sync.Once
}

// Run starts the node and returns once it accepts connections. On error,
// whatever was started is closed.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	cfg := &m.Config
	if err := cfg.Validate(); err != nil {
		return err
	}
	if m.Logger == nil {
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if m.Clock == nil {
		m.Clock = core.SystemClock{}
	}
	m.node = core.NodeID(cfg.Node.ID)
	if m.node == "" {
		m.node = core.NodeID(core.NewID("n"))
	}
	m.Logger = m.Logger.With("node", string(m.node))
	m.metrics = metrics.New()
	m.stopProbes = make(chan struct{})
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	if err := m.openStores(ctx); err != nil {
		return err
	}
	m.log = eventlog.NewLog(m.store, eventlog.Options{
		MaxBatch:  cfg.EventLog.MaxBatch,
		QueueSize: cfg.EventLog.QueueSize,
		Clock:     m.Clock,
		OnCommit: func(reqs, events int, took time.Duration, err error) {
			m.metrics.AppendSeconds.Observe(took.Seconds())
			m.metrics.AppendBatch.Observe(float64(reqs))
			m.metrics.AppendedEvents.Add(float64(events))
		},
	})
	m.closers = append(m.closers, m.log.Close)

	m.bus, err = bus.Open(ctx, bus.Config{
		URL:      cfg.NATS.URL,
		StoreDir: filepath.Join(cfg.DataDir, "nats"),
		Name:     string(m.node),
		Logger:   m.Logger.With("component", "bus"),
	})
	if err != nil {
		return err
	}
	m.closers = append(m.closers, m.bus.Close)

	if err := m.startAuth(ctx); err != nil {
		return err
	}
	if err := m.startGateway(ctx); err != nil {
		return err
	}
	if err := m.listen(); err != nil {
		return err
	}
	m.probes.Add(1)
	go m.probeBus()
	return nil
}

func (m *Main) openStores(ctx context.Context) error {
	cfg := &m.Config
	if cfg.Database.URL != "" {
		db, err := postgres.Open(ctx, cfg.Database.URL, cfg.Database.MaxConns)
		if err != nil {
			return err
		}
		m.pg = db
		m.closers = append(m.closers, db.Close)
		m.store = postgres.NewEventLog(db)
		return nil
	}
	evdb, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.EventLogFile), "eventlog")
	if err != nil {
		return err
	}
	m.sqlEvents = evdb
	m.closers = append(m.closers, evdb.Close)
	st, err := sqlite.NewEventLog(ctx, evdb)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, st.Close)
	m.store = st
	appdb, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.AppFile), "app")
	if err != nil {
		return err
	}
	m.sqlApp = appdb
	m.closers = append(m.closers, appdb.Close)
	return nil
}

func (m *Main) startAuth(ctx context.Context) error {
	var store auth.Store
	if m.pg != nil {
		store = postgres.NewAuthStore(m.pg)
	} else {
		store = sqlite.NewAuthStore(m.sqlApp)
	}
	sender := m.Sender
	if sender == nil {
		var err error
		sender, err = auth.NewSender(m.Config.Auth, m.Logger.With("component", "sender"))
		if err != nil {
			return err
		}
	}
	svc, err := auth.New(ctx, m.Config.Auth, store, sender, m.Clock, m.Logger.With("component", "auth"))
	if err != nil {
		return err
	}
	m.auth = svc
	m.closers = append(m.closers, svc.Close)
	return nil
}

func (m *Main) startGateway(ctx context.Context) error {
	cfg := &m.Config
	presKV, err := m.bus.KV(ctx, bus.KVConfig{Name: bus.BucketPresence, Storage: bus.MemoryStorage, LimitMarkerTTL: time.Second})
	if err != nil {
		return err
	}
	seenKV, err := m.bus.KV(ctx, bus.KVConfig{Name: bus.BucketLastSeen, Storage: bus.FileStorage})
	if err != nil {
		return err
	}
	gcfg := cfg.Gateway
	m.gw = gateway.New(gateway.Options{
		Config: gateway.Config{
			Node:              m.node,
			MaxFrameBytes:     gcfg.MaxFrameBytes,
			RatePerSecond:     gcfg.RatePerSecond,
			RateBurst:         gcfg.RateBurst,
			MaxConnsPerUser:   gcfg.MaxConnsPerUser,
			AuthTimeout:       gcfg.AuthTimeout,
			HeartbeatInterval: gcfg.HeartbeatInterval,
			SendQueueFrames:   gcfg.SendQueueFrames,
			SendQueueBytes:    gcfg.SendQueueBytes,
			WriteTimeout:      gcfg.WriteTimeout,
			MaxSubscriptions:  gcfg.MaxSubscriptions,
			ResumeMaxEvents:   gcfg.ResumeMaxEvents,
			RecentEvents:      gcfg.RecentEvents,
			Netpoll:           gcfg.Netpoll,
			AllowedOrigins:    cfg.HTTP.AllowedOrigins,
			TrustProxy:        cfg.HTTP.TrustProxy,
		},
		Logger:   m.Logger.With("component", "gateway"),
		Verifier: tokenVerifier{m},
		Events:   m.log,
		Broker:   broker{m.bus},
		Metrics:  m.metrics,
	})
	m.dir = presence.New(presence.Options{
		Node:     m.node,
		KV:       directoryKV{presKV},
		LastSeen: lastSeenKV{seenKV},
		TTL:      cfg.Presence.TTL,
		Clock:    m.Clock,
		Logger:   m.Logger.With("component", "presence"),
		OnChange: m.onPresence,
	})
	m.gw.SetDirectory(m.dir)
	m.push = &pusher{node: m.node, b: m.bus, gw: m.gw, dir: m.dir}
	m.pub = &publisher{b: m.bus, push: m.push, m: m.metrics}
	hostOpts := actor.Options{
		Log:       m.log,
		Publisher: m.pub,
		Clock:     m.Clock,
		Logger:    m.Logger.With("component", "actors"),
		Node:      m.node,
	}
	if !m.bus.Embedded() {
		// Several nodes may share this bus: each stream gets one owner.
		lkv, err := m.bus.KV(ctx, bus.KVConfig{Name: bus.BucketLeases, Storage: bus.MemoryStorage, LimitMarkerTTL: time.Second})
		if err != nil {
			return err
		}
		hostOpts.Leases = leases{lkv}
		hostOpts.Forwarder = forwarder{m.bus}
		hostOpts.LeaseTTL = cfg.Cluster.LeaseTTL
		sub, err := m.bus.Handle(bus.NodeCommands(m.node), m.serveForwarded)
		if err != nil {
			return err
		}
		m.closers = append(m.closers, sub.Unsubscribe)
	}
	m.host = actor.NewHost(hostOpts)
	m.registerCore()
	if err := m.startChat(ctx); err != nil {
		return err
	}
	if err := m.startRooms(ctx); err != nil {
		return err
	}
	if err := m.startMedia(ctx); err != nil {
		return err
	}
	m.connectDomains()

	// Revocations (logout, refresh-token reuse) reach every node's token
	// check and live connections.
	revSub, err := m.bus.Subscribe(bus.AuthRevoked, func(_ string, data []byte) {
		sid := string(data)
		m.auth.MarkRevoked(sid)
		m.gw.RevokeSession(sid)
	})
	if err != nil {
		return err
	}
	m.closers = append(m.closers, revSub.Unsubscribe)
	m.auth.SetOnRevoke(func(sid string, _ core.UserID) {
		m.gw.RevokeSession(sid)
		_ = m.bus.Publish(bus.AuthRevoked, []byte(sid))
	})

	if err := m.dir.Start(ctx); err != nil {
		return err
	}
	m.closers = append(m.closers, func() error { m.dir.Close(); return nil })
	m.closers = append(m.closers, func() error { m.host.Close(); return nil })
	if err := m.gw.Start(); err != nil {
		return err
	}
	m.closers = append(m.closers, func() error { m.gw.Close(); return nil })
	return nil
}

func (m *Main) listen() error {
	cfg := &m.Config
	l, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	m.listener = l
	m.url = cfg.HTTP.PublicURL
	if m.url == "" {
		m.url = "http://" + l.Addr().String()
	}
	m.httpSrv = &http.Server{
		Handler:           m.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.httpSrv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.closers = append(m.closers, func() error { return m.httpSrv.Close() })
	if cfg.HTTP.DebugAddr != "" {
		dl, err := net.Listen("tcp", cfg.HTTP.DebugAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.HTTP.DebugAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ds := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ds.Serve(dl) }()
		m.closers = append(m.closers, ds.Close)
		m.Logger.Info("pprof listening", "addr", dl.Addr().String())
	}
	return nil
}

// probeBus measures the bus round trip every few seconds.
func (m *Main) probeBus() {
	defer m.probes.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.stopProbes:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			start := time.Now()
			if err := m.bus.Ping(ctx); err == nil {
				m.metrics.BusRTTSeconds.Observe(time.Since(start).Seconds())
			}
			cancel()
		}
	}
}

// URL is the base URL clients use.
func (m *Main) URL() string { return m.url }

// Addr is the address the HTTP server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// Node is this node's id.
func (m *Main) Node() core.NodeID { return m.node }

// Log returns the event log.
func (m *Main) Log() *eventlog.Log { return m.log }

// Metrics returns the node's collectors.
func (m *Main) Metrics() *metrics.Metrics { return m.metrics }

// Gateway returns the WebSocket gateway.
func (m *Main) Gateway() *gateway.Server { return m.gw }

// Auth returns the auth service.
func (m *Main) Auth() *auth.Service { return m.auth }

// Bus returns the node's bus connection.
func (m *Main) Bus() *bus.Bus { return m.bus }

// Presence returns the session directory.
func (m *Main) Presence() *presence.Directory { return m.dir }

// Actors returns the actor host.
func (m *Main) Actors() *actor.Host { return m.host }

// Shutdown drains the node: it stops accepting connections, asks every
// client to reconnect elsewhere and waits for them to leave, at most until
// ctx ends. Call Close afterwards.
func (m *Main) Shutdown(ctx context.Context) {
	m.shutOnce.Do(func() {
		if m.listener != nil {
			_ = m.listener.Close()
		}
		if m.gw != nil {
			m.gw.Shutdown(ctx)
		}
		if m.httpSrv != nil {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			_ = m.httpSrv.Shutdown(sctx)
			cancel()
		}
	})
}

// Close stops everything Run started, in reverse order.
func (m *Main) Close() error {
	var errsOut []error
	m.closeOnce.Do(func() {
		if m.stopProbes != nil {
			close(m.stopProbes)
			m.probes.Wait()
		}
		for i := len(m.closers) - 1; i >= 0; i-- {
			if err := m.closers[i](); err != nil {
				errsOut = append(errsOut, err)
			}
		}
	})
	return errors.Join(errsOut...)
}
