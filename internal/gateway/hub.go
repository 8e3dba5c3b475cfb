package gateway

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/protocol"
)

// hub is this node's fan-out point for one stream: it holds the node's one
// bus subscription for the stream (interest-based fan-out: a node receives a
// stream only while one of its connections watches it), restores order,
// fills gaps from the log, keeps the most recent frames for cheap resumes,
// and hands every event to each subscriber's send queue exactly once, in
// sequence order.
type hub struct {
	srv    *Server
	stream core.StreamID
	kind   Kind

	ready chan struct{} // closed when init finished
	err   error         // init error, read after ready

	mu      sync.Mutex
	subs    []*sub
	live    bool   // bus subscription active and last known
	last    uint64 // highest sequence delivered, all earlier ones delivered
	ring    []*protocol.Frame
	pending map[uint64]*protocol.Frame // arrived ahead of a gap
	filling bool
	refs    int // guarded by srv.mu

	evSub, ephSub Unsubscriber
}

// sub is one connection's subscription to one stream.
type sub struct {
	c     *conn
	hub   *hub
	last  uint64 // last sequence queued to the connection; guarded by hub.mu
	idx   int    // position in hub.subs; guarded by hub.mu
	left  bool   // leave ran; guarded by hub.mu
	ended bool   // access was withdrawn; nothing more is queued; guarded by hub.mu
}

// revokes reports whether the logged event f ends user's access to the
// stream (see Kind.Revokes).
func (h *hub) revokes(f *protocol.Frame, user core.UserID) bool {
	if h.kind.Revokes == nil {
		return false
	}
	return slices.Contains(h.kind.Revokes(f.Payload()), user)
}

// acquireHub returns the hub of stream, creating and starting it if needed.
// The caller must call releaseHub once for every successful acquireHub.
func (s *Server) acquireHub(ctx context.Context, stream core.StreamID, kind Kind) (*hub, error) {
	s.mu.Lock()
	h := s.hubs[stream]
	created := h == nil
	if created {
		h = &hub{srv: s, stream: stream, kind: kind, ready: make(chan struct{}), pending: map[uint64]*protocol.Frame{}}
		s.hubs[stream] = h
		s.m.Hubs.Inc()
	}
	h.refs++
	s.mu.Unlock()
	if created {
		h.err = h.init(ctx)
		close(h.ready)
	} else {
		select {
		case <-h.ready:
		case <-ctx.Done():
			s.releaseHub(h)
			return nil, ctx.Err()
		}
	}
	if h.err != nil {
		err := h.err
		s.releaseHub(h)
		return nil, err
	}
	return h, nil
}

// releaseHub drops a reference; the last one stops the hub.
func (s *Server) releaseHub(h *hub) {
	s.mu.Lock()
	h.refs--
	last := h.refs == 0
	if last && s.hubs[h.stream] == h {
		delete(s.hubs, h.stream)
		s.m.Hubs.Dec()
	}
	s.mu.Unlock()
	if last {
		if h.evSub != nil {
			_ = h.evSub.Unsubscribe()
		}
		if h.ephSub != nil {
			_ = h.ephSub.Unsubscribe()
		}
	}
}

// init subscribes to the bus before reading the log's last sequence, so that
// no event can fall between the two: anything already in the log at or below
// last is dropped when it also arrives from the bus.
func (h *hub) init(ctx context.Context) error {
	var err error
	h.ephSub, err = h.srv.broker.SubscribeEphemeral(h.stream, h.onEphemeral)
	if err != nil {
		return err
	}
	if h.kind.Ephemeral {
		h.mu.Lock()
		h.live = true
		h.mu.Unlock()
		return nil
	}
	h.evSub, err = h.srv.broker.SubscribeEvents(h.stream, h.onEvent)
	if err != nil {
		return err
	}
	_, last, err := h.srv.events.Bounds(ctx, h.stream)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "read stream bounds")
	}
	h.mu.Lock()
	h.last = last
	h.live = true
	h.drainPendingLocked()
	h.mu.Unlock()
	return nil
}

