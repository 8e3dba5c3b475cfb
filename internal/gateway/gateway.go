// Package gateway is Parley's WebSocket adapter: it accepts connections on
// /v1/ws, authenticates them with the first frame, keeps them alive with
// heartbeats, enforces the per-connection limits, runs subscriptions with
// resume by sequence, and fans events out through bounded per-connection
// send queues. It imports the domain (auth claims, event log types, the
// protocol) but no other adapter: the bus, the stores and the directory reach
// it through the small interfaces declared here, wired by the app package.
package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/metrics"
	"github.com/parleyhq/parley/internal/protocol"
)

// Verifier checks access tokens.
type Verifier interface {
	Verify(token string) (auth.Claims, error)
}

// EventReader reads the event log to replay what a subscriber missed.
type EventReader interface {
	Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]eventlog.Event, error)
	Bounds(ctx context.Context, stream core.StreamID) (first, last uint64, err error)
}

// Unsubscriber ends a bus subscription.
type Unsubscriber interface {
	Unsubscribe() error
}

// Broker delivers bus messages to this node. Messages of SubscribeEvents are
// protocol.PackBus frames of logged events; those of SubscribeEphemeral are
// plain frame payloads; those of SubscribeNode are protocol.PackPush
// messages for users connected here.
type Broker interface {
	SubscribeEvents(stream core.StreamID, fn func(msg []byte)) (Unsubscriber, error)
	SubscribeEphemeral(stream core.StreamID, fn func(msg []byte)) (Unsubscriber, error)
	SubscribeNode(node core.NodeID, fn func(msg []byte)) (Unsubscriber, error)
}

// Directory is told when a user's connections come and go and when a
// connection goes idle, to keep the session directory and presence current.
// Calls for one connection are made in order.
type Directory interface {
	Connected(user core.UserID, conn core.ConnID)
	Disconnected(user core.UserID, conn core.ConnID)
	SetAway(user core.UserID, conn core.ConnID, away bool)
}

// Caller describes who sent a request.
type Caller struct {
	User    core.UserID
	Session core.SessionID
	Conn    core.ConnID
	Node    core.NodeID
}

// Handler serves one protocol method. Its result is marshalled as the
// response's result; its error is answered with the error's stable code.
type Handler func(ctx context.Context, c Caller, params json.RawMessage) (any, error)

// Kind describes one kind of stream ("room", "channel", "user", ...).
type Kind struct {
	// Authorize reports whether user may subscribe to stream (nil error), or
	// why not (errs.Forbidden, errs.NotFound).
	Authorize func(ctx context.Context, user core.UserID, stream core.StreamID) error
	// Snapshot, if set, returns a frame sent to a new subscriber right after
	// it subscribes (for example the current presence of a user).
	Snapshot func(ctx context.Context, user core.UserID, stream core.StreamID) (*protocol.Frame, error)
	// Ephemeral kinds are never logged: no sequences, no resume.
	Ephemeral bool
	// Subscribed, if set, is told when a connection's subscription to a
	// stream of this kind starts (subscribe, or a resume after a
	// reconnection), and Unsubscribed when it ends (unsubscribe, the
	// connection closed, or EndSubscriptions). They must not block. For
	// one connection and stream the last call made is always the right
	// one: when a connection closes while it subscribes, Unsubscribed may
	// come twice (once possibly before Subscribed), so it must be
	// idempotent. A domain uses them to know who is watching (a room's
	// participants).
	Subscribed   func(user core.UserID, conn core.ConnID, stream core.StreamID)
	Unsubscribed func(user core.UserID, conn core.ConnID, stream core.StreamID)
	// Revokes, if set, is called with the payload of every logged event a
	// hub of this kind delivers or replays, and returns the users whose
	// access the event ends (a member removed from a private channel). Each
	// of them receives the event itself, then an unsubscribed frame, and
	// nothing after it: the check runs in the stream's delivery order, so
	// no later event can slip through. It must be fast and must not block.
	Revokes func(payload []byte) []core.UserID
}

// errRevoked ends a subscription whose access an event withdrew.
var errRevoked = errs.E(errs.Forbidden, "access to the stream ended")

// Config holds the gateway's limits; see config.GatewayConfig.
type Config struct {
	Node              core.NodeID
	MaxFrameBytes     int
	RatePerSecond     float64
	RateBurst         int
	MaxConnsPerUser   int
	AuthTimeout       time.Duration
	HeartbeatInterval time.Duration
	SendQueueFrames   int
	SendQueueBytes    int
	WriteTimeout      time.Duration
	MaxSubscriptions  int
	ResumeMaxEvents   int
	RecentEvents      int
	// AllowedOrigins lists browser origins allowed besides the server's own;
	// "*" allows any.
	AllowedOrigins []string
	// TrustProxy makes the gateway take the client address from
	// X-Forwarded-For.
	TrustProxy bool
	// Netpoll watches idle connections with epoll instead of a goroutine
	// each (Linux only; elsewhere it is ignored).
	Netpoll bool
}

