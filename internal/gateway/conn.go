package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/protocol"
)

// conn is one WebSocket connection. One goroutine (serve) reads and handles
// its frames in order; a writer goroutine exists only while frames are
// queued, so an idle connection costs one parked goroutine and this struct.
type conn struct {
	srv *Server
	nc  net.Conn
	pre []byte // bytes the HTTP server read past the upgrade request
	id  core.ConnID

	// Set once by authenticate, read-only afterwards.
	user    core.UserID
	session core.SessionID

	expires  atomic.Int64 // access token expiry, unix nanoseconds
	lastRecv atomic.Int64 // last frame received, unix nanoseconds
	lastPing atomic.Int64

	// Token bucket, used by the reading goroutine only.
	tokens float64
	tokAt  int64

	hdr [ws.MaxHeaderSize]byte

	wmu     sync.Mutex
	queue   []*protocol.Frame
	queued  int
	writing bool
	closed  bool
	space   chan struct{} // closed by the writer when it takes a batch
	ioMu    sync.Mutex    // serialises writes to nc

	mu         sync.Mutex
	subs       map[core.StreamID]*sub
	sid        string
	away       bool
	registered bool
	dead       bool // cleanup ran: no new subscription or registration may stick

	// Used by the reading goroutines only (one at a time).
	authed bool

	// Netpoll registration. pollMu orders re-arming against closing, so a
	// re-arm can never touch a descriptor that was closed and reused.
	pollMu     sync.Mutex
	polled     bool
	sockClosed bool
	fd         int32
	gen        uint32

	closeOnce sync.Once
}

func newConn(s *Server, nc net.Conn, pre []byte) *conn {
	c := &conn{srv: s, nc: nc, pre: pre, id: core.ConnID(core.NewID("c"))}
	now := time.Now().UnixNano()
	c.lastRecv.Store(now)
	c.lastPing.Store(now)
	c.tokens = float64(s.cfg.RateBurst)
	c.tokAt = now
	return c
}

// logger returns a logger enriched with the connection's identity. It is
// built on demand so an idle connection holds none.
func (c *conn) logger() *slog.Logger {
	return c.srv.log.With("conn", string(c.id), "user", string(c.user), "remote", remoteIP(c.nc))
}

func (c *conn) authSID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

// Read implements io.Reader over the bytes buffered before the upgrade, then
// the socket.
func (c *conn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	return c.nc.Read(p)
}

// serveBlocking runs the connection on its own goroutine until it ends
// (used where netpoll is unavailable or turned off).
func (c *conn) serveBlocking() {
	for {
		if !c.authed {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.AuthTimeout))
		}
		msg, err := c.readMessage()
		if err != nil {
			c.fail(c.readError(err))
			return
		}
		if msg == nil {
			continue
		}
		if err := c.handleMessage(msg); err != nil {
			c.fail(err)
			return
		}
	}
}

// readOnce reads and handles one message, then hands the idle socket to the
// poller, which calls readOnce again when the next bytes arrive. Between
// messages the connection holds no goroutine.
func (c *conn) readOnce() {
	// The previous reader re-armed the socket while holding pollMu, and the
	// kernel only then let the poller start this one. Taking the lock makes
	// that order visible to Go: everything the previous reader wrote (the
	// token bucket, authed) happens before this reader runs.
	c.pollMu.Lock()
	c.pollMu.Unlock()
	timeout := c.srv.cfg.HeartbeatInterval
	if !c.authed {
		timeout = c.srv.cfg.AuthTimeout
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	msg, err := c.readMessage()
	if err != nil {
		c.fail(c.readError(err))
		return
	}
	if msg != nil {
		if err := c.handleMessage(msg); err != nil {
			c.fail(err)
			return
		}
	}
	if len(c.pre) > 0 {
		// Bytes read before the upgrade are not seen by the poller.
		go c.readOnce()
		return
	}
	c.pollMu.Lock()
	if c.sockClosed {
		c.pollMu.Unlock()
		return
	}
	if c.polled {
		err = c.srv.poll.rearm(c)
	} else {
		err = c.srv.poll.add(c)
		c.polled = err == nil
	}
	c.pollMu.Unlock()
	if err != nil {
		c.logger().Warn("netpoll registration failed", "err", err)
		c.closeSilently()
	}
}

// readError turns a read timeout into the violation it stands for.
func (c *conn) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		if !c.authed {
			c.srv.m.AuthFailures.WithLabelValues(string(errs.AuthTimeout)).Inc()
			return errs.E(errs.AuthTimeout, "no auth frame within %s", c.srv.cfg.AuthTimeout)
		}
		return errs.E(errs.HeartbeatTimeout, "a frame was not completed within %s", c.srv.cfg.HeartbeatInterval)
	}
	return err
}