func (h *hub) onEvent(msg []byte) {
	f, ok := protocol.UnpackBus(msg)
	if !ok {
		h.srv.log.Warn("malformed event message dropped", "stream", string(h.stream))
		return
	}
	h.mu.Lock()
	h.acceptLocked(f)
	h.mu.Unlock()
}

func (h *hub) acceptLocked(f *protocol.Frame) {
	if !h.live {
		h.pending[f.Seq] = f
		return
	}
	if f.Seq <= h.last {
		return // already delivered (bus redelivery, or read from the log)
	}
	if f.Seq == h.last+1 && !h.filling {
		h.deliverLocked(f)
		h.drainPendingLocked()
		return
	}
	h.pending[f.Seq] = f
	if !h.filling {
		h.filling = true
		go h.fill()
	}
}

func (h *hub) drainPendingLocked() {
	for len(h.pending) > 0 {
		for seq := range h.pending {
			if seq <= h.last {
				delete(h.pending, seq)
			}
		}
		f, ok := h.pending[h.last+1]
		if !ok {
			return
		}
		delete(h.pending, f.Seq)
		h.deliverLocked(f)
	}
}

// fill reads the events missing between last and the earliest pending event
// from the log (the bus lost or reordered them), then delivers in order.
func (h *hub) fill() {
	h.srv.m.GapFills.Inc()
	backoff := 10 * time.Millisecond
	for {
		h.mu.Lock()
		h.drainPendingLocked()
		if len(h.pending) == 0 || h.refsGone() {
			h.filling = false
			h.mu.Unlock()
			return
		}
		after := h.last
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		evs, err := h.srv.events.Read(ctx, h.stream, after, 512)
		cancel()
		if err != nil || len(evs) == 0 {
			if err != nil {
				h.srv.log.Warn("gap fill read failed", "stream", string(h.stream), "err", err)
			}
			time.Sleep(backoff)
			if backoff < time.Second {
				backoff *= 2
			}
			continue
		}
		backoff = 10 * time.Millisecond
		h.mu.Lock()
		for i := range evs {
			if evs[i].Seq == h.last+1 {
				h.deliverLocked(protocol.EncodeEvent(&evs[i]))
			}
		}
		h.mu.Unlock()
	}
}

func (h *hub) refsGone() bool {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	return h.refs == 0
}

// deliverLocked records f as the latest event and queues it to every
// subscriber that has not had it.
func (h *hub) deliverLocked(f *protocol.Frame) {
	h.last = f.Seq
	if n := h.srv.cfg.RecentEvents; n > 0 {
		if len(h.ring) < n {
			h.ring = append(h.ring, f)
		} else {
			copy(h.ring, h.ring[1:])
			h.ring[len(h.ring)-1] = f
		}
	}
	var revoked []core.UserID
	if h.kind.Revokes != nil {
		revoked = h.kind.Revokes(f.Payload())
	}
	for _, sb := range h.subs {
		if sb.ended {
			continue
		}
		if f.Seq > sb.last {
			sb.last = f.Seq
			sb.c.send(f)
		}
		if len(revoked) > 0 && slices.Contains(revoked, sb.c.user) {
			sb.ended = true
			go sb.c.endSub(sb, errRevoked)
		}
	}
}

func (h *hub) onEphemeral(msg []byte) {
	h.deliverEphemeral(protocol.FromPayload(msg, 0))
}

func (h *hub) deliverEphemeral(f *protocol.Frame) {
	h.mu.Lock()
	for _, sb := range h.subs {
		sb.c.send(f)
	}
	h.mu.Unlock()
}

