// Package client is Parley's Go client SDK. It connects to a Parley server's
// WebSocket gateway, authenticates with an access token, sends requests,
// subscribes to streams and receives their events in order, exactly once.
// When the connection drops it reconnects with full-jitter exponential
// backoff and resumes: the server replays every event the client missed,
// by sequence, before live events continue.
//
// Parley's load generator and end-to-end tests use this package; so can any
// Go program (bots, integrations, services).
package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Event is one event of a stream. Seq is 0 for ephemeral events.
type Event struct {
	Stream string          `json:"stream"`
	Seq    uint64          `json:"seq,omitempty"`
	Type   string          `json:"event"`
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Push is a frame sent to the user outside any stream.
type Push struct {
	Type string          `json:"event"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Reset says the client missed more of Stream than the server replays: the
// application must reload the stream's state; events continue after Seq.
type Reset struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// Error is an error answered by the server, with its stable code.
type Error struct {
	Code       string
	Message    string
	RetryAfter time.Duration
	// CloseCode is the WebSocket close code when the error ended the
	// connection, else 0.
	CloseCode int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrClosed is returned after Close.
var ErrClosed = errors.New("client: closed")

// ErrDisconnected is returned by requests made, or in flight, while the
// connection is down. Retry them (with an idempotency key if they change
// anything).
var ErrDisconnected = errors.New("client: disconnected")

// Options configure a Client.
type Options struct {
	// URL of the server: http(s)://host:port or ws(s)://host:port/v1/ws.
	URL string
	// Token returns a valid access token. It is called on every (re)connect
	// and before the current token expires, to refresh the live connection.
	Token func(ctx context.Context) (string, error)
	// OnEvent is called for each event, in stream order and without
	// duplicates, on the connection's reading goroutine: it must not block.
	OnEvent func(Event)
	// OnReset is called when the server resets a stream after a gap.
	OnReset func(Reset)
	// OnPush is called for each push to the user.
	OnPush func(Push)
	// OnState is called when the connection goes up or down.
	OnState func(connected bool, err error)
	// OnUnsubscribed is called when the server ends a subscription (for
	// example when access was withdrawn while the client was away).
	OnUnsubscribed func(stream string, err error)
	// Reconnect, if false, makes the client stop at the first disconnect.
	// The default (nil) is true.
	Reconnect *bool
	// BackoffMin and BackoffMax bound the reconnect backoff (default 100ms
	// and 10s); each wait is uniform in [0, min(max, min*2^attempt)].
	BackoffMin, BackoffMax time.Duration
	// LocalAddr, if set, is the local IP to connect from (the load generator
	// spreads connections over 127.0.0.x addresses).
	LocalAddr string
	// Origin, if set, is sent as the Origin header.
	Origin string
	// DialTimeout bounds connecting and authenticating (default 10s).
	DialTimeout time.Duration
	Logger      *slog.Logger
}

// Hello is what the server said when the connection was authenticated.
type Hello struct {
	V           int       `json:"v"`
	Session     string    `json:"session"`
	Resumed     bool      `json:"resumed"`
	User        string    `json:"user"`
	Node        string    `json:"node"`
	HeartbeatMS int64     `json:"heartbeat_ms"`
	ExpiresAt   time.Time `json:"expires_at"`
	Limits      struct {
		MaxFrameBytes    int     `json:"max_frame_bytes"`
		RatePerSecond    float64 `json:"rate_per_second"`
		RateBurst        int     `json:"rate_burst"`
		MaxSubscriptions int     `json:"max_subscriptions"`
		MaxConnsPerUser  int     `json:"max_conns_per_user"`
	} `json:"limits"`
}

// Stats counts what the client saw.
type Stats struct {
	Connects      int64
	Duplicates    int64 // events dropped because already delivered
	Gaps          int64 // events that arrived after a missing sequence
	Resets        int64
	EventsHandled int64
}

// Client is a connection to Parley that survives disconnects. It is safe for
// concurrent use.
type Client struct {
	opts  Options
	wsURL string
	log   *slog.Logger

	mu        sync.Mutex
	nc        net.Conn
	session   string
	hello     Hello
	positions map[string]uint64 // last delivered seq per subscribed stream
	subs      map[string]bool
	pending   map[uint64]chan response
	up        chan struct{} // closed while connected
	closed    bool
	lastErr   error

	wmu      sync.Mutex
	nextID   atomic.Uint64
	lastRecv atomic.Int64
	stats    struct{ connects, dups, gaps, resets, handled atomic.Int64 }

	done     chan struct{}
	loopDone chan struct{}
}

type response struct {
	result json.RawMessage
	err    error
}

// Dial connects, authenticates and returns once the server said hello. The
// client then keeps itself connected until Close.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Token == nil {
		return nil, errors.New("client: Options.Token is required")
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 10 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	u, err := WebSocketURL(o.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:      o,
		wsURL:     u,
		log:       o.Logger,
		positions: map[string]uint64{},
		subs:      map[string]bool{},
		pending:   map[uint64]chan response{},
		up:        make(chan struct{}),
		done:      make(chan struct{}),
		loopDone:  make(chan struct{}),
	}
	nc, r, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	go c.loop(nc, r)
	return c, nil
}

// WebSocketURL turns a server base URL into the gateway's ws(s) URL.
func WebSocketURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("client: bad URL: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("client: URL scheme must be http(s) or ws(s)")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/ws"
	}
	return u.String(), nil
}

func (c *Client) reconnectEnabled() bool { return c.opts.Reconnect == nil || *c.opts.Reconnect }

// connect dials, sends auth with the session and positions to resume, and
// reads until hello.
func (c *Client) connect(ctx context.Context) (net.Conn, *frameReader, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	token, err := c.opts.Token(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("client: token: %w", err)
	}
	d := ws.Dialer{Timeout: c.opts.DialTimeout}
	if c.opts.Origin != "" {
		d.Header = ws.HandshakeHeaderHTTP(http.Header{"Origin": {c.opts.Origin}})
	}
	if c.opts.LocalAddr != "" {
		la := &net.TCPAddr{IP: net.ParseIP(c.opts.LocalAddr)}
		nd := net.Dialer{LocalAddr: la, Timeout: c.opts.DialTimeout}
		d.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nd.DialContext(ctx, network, addr)
		}
	}
	nc, br, _, err := d.Dial(ctx, c.wsURL)
	if err != nil {
		return nil, nil, fmt.Errorf("client: dial: %w", err)
	}
	var pre []byte
	if br != nil && br.Buffered() > 0 {
		pre, _ = br.Peek(br.Buffered())
		pre = append([]byte(nil), pre...)
		ws.PutReader(br)
	}
	c.mu.Lock()
	auth := map[string]any{"type": "auth", "token": token}
	if c.session != "" {
		auth["session"] = c.session
	}
	if len(c.subs) > 0 {
		resume := make(map[string]uint64, len(c.subs))
		for s := range c.subs {
			resume[s] = c.positions[s]
		}
		auth["resume"] = resume
	}
	c.mu.Unlock()
	if err := c.writeTo(nc, auth); err != nil {
		nc.Close()
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetReadDeadline(dl)
	}
	r := newFrameReader(nc, pre)
	payload, err := r.next(nc, &c.wmu)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("client: waiting for hello: %w", err)
	}
	var env struct {
		Type string `json:"type"`
		Hello
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("client: bad hello: %w", err)
	}
	if env.Type == "error" {
		cerr := &Error{Code: env.Code, Message: env.Message}
		if _, err := r.next(nc, &c.wmu); err != nil {
			var ce *closeErr
			if errors.As(err, &ce) {
				cerr.CloseCode = ce.code
			}
		}
		nc.Close()
		return nil, nil, cerr
	}
	if env.Type != "hello" {
		nc.Close()
		return nil, nil, fmt.Errorf("client: expected hello, got %q", env.Type)
	}
	_ = nc.SetReadDeadline(time.Time{})
	c.lastRecv.Store(time.Now().UnixNano())
	c.mu.Lock()
	c.nc = nc
	c.session = env.Hello.Session
	c.hello = env.Hello
	close(c.up)
	c.mu.Unlock()
	c.stats.connects.Add(1)
	if c.opts.OnState != nil {
		c.opts.OnState(true, nil)
	}
	return nc, r, nil
}

// loop reads the current connection and reconnects when it ends.
func (c *Client) loop(nc net.Conn, r *frameReader) {
	defer close(c.loopDone)
	attempt := 0
	for {
		err := c.read(nc, r)
		c.mu.Lock()
		c.nc = nil
		c.up = make(chan struct{})
		for id, ch := range c.pending {
			ch <- response{err: ErrDisconnected}
			delete(c.pending, id)
		}
		closed := c.closed
		c.lastErr = err
		c.mu.Unlock()
		nc.Close()
		if c.opts.OnState != nil {
			c.opts.OnState(false, err)
		}
		if closed || !c.reconnectEnabled() || fatal(err) {
			return
		}
		for {
			wait := c.backoff(attempt, err)
			attempt++
			select {
			case <-c.done:
				return
			case <-time.After(wait):
			}
			var cerr error
			nc, r, cerr = c.connect(context.Background())
			if cerr == nil {
				attempt = 0
				break
			}
			c.log.Debug("reconnect failed", "attempt", attempt, "err", cerr)
			if fatal(cerr) {
				c.mu.Lock()
				c.lastErr = cerr
				c.mu.Unlock()
				if c.opts.OnState != nil {
					c.opts.OnState(false, cerr)
				}
				return
			}
			err = cerr
		}
	}
}

// backoff returns a full-jitter wait: uniform in [0, min(max, min*2^n)], or
// the server's retry hint when it gave one.
func (c *Client) backoff(n int, err error) time.Duration {
	var rc *reconnectErr
	if errors.As(err, &rc) {
		return rc.after
	}
	ceil := c.opts.BackoffMin << min(n, 20)
	if ceil > c.opts.BackoffMax || ceil <= 0 {
		ceil = c.opts.BackoffMax
	}
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > ceil {
		return e.RetryAfter
	}
	return time.Duration(mrand.Int64N(int64(ceil) + 1))
}

// fatal reports errors after which reconnecting cannot help.
func fatal(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case "unauthenticated", "token_invalid", "token_reused", "revoked", "origin_forbidden",
		"forbidden", "session_replaced", "bad_frame", "frame_too_large":
		return true
	}
	return false
}

type reconnectErr struct{ after time.Duration }

func (e *reconnectErr) Error() string { return "server asked to reconnect" }

type closeErr struct {
	code   int
	reason string
}

func (e *closeErr) Error() string { return fmt.Sprintf("closed by server: %d %s", e.code, e.reason) }

// read handles frames until the connection fails.
func (c *Client) read(nc net.Conn, r *frameReader) error {
	watchdogs.add(c, nc)
	defer watchdogs.remove(c)
	var pendingErr *Error
	for {
		payload, err := r.next(nc, &c.wmu)
		if err != nil {
			var ce *closeErr
			if pendingErr != nil && errors.As(err, &ce) {
				pendingErr.CloseCode = ce.code
				return pendingErr
			}
			if pendingErr != nil {
				return pendingErr
			}
			return err
		}
		c.lastRecv.Store(time.Now().UnixNano())
		var f struct {
			Type   string          `json:"type"`
			ID     uint64          `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code         string `json:"code"`
				Message      string `json:"message"`
				RetryAfterMS int64  `json:"retry_after_ms"`
			} `json:"error"`
			Stream  string          `json:"stream"`
			Seq     uint64          `json:"seq"`
			Event   string          `json:"event"`
			Time    time.Time       `json:"time"`
			Actor   string          `json:"actor"`
			Data    json.RawMessage `json:"data"`
			Reason  string          `json:"reason"`
			RetryMS int64           `json:"retry_ms"`
			Code    string          `json:"code"`
			Message string          `json:"message"`
			RAMS    int64           `json:"retry_after_ms"`
		}
		if err := json.Unmarshal(payload, &f); err != nil {
			return fmt.Errorf("client: bad frame from server: %w", err)
		}
		switch f.Type {
		case "event":
			c.onEvent(Event{Stream: f.Stream, Seq: f.Seq, Type: f.Event, Time: f.Time, Actor: f.Actor, Data: f.Data})
		case "res":
			var rerr error
			if f.Error != nil {
				rerr = &Error{Code: f.Error.Code, Message: f.Error.Message, RetryAfter: time.Duration(f.Error.RetryAfterMS) * time.Millisecond}
			}
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- response{result: f.Result, err: rerr}
			}
		case "ping":
			_ = c.write(map[string]string{"type": "pong"})
		case "pong":
		case "reset":
			c.stats.resets.Add(1)
			c.mu.Lock()
			if c.subs[f.Stream] {
				c.positions[f.Stream] = f.Seq
			}
			c.mu.Unlock()
			if c.opts.OnReset != nil {
				c.opts.OnReset(Reset{Stream: f.Stream, Seq: f.Seq, Reason: f.Reason})
			}
		case "push":
			if c.opts.OnPush != nil {
				c.opts.OnPush(Push{Type: f.Event, Time: f.Time, Data: f.Data})
			}
		case "unsubscribed":
			c.mu.Lock()
			delete(c.subs, f.Stream)
			delete(c.positions, f.Stream)
			c.mu.Unlock()
			if c.opts.OnUnsubscribed != nil {
				var uerr error
				if f.Error != nil {
					uerr = &Error{Code: f.Error.Code, Message: f.Error.Message}
				}
				c.opts.OnUnsubscribed(f.Stream, uerr)
			}
		case "reconnect":
			return &reconnectErr{after: time.Duration(f.RetryMS) * time.Millisecond}
		case "error":
			pendingErr = &Error{Code: f.Code, Message: f.Message, RetryAfter: time.Duration(f.RAMS) * time.Millisecond}
		}
	}
}