// handleMessage handles one complete client message.
func (c *conn) handleMessage(msg []byte) error {
	c.lastRecv.Store(time.Now().UnixNano())
	c.srv.m.FramesIn.Inc()
	f, err := protocol.Decode(msg)
	putBuf(msg)
	if err != nil {
		return err
	}
	if !c.authed {
		if err := c.authenticate(&f); err != nil {
			return err
		}
		c.authed = true
		return nil
	}
	if f.Type != protocol.TypePong && !c.allow() {
		return errs.RateLimit(time.Duration(float64(time.Second)/c.srv.cfg.RatePerSecond),
			"more than %g frames per second", c.srv.cfg.RatePerSecond)
	}
	return c.handle(&f)
}

// fail ends the connection: a protocol violation gets an error frame and a
// close frame with its code; an I/O error just closes the socket.
func (c *conn) fail(err error) {
	var e *errs.Error
	if errors.As(err, &e) {
		c.closeWith(err)
		return
	}
	c.closeSilently()
}

// allow takes one token from the connection's bucket.
func (c *conn) allow() bool {
	now := time.Now().UnixNano()
	cfg := &c.srv.cfg
	c.tokens += float64(now-c.tokAt) / 1e9 * cfg.RatePerSecond
	c.tokAt = now
	if c.tokens > float64(cfg.RateBurst) {
		c.tokens = float64(cfg.RateBurst)
	}
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func (c *conn) authenticate(f *protocol.ClientFrame) error {
	cfg := &c.srv.cfg
	_ = c.nc.SetReadDeadline(time.Time{})
	if f.Type != protocol.TypeAuth {
		c.srv.m.AuthFailures.WithLabelValues(string(errs.Unauthenticated)).Inc()
		return errs.E(errs.Unauthenticated, "the first frame must be auth")
	}
	claims, err := c.srv.verifier.Verify(f.Token)
	if err != nil {
		c.srv.m.AuthFailures.WithLabelValues(string(errs.CodeOf(err))).Inc()
		return err
	}
	c.user = claims.UserID
	c.sid = claims.SessionID
	c.expires.Store(claims.ExpiresAt.UnixNano())
	resumed := f.Session != ""
	if resumed {
		c.session = f.Session
	} else {
		c.session = core.SessionID(core.NewID("s"))
	}
	if err := c.srv.register(c); err != nil {
		return err
	}
	c.mu.Lock()
	c.registered = true
	dead := c.dead
	c.mu.Unlock()
	if dead {
		// The connection ended while it was being registered.
		c.srv.unregister(c)
		return io.EOF
	}
	c.send(protocol.MustEncode(protocol.Hello{
		Type:        protocol.TypeHello,
		V:           protocol.Version,
		Session:     c.session,
		Resumed:     resumed,
		User:        c.user,
		Node:        cfg.Node,
		HeartbeatMS: cfg.HeartbeatInterval.Milliseconds(),
		ExpiresAt:   claims.ExpiresAt.UTC(),
		Limits: protocol.Limits{
			MaxFrameBytes:    cfg.MaxFrameBytes,
			RatePerSecond:    cfg.RatePerSecond,
			RateBurst:        cfg.RateBurst,
			MaxSubscriptions: cfg.MaxSubscriptions,
			MaxConnsPerUser:  cfg.MaxConnsPerUser,
		},
	}))
	for stream, seq := range f.Resume {
		after := seq
		if _, err := c.subscribe(context.Background(), stream, &after); err != nil {
			c.send(protocol.MustEncode(protocol.Unsubscribed{Type: protocol.TypeUnsubscribed, Stream: stream, Error: protocol.ErrorOf(err)}))
		}
	}
	return nil
}

func (c *conn) handle(f *protocol.ClientFrame) error {
	switch f.Type {
	case protocol.TypePong:
		return nil
	case protocol.TypePing:
		c.send(pongFrame)
		return nil
	case protocol.TypeAuth:
		return errs.E(errs.BadFrame, "already authenticated")
	case protocol.TypeRefresh:
		c.refresh(f)
		return nil
	case protocol.TypeRequest:
		c.request(f)
		return nil
	}
	return errs.E(errs.BadFrame, "unexpected frame")
}

var pongFrame = protocol.MustEncode(map[string]string{"type": protocol.TypePong})

// refresh replaces the connection's access token with a newer one of the
// same user, extending its life.
func (c *conn) refresh(f *protocol.ClientFrame) {
	claims, err := c.srv.verifier.Verify(f.Token)
	if err == nil && claims.UserID != c.user {
		err = errs.E(errs.Forbidden, "a refresh token must belong to the connected user")
	}
	if err != nil {
		c.srv.m.AuthFailures.WithLabelValues(string(errs.CodeOf(err))).Inc()
		c.respond(f.ID, nil, err)
		return
	}
	c.mu.Lock()
	c.sid = claims.SessionID
	c.mu.Unlock()
	c.expires.Store(claims.ExpiresAt.UnixNano())
	c.respond(f.ID, map[string]any{"expires_at": claims.ExpiresAt.UTC()}, nil)
}

type connKey struct{}

func connFrom(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

func (c *conn) request(f *protocol.ClientFrame) {
	h, ok := c.srv.methods[f.Method]
	if !ok {
		c.srv.m.Requests.WithLabelValues("unknown", string(errs.UnknownMethod)).Inc()
		c.respond(f.ID, nil, errs.E(errs.UnknownMethod, "unknown method %q", f.Method))
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), connKey{}, c), 30*time.Second)
	defer cancel()
	start := time.Now()
	res, err := h(ctx, Caller{User: c.user, Session: c.session, Conn: c.id, Node: c.srv.cfg.Node}, f.Params)
	c.srv.m.RequestSeconds.WithLabelValues(f.Method).Observe(time.Since(start).Seconds())
	c.srv.m.Requests.WithLabelValues(f.Method, string(errs.CodeOf(err))).Inc()
	if err != nil && errs.CodeOf(err) == errs.Internal {
		c.logger().Error("request failed", "method", f.Method, "err", err)
	}
	c.respond(f.ID, res, err)
}