// Server is the WebSocket gateway of one node. It is safe for concurrent use.
type Server struct {
	cfg       Config
	log       *slog.Logger
	verifier  Verifier
	events    EventReader
	broker    Broker
	directory Directory
	m         *metrics.Metrics

	kinds   map[string]Kind
	methods map[string]Handler

	mu       sync.Mutex
	conns    map[*conn]struct{}
	byUser   map[core.UserID][]*conn
	sessions map[core.SessionID]*conn
	hubs     map[core.StreamID]*hub
	draining bool

	poll     *poller // nil: one reading goroutine per connection
	nodeSub  Unsubscriber
	stop     chan struct{}
	stopped  sync.WaitGroup
	pingOnce *protocol.Frame
	liveConn atomic.Int64
}

// Options are the collaborators of a Server.
type Options struct {
	Config    Config
	Logger    *slog.Logger
	Verifier  Verifier
	Events    EventReader
	Broker    Broker
	Directory Directory
	Metrics   *metrics.Metrics
}

// New builds a Server. Register kinds and methods, then call Start.
func New(o Options) *Server {
	s := &Server{
		cfg:       o.Config,
		log:       o.Logger,
		verifier:  o.Verifier,
		events:    o.Events,
		broker:    o.Broker,
		directory: o.Directory,
		m:         o.Metrics,
		kinds:     map[string]Kind{},
		methods:   map[string]Handler{},
		conns:     map[*conn]struct{}{},
		byUser:    map[core.UserID][]*conn{},
		sessions:  map[core.SessionID]*conn{},
		hubs:      map[core.StreamID]*hub{},
		stop:      make(chan struct{}),
		pingOnce:  protocol.MustEncode(map[string]string{"type": protocol.TypePing}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = metrics.New()
	}
	if s.cfg.Netpoll {
		if p, err := newPoller(func(c *conn) { c.readOnce() }); err == nil {
			s.poll = p
		} else {
			s.log.Info("netpoll unavailable; one goroutine per connection", "err", err)
		}
	}
	s.methods["subscribe"] = s.subscribeMethod
	s.methods["unsubscribe"] = s.unsubscribeMethod
	s.methods["presence.set"] = s.presenceSetMethod
	return s
}

// SetDirectory sets the session directory told about connections. It must
// be called before Start.
func (s *Server) SetDirectory(d Directory) { s.directory = d }

// RegisterKind declares a stream kind. It must be called before Start.
func (s *Server) RegisterKind(name string, k Kind) { s.kinds[name] = k }

// Handle registers a protocol method. It must be called before Start.
func (s *Server) Handle(method string, h Handler) { s.methods[method] = h }

// Start subscribes to this node's push subject and starts the heartbeat
// loop.
func (s *Server) Start() error {
	sub, err := s.broker.SubscribeNode(s.cfg.Node, s.onNodePush)
	if err != nil {
		return err
	}
	s.nodeSub = sub
	s.stopped.Add(1)
	go s.heartbeatLoop()
	return nil
}

// ConnCount returns the number of authenticated connections.
func (s *Server) ConnCount() int { return int(s.liveConn.Load()) }

// ServeHTTP upgrades a request on /v1/ws to a WebSocket connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	if draining {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":{"code":"shutting_down","message":"node is draining"}}`, http.StatusServiceUnavailable)
		return
	}
	originOK := s.originAllowed(r)
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return // UpgradeHTTP answered the bad request itself
	}
	var pre []byte
	if rw != nil && rw.Reader.Buffered() > 0 {
		pre, _ = rw.Reader.Peek(rw.Reader.Buffered())
		pre = append([]byte(nil), pre...)
	}
	c := newConn(s, nc, pre)
	if !originOK {
		s.m.AuthFailures.WithLabelValues(string(errs.OriginForbidden)).Inc()
		c.closeWith(errs.E(errs.OriginForbidden, "origin %q is not allowed", r.Header.Get("Origin")))
		return
	}
	if s.poll != nil {
		go c.readOnce()
	} else {
		go c.serveBlocking()
	}
}

// originAllowed implements the Origin allowlist that prevents cross-site
// WebSocket hijacking: requests without an Origin (non-browser clients) and
// requests from the server's own origin are allowed, others only if listed.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// register adds an authenticated connection, enforcing the per-user limit
// and replacing an older connection of the same session.
func (s *Server) register(c *conn) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return errs.E(errs.ShuttingDown, "node is draining")
	}
	var replaced *conn
	if old, ok := s.sessions[c.session]; ok && old.user == c.user {
		replaced = old
	}
	n := len(s.byUser[c.user])
	if replaced != nil {
		n--
	}
	if n >= s.cfg.MaxConnsPerUser {
		s.mu.Unlock()
		return errs.E(errs.TooManyConns, "user already has %d connections on this node", s.cfg.MaxConnsPerUser)
	}
	s.conns[c] = struct{}{}
	s.byUser[c.user] = append(s.byUser[c.user], c)
	s.sessions[c.session] = c
	s.mu.Unlock()
	s.liveConn.Add(1)
	s.m.Connections.Inc()
	s.m.ConnectsTotal.Inc()
	if replaced != nil {
		replaced.closeWith(errs.E(errs.SessionReplaced, "session resumed on another connection"))
	}
	if s.directory != nil {
		s.directory.Connected(c.user, c.id)
	}
	return nil
}