// join adds sb to the hub. With after == nil the subscriber starts with the
// next event; otherwise it first gets every event after *after: from the
// recent-events ring when it holds them, else from the log, paced by the
// connection's queue. A gap larger than ResumeMaxEvents, or one that reaches
// below what the log still holds, is answered with a reset frame instead.
// join returns the sequence the subscriber is positioned at.
func (h *hub) join(ctx context.Context, sb *sub, after *uint64) (uint64, error) {
	h.mu.Lock()
	if after == nil || h.kind.Ephemeral {
		pos := h.last
		sb.last = pos
		h.addLocked(sb)
		h.mu.Unlock()
		return pos, nil
	}
	pos := *after
	for {
		if pos > h.last {
			// The client claims events the hub has not delivered: either the
			// bus is behind the log, or the client is ahead of the log (which
			// was restored or replaced). Only the log can tell.
			h.mu.Unlock()
			_, last, err := h.srv.events.Bounds(ctx, h.stream)
			if err != nil {
				return 0, errs.Wrap(errs.Unavailable, err, "read stream bounds")
			}
			if pos > last {
				h.reset(sb, last, "ahead_of_log")
				pos = last
			}
			h.mu.Lock()
			// If pos is still ahead of the hub, the bus will bring the events
			// up to pos and the subscriber skips them by its position.
		}
		if pos >= h.last {
			sb.last = pos
			h.addLocked(sb)
			h.mu.Unlock()
			return pos, nil
		}
		if n := len(h.ring); n > 0 && h.ring[0].Seq <= pos+1 {
			for _, f := range h.ring {
				if f.Seq > pos {
					sb.c.send(f)
					if h.revokes(f, sb.c.user) {
						h.mu.Unlock()
						return 0, errRevoked
					}
				}
			}
			pos = h.last
			sb.last = pos
			h.addLocked(sb)
			h.mu.Unlock()
			return pos, nil
		}
		target := h.last
		h.mu.Unlock()
		var err error
		pos, err = h.replay(ctx, sb, pos, target)
		if err != nil {
			return 0, err
		}
		h.mu.Lock()
	}
}

// replay queues the logged events (pos, target] to sb's connection, or a
// reset if that is too many or no longer stored. It returns the new position.
func (h *hub) replay(ctx context.Context, sb *sub, pos, target uint64) (uint64, error) {
	first, _, err := h.srv.events.Bounds(ctx, h.stream)
	if err != nil {
		return 0, errs.Wrap(errs.Unavailable, err, "read stream bounds")
	}
	if target-pos > uint64(h.srv.cfg.ResumeMaxEvents) {
		h.reset(sb, target, "too_far_behind")
		return target, nil
	}
	if first > pos+1 {
		h.reset(sb, target, "beyond_retention")
		return target, nil
	}
	for pos < target {
		evs, err := h.srv.events.Read(ctx, h.stream, pos, min(512, int(target-pos)))
		if err != nil {
			return 0, errs.Wrap(errs.Unavailable, err, "read missed events")
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			if evs[i].Seq > target {
				return pos, nil
			}
			f := protocol.EncodeEvent(&evs[i])
			if !sb.c.sendWait(ctx, f) {
				return 0, errs.E(errs.Unavailable, "connection closed during replay")
			}
			if h.revokes(f, sb.c.user) {
				return 0, errRevoked
			}
			pos = evs[i].Seq
		}
	}
	return pos, nil
}

func (h *hub) reset(sb *sub, seq uint64, reason string) {
	h.srv.m.Resets.Inc()
	sb.c.send(protocol.MustEncode(protocol.Reset{Type: protocol.TypeReset, Stream: h.stream, Seq: seq, Reason: reason}))
}

func (h *hub) addLocked(sb *sub) {
	if sb.left {
		return // the connection ended during the join
	}
	sb.idx = len(h.subs)
	h.subs = append(h.subs, sb)
	h.srv.m.Subscriptions.Inc()
}

// leave removes sb and releases the hub. Only its first call counts.
func (h *hub) leave(sb *sub) {
	h.mu.Lock()
	if sb.left {
		h.mu.Unlock()
		return
	}
	sb.left = true
	if sb.idx >= 0 && sb.idx < len(h.subs) && h.subs[sb.idx] == sb {
		last := len(h.subs) - 1
		h.subs[sb.idx] = h.subs[last]
		h.subs[sb.idx].idx = sb.idx
		h.subs[last] = nil
		h.subs = h.subs[:last]
		sb.idx = -1
		h.srv.m.Subscriptions.Dec()
	}
	h.mu.Unlock()
	h.srv.releaseHub(h)
}