func (c *conn) respond(id uint64, res any, err error) {
	r := protocol.Response{Type: protocol.TypeResponse, ID: id}
	if err != nil {
		r.Error = protocol.ErrorOf(err)
	} else {
		if res == nil {
			res = struct{}{}
		}
		r.Result = res
	}
	fr, encErr := protocol.Encode(r)
	if encErr != nil {
		c.logger().Error("encode response", "err", encErr)
		fr = protocol.MustEncode(protocol.Response{Type: protocol.TypeResponse, ID: id, Error: protocol.ErrorOf(encErr)})
	}
	c.send(fr)
}

// send queues f for writing without blocking. If the queue is over its
// limits the connection is closed as a slow consumer and send returns false;
// the client can reconnect and resume.
func (c *conn) send(f *protocol.Frame) bool {
	cfg := &c.srv.cfg
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return false
	}
	// A frame larger than the byte bound still passes alone through an
	// empty queue.
	if len(c.queue) >= cfg.SendQueueFrames || c.queued > 0 && c.queued+f.Len() > cfg.SendQueueBytes {
		c.wmu.Unlock()
		c.srv.m.SendQueueDrops.Inc()
		c.closeWith(errs.E(errs.SlowConsumer, "send queue full (%d frames, %d bytes)", cfg.SendQueueFrames, cfg.SendQueueBytes))
		return false
	}
	c.queue = append(c.queue, f)
	c.queued += f.Len()
	start := !c.writing
	c.writing = true
	c.wmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return true
}