// unregister removes a connection registered by register.
func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	if _, ok := s.conns[c]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.conns, c)
	list := s.byUser[c.user]
	for i, x := range list {
		if x == c {
			list[i] = list[len(list)-1]
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(s.byUser, c.user)
	} else {
		s.byUser[c.user] = list
	}
	if s.sessions[c.session] == c {
		delete(s.sessions, c.session)
	}
	s.mu.Unlock()
	s.liveConn.Add(-1)
	s.m.Connections.Dec()
	if s.directory != nil {
		s.directory.Disconnected(c.user, c.id)
	}
}

// DeliverToUser writes payload, an encoded frame, to every connection of user
// on this node and reports how many received it.
func (s *Server) DeliverToUser(user core.UserID, f *protocol.Frame) int {
	s.mu.Lock()
	list := append([]*conn(nil), s.byUser[user]...)
	s.mu.Unlock()
	for _, c := range list {
		c.send(f)
	}
	return len(list)
}

func (s *Server) onNodePush(msg []byte) {
	user, payload, ok := protocol.UnpackPush(msg)
	if !ok {
		s.log.Warn("malformed push message dropped", "bytes", len(msg))
		return
	}
	s.DeliverToUser(user, protocol.FromPayload(payload, 0))
}

// LocalConnections returns the number of connections user has on this
// node.
func (s *Server) LocalConnections(user core.UserID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byUser[user])
}

// EndSubscriptions ends the subscriptions of user's connections on this
// node to the streams match accepts, telling each client with an
// unsubscribed frame carrying err (for example when the user left a
// workspace). It returns how many subscriptions ended.
func (s *Server) EndSubscriptions(user core.UserID, match func(core.StreamID) bool, err error) int {
	s.mu.Lock()
	list := append([]*conn(nil), s.byUser[user]...)
	s.mu.Unlock()
	n := 0
	for _, c := range list {
		c.mu.Lock()
		var subs []*sub
		for stream, sb := range c.subs {
			if match(stream) {
				subs = append(subs, sb)
			}
		}
		c.mu.Unlock()
		for _, sb := range subs {
			sb.hub.mu.Lock()
			sb.ended = true
			sb.hub.mu.Unlock()
			if c.endSub(sb, err) {
				n++
			}
		}
	}
	return n
}

// DeliverLocal hands an ephemeral frame of stream to this node's subscribers
// of stream only (used by components that already run on every node, such as
// the presence view).
func (s *Server) DeliverLocal(stream core.StreamID, f *protocol.Frame) {
	s.mu.Lock()
	h := s.hubs[stream]
	s.mu.Unlock()
	if h != nil {
		h.deliverEphemeral(f)
	}
}

// RevokeSession closes every connection authenticated by the sign-in
// session sid (after logout or refresh-token reuse).
func (s *Server) RevokeSession(sid string) int {
	s.mu.Lock()
	var list []*conn
	for c := range s.conns {
		if c.authSID() == sid {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	for _, c := range list {
		c.closeWith(errs.E(errs.Revoked, "sign-in session revoked"))
	}
	return len(list)
}

// Shutdown stops accepting connections, asks every client to reconnect
// (spreading their reconnects over the drain window) and waits until they
// leave or ctx ends, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return
	}
	s.draining = true
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	window := time.Second
	if d, ok := ctx.Deadline(); ok {
		window = time.Until(d) / 2
	}
	for _, c := range list {
		jitter := time.Duration(rand.Int64N(int64(window)/int64(time.Millisecond)+1)) * time.Millisecond
		c.send(protocol.MustEncode(protocol.Reconnect{Type: protocol.TypeReconnect, Reason: "shutdown", RetryMS: jitter.Milliseconds()}))
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.liveConn.Load() > 0 {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			rest := make([]*conn, 0, len(s.conns))
			for c := range s.conns {
				rest = append(rest, c)
			}
			s.mu.Unlock()
			for _, c := range rest {
				c.closeWith(errs.E(errs.ShuttingDown, "node stopped"))
			}
			s.finish()
			return
		case <-tick.C:
		}
	}
	s.finish()
}

func (s *Server) finish() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.stopped.Wait()
	if s.nodeSub != nil {
		_ = s.nodeSub.Unsubscribe()
	}
	if s.poll != nil {
		s.poll.close()
	}
}

// Close closes every connection at once and stops the server.
func (s *Server) Close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return nc.RemoteAddr().String()
}