func (c *Client) onEvent(e Event) {
	if e.Seq != 0 {
		c.mu.Lock()
		pos, subscribed := c.positions[e.Stream]
		if e.Seq <= pos {
			c.mu.Unlock()
			c.stats.dups.Add(1)
			return
		}
		if subscribed && pos != 0 && e.Seq != pos+1 {
			c.stats.gaps.Add(1)
		}
		c.positions[e.Stream] = e.Seq
		c.mu.Unlock()
	}
	c.stats.handled.Add(1)
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(e)
	}
}

// refreshTime is 80% into the remaining lifetime of a token.
func refreshTime(expires time.Time) time.Time {
	if expires.IsZero() {
		return time.Time{}
	}
	return time.Now().Add(time.Until(expires) * 4 / 5)
}

// refresh sends a new access token for the live connection.
func (c *Client) refresh() (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := c.opts.Token(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var res struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := c.call(ctx, map[string]any{"type": "refresh", "token": tok}, &res); err != nil {
		return time.Time{}, err
	}
	return res.ExpiresAt, nil
}

// Refresh sends the current token from Options.Token to the server now and
// returns the connection's new expiry.
func (c *Client) Refresh(ctx context.Context) (time.Time, error) {
	tok, err := c.opts.Token(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var res struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	err = c.call(ctx, map[string]any{"type": "refresh", "token": tok}, &res)
	return res.ExpiresAt, err
}

// Request sends method with params and decodes the result into result (if
// not nil). Server errors are *Error values with stable codes.
func (c *Client) Request(ctx context.Context, method string, params any, result any) error {
	return c.call(ctx, map[string]any{"type": "req", "method": method, "params": params}, result)
}

func (c *Client) call(ctx context.Context, frame map[string]any, result any) error {
	id := c.nextID.Add(1)
	frame["id"] = id
	ch := make(chan response, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.nc == nil {
		c.mu.Unlock()
		return ErrDisconnected
	}
	c.pending[id] = ch
	nc := c.nc
	c.mu.Unlock()
	if err := c.writeTo(nc, frame); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ErrDisconnected
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if result != nil && len(r.result) > 0 {
			return json.Unmarshal(r.result, result)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Subscribe subscribes to stream. With after nil, events start with the next
// one; otherwise every event after *after is delivered first. The stream is
// resubscribed automatically, from the last delivered event, after a
// reconnect. It returns the position the server reported.
func (c *Client) Subscribe(ctx context.Context, stream string, after *uint64) (uint64, error) {
	c.mu.Lock()
	if after != nil {
		c.positions[stream] = *after
	}
	c.mu.Unlock()
	var res struct {
		Seq uint64 `json:"seq"`
	}
	params := map[string]any{"stream": stream}
	if after != nil {
		params["after"] = *after
	}
	if err := c.Request(ctx, "subscribe", params, &res); err != nil {
		c.mu.Lock()
		if !c.subs[stream] {
			delete(c.positions, stream)
		}
		c.mu.Unlock()
		return 0, err
	}
	c.mu.Lock()
	c.subs[stream] = true
	if res.Seq > c.positions[stream] {
		c.positions[stream] = res.Seq
	}
	c.mu.Unlock()
	return res.Seq, nil
}

// Unsubscribe ends a subscription.
func (c *Client) Unsubscribe(ctx context.Context, stream string) error {
	c.mu.Lock()
	delete(c.subs, stream)
	delete(c.positions, stream)
	c.mu.Unlock()
	return c.Request(ctx, "unsubscribe", map[string]any{"stream": stream}, nil)
}

// Position returns the last sequence delivered for stream.
func (c *Client) Position(stream string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.positions[stream]
}

// Session returns the session id the client resumes with.
func (c *Client) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// Hello returns the latest hello from the server.
func (c *Client) Hello() Hello {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hello
}

// Connected reports whether the client is connected now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc != nil
}

// WaitConnected blocks until the client is connected or ctx ends.
func (c *Client) WaitConnected(ctx context.Context) error {
	c.mu.Lock()
	up := c.up
	c.mu.Unlock()
	select {
	case <-up:
		return nil
	case <-c.loopDone:
		return c.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the client stopped for good (Close, or a fatal error,
// or a disconnect with reconnecting disabled).
func (c *Client) Done() <-chan struct{} { return c.loopDone }

// Err returns the error that ended the last connection.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Stats returns counters of what the client saw.
func (c *Client) Stats() Stats {
	return Stats{
		Connects:      c.stats.connects.Load(),
		Duplicates:    c.stats.dups.Load(),
		Gaps:          c.stats.gaps.Load(),
		Resets:        c.stats.resets.Load(),
		EventsHandled: c.stats.handled.Load(),
	}
}

// Drop closes the current connection without telling the server, as a
// network failure would; the client then reconnects and resumes. Tests use
// it.
func (c *Client) Drop() {
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}

// Close ends the client.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	nc := c.nc
	c.mu.Unlock()
	close(c.done)
	if nc != nil {
		c.wmu.Lock()
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		c.wmu.Unlock()
		nc.Close()
	}
	<-c.loopDone
	return nil
}

func (c *Client) write(v any) error {
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if nc == nil {
		return ErrDisconnected
	}
	return c.writeTo(nc, v)
}

// writeTo writes v as one masked text frame.
func (c *Client) writeTo(nc net.Conn, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.WriteRaw(nc, ws.OpText, payload)
}

// WriteRaw writes one masked frame with payload to nc, for tests that need
// to send frames the SDK would never produce. nc is the connection in use.
func (c *Client) WriteRaw(nc net.Conn, op ws.OpCode, payload []byte) error {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	buf := make([]byte, 0, ws.MaxHeaderSize+len(payload))
	h := ws.Header{Fin: true, OpCode: op, Masked: true, Mask: mask, Length: int64(len(payload))}
	var hb bytesWriter
	hb.b = buf
	if err := ws.WriteHeader(&hb, h); err != nil {
		return err
	}
	start := len(hb.b)
	hb.b = append(hb.b, payload...)
	ws.Cipher(hb.b[start:], mask, 0)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := nc.Write(hb.b)
	return err
}

// Conn returns the current network connection (nil while disconnected), for
// tests that write raw frames.
func (c *Client) Conn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

type bytesWriter struct{ b []byte }

func (w *bytesWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// frameReader reads server frames (unmasked) through a small buffer, so a
// burst of frames costs one read system call, answering pings.
type frameReader struct {
	br  *bufio.Reader
	hdr [ws.MaxHeaderSize]byte
}

// newFrameReader reads pre (bytes already received) and then src.
func newFrameReader(src io.Reader, pre []byte) *frameReader {
	if len(pre) > 0 {
		src = io.MultiReader(bytes.NewReader(pre), src)
	}
	return &frameReader{br: bufio.NewReaderSize(src, 2048)}
}

// next returns the payload of the next data message. A close frame ends
// with a *closeErr.
func (r *frameReader) next(nc net.Conn, wmu *sync.Mutex) ([]byte, error) {
	var msg []byte
	for {
		h, err := ws.ReadHeaderBuffer(r.br, r.hdr[:2:len(r.hdr)])
		if err != nil {
			return nil, err
		}
		if h.Length > 64<<20 || int64(len(msg))+h.Length > 64<<20 {
			return nil, errors.New("client: server frame too large")
		}
		if h.OpCode.IsControl() {
			var p [125]byte
			if h.Length > 125 {
				return nil, errors.New("client: bad control frame")
			}
			if _, err := io.ReadFull(r.br, p[:h.Length]); err != nil {
				return nil, err
			}
			switch h.OpCode {
			case ws.OpClose:
				ce := &closeErr{code: 1005}
				if h.Length >= 2 {
					ce.code = int(binary.BigEndian.Uint16(p[:2]))
					ce.reason = string(p[2:h.Length])
				}
				return nil, ce
			case ws.OpPing:
				f := ws.MaskFrameInPlace(ws.NewPongFrame(append([]byte(nil), p[:h.Length]...)))
				wmu.Lock()
				_ = ws.WriteFrame(nc, f)
				wmu.Unlock()
			}
			continue
		}
		off := len(msg)
		if msg == nil {
			msg = make([]byte, h.Length)
		} else {
			msg = append(msg, make([]byte, h.Length)...)
		}
		if _, err := io.ReadFull(r.br, msg[off:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(msg[off:], h.Mask, 0)
		}
		if h.Fin {
			return msg, nil
		}
	}
}

// CloseCode extracts the WebSocket close code from an error returned by the
// client, or 0.
func CloseCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.CloseCode
	}
	var ce *closeErr
	if errors.As(err, &ce) {
		return ce.code
	}
	return 0
}

// NewIdempotencyKey returns a random key for a request that must be applied
// once even if it is retried.
func NewIdempotencyKey() string {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 96))
	return strings.ToLower(n.Text(36))
}