// sendWait queues f, first waiting while the queue is more than half full.
// It is used to replay history, which must not trip the slow-consumer limit.
func (c *conn) sendWait(ctx context.Context, f *protocol.Frame) bool {
	cfg := &c.srv.cfg
	for {
		c.wmu.Lock()
		if c.closed {
			c.wmu.Unlock()
			return false
		}
		if len(c.queue) < cfg.SendQueueFrames/2 && c.queued+f.Len() <= cfg.SendQueueBytes/2 || len(c.queue) == 0 {
			c.wmu.Unlock()
			return c.send(f)
		}
		if c.space == nil {
			c.space = make(chan struct{})
		}
		ch := c.space
		c.wmu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *conn) writeLoop() {
	var batch []*protocol.Frame
	for {
		c.wmu.Lock()
		if c.closed || len(c.queue) == 0 {
			c.writing = false
			if cap(c.queue) > 16 {
				c.queue = nil // do not pin a burst's array on an idle connection
			}
			c.wmu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.queued = 0
		if c.space != nil {
			close(c.space)
			c.space = nil
		}
		c.wmu.Unlock()

		bufs := make(net.Buffers, len(batch))
		n := 0
		for i, f := range batch {
			bufs[i] = f.Bytes()
			n += f.Len()
		}
		c.ioMu.Lock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
		_, err := bufs.WriteTo(c.nc)
		c.ioMu.Unlock()
		c.srv.m.FramesOut.Add(float64(len(batch)))
		c.srv.m.BytesOut.Add(float64(n))
		clear(batch)
		if err != nil {
			c.wmu.Lock()
			c.writing = false
			c.wmu.Unlock()
			c.closeSilently()
			return
		}
	}
}

// closeWith sends an error frame for err, then a close frame with err's close
// code, and closes the socket. It never blocks the caller: the final writes
// and the cleanup happen on their own goroutine. Only the first close of a
// connection counts.
func (c *conn) closeWith(err error) {
	c.closeOnce.Do(func() {
		code, msg := errs.Public(err)
		c.srv.m.Closes.WithLabelValues(string(code)).Inc()
		c.stopWriting()
		ef := protocol.MustEncode(protocol.ErrorFrame{Type: protocol.TypeError, ErrorBody: protocol.ErrorBody{
			Code: code, Message: msg, RetryAfterMS: errs.RetryAfterOf(err).Milliseconds()}})
		go c.finish(net.Buffers{ef.Bytes(), closeFrame(errs.CloseCode(code), string(code))})
	})
}

// closeSilently closes the socket without a final frame (the peer is gone).
func (c *conn) closeSilently() {
	c.closeOnce.Do(func() {
		c.stopWriting()
		go c.finish(nil)
	})
}

// finish writes the final frames, if any, closes the socket and cleans up.
// It runs once per connection.
func (c *conn) finish(final net.Buffers) {
	if final != nil {
		c.ioMu.Lock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = final.WriteTo(c.nc)
		c.ioMu.Unlock()
	}
	c.pollMu.Lock()
	c.sockClosed = true
	if c.polled {
		c.srv.poll.remove(c)
	}
	_ = c.nc.Close()
	c.pollMu.Unlock()
	c.cleanup()
}

func (c *conn) stopWriting() {
	c.wmu.Lock()
	c.closed = true
	c.queue = nil
	c.queued = 0
	if c.space != nil {
		close(c.space)
		c.space = nil
	}
	c.wmu.Unlock()
}

// closeFrame builds a WebSocket close frame with code and reason.
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	b := make([]byte, 4, 4+len(reason))
	b[0] = 0x88
	b[1] = byte(2 + len(reason))
	binary.BigEndian.PutUint16(b[2:], uint16(code))
	return append(b, reason...)
}

// cleanup ends every subscription and removes the connection from the
// server. It runs once, from finish; a subscription or registration racing
// with it sees dead and undoes itself.
func (c *conn) cleanup() {
	c.mu.Lock()
	c.dead = true
	subs := c.subs
	c.subs = nil
	registered := c.registered
	c.mu.Unlock()
	for _, sb := range subs {
		sb.hub.leave(sb)
	}
	if registered {
		c.srv.unregister(c)
	}
}

// Message reading.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) > 64<<10 {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}

// readMessage reads one data message (reassembling fragments), answering
// control frames on the way. Client frames must be masked. A message larger
// than MaxFrameBytes is an errs.FrameTooLarge violation.
func (c *conn) readMessage() ([]byte, error) {
	max := int64(c.srv.cfg.MaxFrameBytes)
	var msg []byte
	started := false
	for {
		h, err := ws.ReadHeaderBuffer(c, c.hdr[:2:len(c.hdr)])
		if err != nil {
			if msg != nil {
				putBuf(msg)
			}
			if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
				return nil, errs.E(errs.BadFrame, "bad WebSocket frame header")
			}
			return nil, err
		}
		if !h.Masked || h.Rsv != 0 {
			return nil, errs.E(errs.BadFrame, "client frames must be masked and use no extensions")
		}
		if h.OpCode.IsControl() {
			if h.Length > 125 || !h.Fin {
				return nil, errs.E(errs.BadFrame, "bad control frame")
			}
			var p [125]byte
			if _, err := io.ReadFull(c, p[:h.Length]); err != nil {
				return nil, err
			}
			ws.Cipher(p[:h.Length], h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				c.lastRecv.Store(time.Now().UnixNano())
				pong := make([]byte, 0, 2+h.Length)
				pong = append(pong, 0x8A, byte(h.Length))
				pong = append(pong, p[:h.Length]...)
				c.sendRaw(pong)
			case ws.OpPong:
				c.lastRecv.Store(time.Now().UnixNano())
			case ws.OpClose:
				return nil, io.EOF
			}
			if !started {
				return nil, nil // nothing more may be buffered: let the caller wait
			}
			continue
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if started {
				return nil, errs.E(errs.BadFrame, "new message before the last one finished")
			}
			started = true
		case ws.OpContinuation:
			if !started {
				return nil, errs.E(errs.BadFrame, "continuation without a message")
			}
		default:
			return nil, errs.E(errs.BadFrame, "reserved opcode")
		}
		if int64(len(msg))+h.Length > max {
			if msg != nil {
				putBuf(msg)
			}
			return nil, errs.E(errs.FrameTooLarge, "frame larger than %d bytes", max)
		}
		if msg == nil {
			msg = getBuf()
		}
		off := len(msg)
		need := off + int(h.Length)
		if cap(msg) < need {
			grown := make([]byte, off, need)
			copy(grown, msg)
			putBuf(msg)
			msg = grown
		}
		msg = msg[:need]
		if _, err := io.ReadFull(c, msg[off:]); err != nil {
			putBuf(msg)
			return nil, err
		}
		ws.Cipher(msg[off:], h.Mask, 0)
		if h.Fin {
			return msg, nil
		}
	}
}

// sendRaw queues an already framed control frame.
func (c *conn) sendRaw(b []byte) {
	c.send(protocol.RawFrame(b))
}
