package app

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/media"
	"github.com/parleyhq/parley/internal/protocol"
)

// Audio in a cluster: everyone in a session must be on one media server.
// The first node to join a session becomes its home (a lease in the
// parley_media KV bucket, renewed while the session lives); a participant
// connected to another node joins through it: that node forwards the
// participant's requests to the home over the bus, and the home sends the
// participant's signaling back to it. A single node on the embedded bus
// needs none of this.

// mediaCluster is the cluster state of the media glue.
type mediaCluster struct {
	kv *bus.KV

	mu   sync.Mutex
	home map[core.StreamID]uint64 // sessions hosted here: lease revision
	away map[mediaKey]core.NodeID // participants of this node's connections hosted elsewhere
	stop chan struct{}
	done chan struct{}
}

// mediaRequest is a request to a session's home node.
type mediaRequest struct {
	Op        string          `json:"op"` // join, answer, candidate, leave, policy, stats
	Session   core.StreamID   `json:"session"`
	User      core.UserID     `json:"user"`
	Node      core.NodeID     `json:"node,omitempty"` // join: the node of the participant's connection
	Conn      core.ConnID     `json:"conn,omitempty"`
	Policy    media.Policy    `json:"policy"`
	Rev       uint64          `json:"rev,omitempty"`
	SDP       string          `json:"sdp,omitempty"`
	Candidate media.Candidate `json:"candidate"`
}

// mediaReply is the home node's answer.
type mediaReply struct {
	Offer   media.Offer              `json:"offer"`
	Found   bool                     `json:"found,omitempty"`
	Stats   []media.ParticipantStats `json:"stats,omitempty"`
	Code    errs.Code                `json:"code,omitempty"`
	Message string                   `json:"message,omitempty"`
	NotHome bool                     `json:"not_home,omitempty"`
}

