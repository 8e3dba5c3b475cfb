package gateway

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/protocol"
)

// SubscribeParams are the params of the subscribe method.
type SubscribeParams struct {
	Stream core.StreamID `json:"stream"`
	// After, if set, asks for every event after this sequence first.
	After *uint64 `json:"after,omitempty"`
}

// SubscribeResult answers subscribe: the subscriber's position in the
// stream. Events after Seq follow as event frames.
type SubscribeResult struct {
	Stream core.StreamID `json:"stream"`
	Seq    uint64        `json:"seq"`
}

func decodeParams(params json.RawMessage, v any) error {
	if len(params) == 0 {
		return errs.E(errs.InvalidArgument, "params are required")
	}
	if err := json.Unmarshal(params, v); err != nil {
		return errs.E(errs.InvalidArgument, "bad params: %v", err)
	}
	return nil
}

// DecodeParams unmarshals request params into v, answering errors with
// errs.InvalidArgument. Method handlers outside this package use it.
func DecodeParams(params json.RawMessage, v any) error { return decodeParams(params, v) }

func (s *Server) subscribeMethod(ctx context.Context, _ Caller, params json.RawMessage) (any, error) {
	var p SubscribeParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c := connFrom(ctx)
	seq, err := c.subscribe(ctx, p.Stream, p.After)
	if err != nil {
		return nil, err
	}
	return SubscribeResult{Stream: p.Stream, Seq: seq}, nil
}

func (s *Server) unsubscribeMethod(ctx context.Context, _ Caller, params json.RawMessage) (any, error) {
	var p SubscribeParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	connFrom(ctx).unsubscribe(p.Stream)
	return struct{}{}, nil
}

// PresenceSetParams are the params of presence.set.
type PresenceSetParams struct {
	Status string `json:"status"` // "active" or "away"
}

func (s *Server) presenceSetMethod(ctx context.Context, _ Caller, params json.RawMessage) (any, error) {
	var p PresenceSetParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	var away bool
	switch p.Status {
	case "active":
	case "away":
		away = true
	default:
		return nil, errs.E(errs.InvalidArgument, "status must be active or away")
	}
	c := connFrom(ctx)
	c.mu.Lock()
	changed := c.away != away
	c.away = away
	c.mu.Unlock()
	if changed && s.directory != nil {
		s.directory.SetAway(c.user, c.id, away)
	}
	return struct{}{}, nil
}

// subscribe checks the stream kind's rule, then joins the stream's hub.
func (c *conn) subscribe(ctx context.Context, stream core.StreamID, after *uint64) (uint64, error) {
	if err := stream.Validate(); err != nil {
		return 0, errs.Wrap(errs.InvalidArgument, err, "bad stream")
	}
	kind, ok := c.srv.kinds[stream.Kind()]
	if !ok {
		return 0, errs.E(errs.NotFound, "no stream kind %q", stream.Kind())
	}
	c.mu.Lock()
	_, dup := c.subs[stream]
	n := len(c.subs)
	c.mu.Unlock()
	if dup {
		return 0, errs.E(errs.AlreadyExists, "already subscribed to %s", stream)
	}
	if n >= c.srv.cfg.MaxSubscriptions {
		return 0, errs.E(errs.LimitExceeded, "at most %d subscriptions per connection", c.srv.cfg.MaxSubscriptions)
	}
	if err := kind.Authorize(ctx, c.user, stream); err != nil {
		return 0, err
	}
	h, err := c.srv.acquireHub(ctx, stream, kind)
	if err != nil {
		return 0, err
	}
	sb := &sub{c: c, hub: h, idx: -1}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		c.srv.releaseHub(h)
		return 0, errs.E(errs.Unavailable, "connection closed")
	}
	if c.subs == nil {
		c.subs = map[core.StreamID]*sub{}
	}
	if _, dup := c.subs[stream]; dup {
		c.mu.Unlock()
		c.srv.releaseHub(h)
		return 0, errs.E(errs.AlreadyExists, "already subscribed to %s", stream)
	}
	c.subs[stream] = sb
	c.mu.Unlock()
	seq, err := h.join(ctx, sb, after)
	c.mu.Lock()
	dead := c.dead
	if err != nil && !dead {
		delete(c.subs, stream)
	}
	c.mu.Unlock()
	if err != nil || dead {
		// On dead, cleanup may have taken the subscription before join
		// added it to the hub; leave is idempotent.
		h.leave(sb)
		if err == nil {
			err = errs.E(errs.Unavailable, "connection closed")
		}
		return 0, err
	}
	if kind.Subscribed != nil {
		kind.Subscribed(c.user, c.id, stream)
		// A close racing with this subscribe may have told Unsubscribed
		// before Subscribed: tell it again so that the last word is right.
		c.mu.Lock()
		dead = c.dead
		c.mu.Unlock()
		if dead && kind.Unsubscribed != nil {
			kind.Unsubscribed(c.user, c.id, stream)
		}
	}
	if kind.Snapshot != nil {
		f, err := kind.Snapshot(ctx, c.user, stream)
		if err != nil {
			return seq, err
		}
		if f != nil {
			c.send(f)
		}
	}
	return seq, nil
}

// endSub ends sb if it is still the connection's subscription to its
// stream, and tells the client why. It reports whether it ended it.
func (c *conn) endSub(sb *sub, err error) bool {
	stream := sb.hub.stream
	c.mu.Lock()
	cur, ok := c.subs[stream]
	if ok && cur == sb {
		delete(c.subs, stream)
	}
	c.mu.Unlock()
	if !ok || cur != sb {
		return false
	}
	sb.hub.leave(sb)
	if fn := sb.hub.kind.Unsubscribed; fn != nil {
		fn(c.user, c.id, stream)
	}
	c.send(protocol.MustEncode(protocol.Unsubscribed{Type: protocol.TypeUnsubscribed, Stream: stream, Error: protocol.ErrorOf(err)}))
	return true
}

// unsubscribe ends the connection's subscription to stream and reports
// whether there was one.
func (c *conn) unsubscribe(stream core.StreamID) bool {
	c.mu.Lock()
	sb, ok := c.subs[stream]
	delete(c.subs, stream)
	c.mu.Unlock()
	if ok {
		sb.hub.leave(sb)
		if fn := sb.hub.kind.Unsubscribed; fn != nil {
			fn(c.user, c.id, stream)
		}
	}
	return ok
}

// heartbeatLoop pings every connection each interval, closes the ones that
// stayed silent for 1.5 intervals (so a dead peer is detected within two
// intervals), and closes connections whose access token expired without a
// refresh. One loop serves every connection of the node.
func (s *Server) heartbeatLoop() {
	defer s.stopped.Done()
	interval := s.cfg.HeartbeatInterval
	tick := min(interval/4, time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	var list []*conn
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			list = list[:0]
			s.mu.Lock()
			for c := range s.conns {
				list = append(list, c)
			}
			s.mu.Unlock()
			n := now.UnixNano()
			dead := n - int64(interval)*3/2
			pingBefore := n - int64(interval) + int64(tick)/2
			for _, c := range list {
				switch {
				case c.lastRecv.Load() < dead:
					c.closeWith(errs.E(errs.HeartbeatTimeout, "no frame for %s", time.Duration(n-c.lastRecv.Load()).Round(time.Millisecond)))
				case c.expires.Load() < n:
					c.closeWith(errs.E(errs.TokenExpired, "access token expired; send a refresh frame before expiry"))
				case c.lastPing.Load() < pingBefore:
					c.lastPing.Store(n)
					c.send(s.pingOnce)
				}
			}
			clear(list)
		}
	}
}