// mediaSignal carries signaling from a home node to a connection's node.
type mediaSignal struct {
	User    core.UserID     `json:"user"`
	Conn    core.ConnID     `json:"conn"`
	Session core.StreamID   `json:"session"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	Reason  string          `json:"reason,omitempty"` // media.closed
}

func mediaLeaseKey(s core.StreamID) string { return s.Kind() + "." + s.ID() }

// startMediaCluster opens the bucket and the node's media subjects.
func (m *Main) startMediaCluster(ctx context.Context) error {
	kv, err := m.bus.KV(ctx, bus.KVConfig{Name: bus.BucketMedia, Storage: bus.MemoryStorage, LimitMarkerTTL: time.Second})
	if err != nil {
		return err
	}
	mc := &mediaCluster{kv: kv, home: map[core.StreamID]uint64{}, away: map[mediaKey]core.NodeID{}, stop: make(chan struct{}), done: make(chan struct{})}
	m.media.cluster = mc
	reqs, err := m.bus.Handle(bus.NodeMedia(m.node), m.serveMedia)
	if err != nil {
		return err
	}
	m.closers = append(m.closers, reqs.Unsubscribe)
	sigs, err := m.bus.Subscribe(bus.NodeMediaSignal(m.node), func(_ string, data []byte) { m.onMediaSignal(data) })
	if err != nil {
		return err
	}
	m.closers = append(m.closers, sigs.Unsubscribe)
	go m.renewMediaLeases()
	m.closers = append(m.closers, func() error { close(mc.stop); <-mc.done; return nil })
	return nil
}

// mediaHome returns the node hosting session; with claim, this node takes
// it when nobody does.
func (m *Main) mediaHome(ctx context.Context, s core.StreamID, claim bool) (core.NodeID, error) {
	mc := m.media.cluster
	if mc == nil {
		return m.node, nil
	}
	mc.mu.Lock()
	_, mine := mc.home[s]
	mc.mu.Unlock()
	if mine {
		return m.node, nil
	}
	ttl := m.Config.Cluster.LeaseTTL
	for range 2 {
		if claim {
			rev, err := mc.kv.Create(ctx, mediaLeaseKey(s), []byte(m.node), ttl)
			if err == nil {
				mc.mu.Lock()
				mc.home[s] = rev
				mc.mu.Unlock()
				return m.node, nil
			}
			if !errs.Is(err, errs.AlreadyExists) {
				return "", err
			}
		}
		e, err := mc.kv.Get(ctx, mediaLeaseKey(s))
		if errs.Is(err, errs.NotFound) {
			if !claim {
				return "", nil
			}
			continue // released meanwhile: claim again
		}
		if err != nil {
			return "", err
		}
		owner := core.NodeID(e.Value)
		if owner == m.node {
			mc.mu.Lock()
			mc.home[s] = e.Revision
			mc.mu.Unlock()
		}
		return owner, nil
	}
	return "", errs.E(errs.Unavailable, "the home of %s keeps changing", s)
}

// renewMediaLeases keeps the leases of the sessions hosted here.
func (m *Main) renewMediaLeases() {
	mc := m.media.cluster
	defer close(mc.done)
	ttl := m.Config.Cluster.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-mc.stop:
			return
		case <-t.C:
		}
		mc.mu.Lock()
		leases := make(map[core.StreamID]uint64, len(mc.home))
		for s, rev := range mc.home {
			leases[s] = rev
		}
		mc.mu.Unlock()
		for s, rev := range leases {
			ctx, cancel := context.WithTimeout(context.Background(), ttl/3)
			next, err := mc.kv.Update(ctx, mediaLeaseKey(s), []byte(m.node), rev, ttl)
			cancel()
			mc.mu.Lock()
			if _, still := mc.home[s]; still {
				if err == nil {
					mc.home[s] = next
				} else {
					m.Logger.Warn("media lease lost", "session", string(s), "err", err)
					delete(mc.home, s)
				}
			}
			mc.mu.Unlock()
		}
	}
}

// mediaSessionEmpty stops following a session nobody is in, and gives up
// its home.
func (m *Main) mediaSessionEmpty(s media.SessionID) {
	stream := core.StreamID(s)
	if len(m.media.srv.Participants(s)) == 0 {
		m.unfollowMedia(stream)
	}
	mc := m.media.cluster
	if mc == nil {
		return
	}
	mc.mu.Lock()
	rev, ok := mc.home[stream]
	delete(mc.home, stream)
	mc.mu.Unlock()
	if ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = mc.kv.DeleteRevision(ctx, mediaLeaseKey(stream), rev)
	}
}

// mediaRemote returns the home node of a participant of this node's
// connections hosted elsewhere.
func (m *Main) mediaRemote(k mediaKey) (core.NodeID, bool) {
	mc := m.media.cluster
	if mc == nil {
		return "", false
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	n, ok := mc.away[k]
	return n, ok
}

func (m *Main) setMediaRemote(k mediaKey, node core.NodeID) {
	mc := m.media.cluster
	if mc == nil {
		return
	}
	mc.mu.Lock()
	if node == "" {
		delete(mc.away, k)
	} else {
		mc.away[k] = node
	}
	mc.mu.Unlock()
}

// askMedia sends r to node's media server.
func (m *Main) askMedia(ctx context.Context, node core.NodeID, r mediaRequest) (mediaReply, error) {
	data, _ := json.Marshal(r)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := m.bus.Request(rctx, bus.NodeMedia(node), data)
	if err != nil {
		return mediaReply{}, errs.Wrap(errs.Unavailable, err, "the session's media server does not answer")
	}
	var rep mediaReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return mediaReply{}, errs.Wrap(errs.Internal, err, "bad answer from the session's media server")
	}
	if rep.Code != "" {
		return rep, errs.E(rep.Code, "%s", rep.Message)
	}
	return rep, nil
}

// serveMedia runs a request forwarded by another node.
func (m *Main) serveMedia(ctx context.Context, data []byte) []byte {
	var r mediaRequest
	var rep mediaReply
	err := json.Unmarshal(data, &r)
	if err != nil {
		err = errs.E(errs.InvalidArgument, "bad media request")
	}
	srv := m.media.srv
	sid, pid := media.SessionID(r.Session), media.ParticipantID(r.User)
	if err == nil {
		switch r.Op {
		case "join":
			var home core.NodeID
			home, err = m.mediaHome(ctx, r.Session, true)
			if err == nil && home != m.node {
				rep.NotHome = true
				break
			}
			if err == nil {
				sig := &remoteSignaler{m: m, session: r.Session, user: r.User, conn: r.Conn, node: r.Node}
				rep.Offer, err = srv.Join(ctx, sid, pid, r.Policy, sig)
				if err == nil {
					m.followMedia(r.Session)
				}
			}
		case "answer":
			err = srv.Answer(sid, pid, r.Rev, r.SDP)
		case "candidate":
			err = srv.AddCandidate(sid, pid, r.Candidate)
		case "leave":
			srv.Leave(sid, pid)
		case "policy":
			rep.Found, err = srv.SetPolicy(sid, pid, r.Policy)
		case "stats":
			rep.Stats, _ = srv.Stats(sid)
		default:
			err = errs.E(errs.InvalidArgument, "unknown media request %q", r.Op)
		}
	}
	if err != nil {
		rep.Code, rep.Message = errs.Public(err)
	}
	out, _ := json.Marshal(rep)
	return out
}

// remoteSignaler sends a participant's signaling to the node of its
// connection.
type remoteSignaler struct {
	m       *Main
	session core.StreamID
	user    core.UserID
	conn    core.ConnID
	node    core.NodeID
}

func (s *remoteSignaler) send(event string, data any, reason string) {
	b, _ := json.Marshal(data)
	msg, _ := json.Marshal(mediaSignal{User: s.user, Conn: s.conn, Session: s.session, Event: event, Data: b, Reason: reason})
	if err := s.m.bus.Publish(bus.NodeMediaSignal(s.node), msg); err != nil {
		s.m.Logger.Debug("media signal", "node", string(s.node), "err", err)
	}
}

func (s *remoteSignaler) Offer(o media.Offer) {
	s.send(PushMediaOffer, map[string]any{"session": s.session, "rev": o.Rev, "sdp": o.SDP}, "")
}

func (s *remoteSignaler) Policy(p media.Policy) {
	s.send(PushMediaPolicy, map[string]any{"session": s.session, "policy": p}, "")
}

func (s *remoteSignaler) Closed(reason string) {
	s.send(PushMediaClosed, map[string]any{"session": s.session, "reason": reason}, reason)
}

// onMediaSignal delivers signaling from a session's home to a connection
// of this node.
func (m *Main) onMediaSignal(data []byte) {
	var sg mediaSignal
	if err := json.Unmarshal(data, &sg); err != nil {
		return
	}
	f := protocol.MustEncode(protocol.Push{Type: protocol.TypePush, Event: sg.Event, Time: m.Clock.Now().UTC(), Data: sg.Data})
	m.gw.SendToConn(sg.User, sg.Conn, f)
	if sg.Event == PushMediaClosed {
		go m.mediaGone(sg.Session, sg.User, sg.Conn, sg.Reason)
	}
}
