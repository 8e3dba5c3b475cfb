package app

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/media"
	"github.com/parleyhq/parley/internal/protocol"
)

// MediaEventRules is implemented by the MediaRules of a kind whose stream's
// logged events change who may send (a room's stage): the node hosting a
// session follows the stream's events in order and applies the policies
// they set, with the event's sequence as the policy's Version. MediaJoin's
// policy must then carry as Version a sequence the state it was read from
// includes (the stream's last sequence read before the state).
type MediaEventRules interface {
	MediaRules
	// MediaPolicies returns the policies ev sets, by user. With all, the
	// event carries everyone who may send, and everyone else in the session
	// becomes a listener. ok is false for an event that changes no policy.
	MediaPolicies(ev *eventlog.Event) (policies map[core.UserID]media.Policy, all, ok bool)
}

// mediaFollower applies one session's stream events to its policies.
type mediaFollower struct {
	m      *Main
	rules  MediaEventRules
	stream core.StreamID
	in     chan *eventlog.Event
	stop   chan struct{}
	done   chan struct{}
	unsub  func() error
	last   uint64
}

// mediaFollowers are the followers of the sessions this node hosts.
type mediaFollowers struct {
	mu   sync.Mutex
	list map[core.StreamID]*mediaFollower
}

// followMedia starts following session's stream if its kind asks for it
// and nobody does yet on this node.
func (m *Main) followMedia(session core.StreamID) {
	kind, ok := m.media.kinds[session.Kind()]
	if !ok {
		return
	}
	rules, ok := kind.rules.(MediaEventRules)
	if !ok {
		return
	}
	fs := &m.media.follow
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.list == nil {
		fs.list = map[core.StreamID]*mediaFollower{}
	}
	if fs.list[session] != nil {
		return
	}
	f := &mediaFollower{m: m, rules: rules, stream: session, in: make(chan *eventlog.Event, 256), stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, last, err := m.log.Bounds(ctx, session)
	cancel()
	if err != nil {
		m.Logger.Warn("media: follow stream", "stream", string(session), "err", err)
		return
	}
	f.last = last
	sub, err := m.bus.Subscribe(bus.StreamEvents(session), func(_ string, data []byte) { f.onBus(data) })
	if err != nil {
		m.Logger.Warn("media: follow stream", "stream", string(session), "err", err)
		return
	}
	f.unsub = sub.Unsubscribe
	fs.list[session] = f
	go f.run()
}

// unfollowMedia stops following session.
func (m *Main) unfollowMedia(session core.StreamID) {
	fs := &m.media.follow
	fs.mu.Lock()
	f := fs.list[session]
	delete(fs.list, session)
	fs.mu.Unlock()
	if f != nil {
		f.close()
	}
}

// closeFollowers stops every follower (node shutdown).
func (m *Main) closeFollowers() error {
	fs := &m.media.follow
	fs.mu.Lock()
	list := fs.list
	fs.list = nil
	fs.mu.Unlock()
	for _, f := range list {
		f.close()
	}
	return nil
}

func (f *mediaFollower) close() {
	_ = f.unsub()
	close(f.stop)
	<-f.done
}

// onBus decodes an event published on the bus; the bus callback must not
// block, so a full queue drops it (the gap is read from the log).
func (f *mediaFollower) onBus(msg []byte) {
	fr, ok := protocol.UnpackBus(msg)
	if !ok {
		return
	}
	var w struct {
		Seq   uint64          `json:"seq"`
		Event string          `json:"event"`
		Time  time.Time       `json:"time"`
		Actor core.UserID     `json:"actor"`
		Data  json.RawMessage `json:"data"`
	}
	if json.Unmarshal(fr.Payload(), &w) != nil {
		return
	}
	ev := &eventlog.Event{Stream: f.stream, Seq: w.Seq, Type: w.Event, Time: w.Time, Actor: w.Actor, Data: w.Data}
	select {
	case f.in <- ev:
	default:
	}
}

// run applies events in sequence order, reading from the log whatever the
// bus lost or reordered.
func (f *mediaFollower) run() {
	defer close(f.done)
	for {
		select {
		case <-f.stop:
			return
		case ev := <-f.in:
			if ev.Seq <= f.last {
				continue
			}
			if ev.Seq > f.last+1 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				missed, err := f.m.log.Read(ctx, f.stream, f.last, int(ev.Seq-f.last-1))
				cancel()
				if err != nil {
					f.m.Logger.Warn("media: read missed events", "stream", string(f.stream), "err", err)
				}
				for i := range missed {
					if missed[i].Seq == f.last+1 {
						f.apply(&missed[i])
					}
				}
			}
			f.apply(ev)
		}
	}
}

func (f *mediaFollower) apply(ev *eventlog.Event) {
	f.last = max(f.last, ev.Seq)
	policies, all, ok := f.rules.MediaPolicies(ev)
	if !ok {
		return
	}
	srv := f.m.media.srv
	sid := media.SessionID(f.stream)
	if all {
		for _, pid := range srv.Participants(sid) {
			if _, listed := policies[core.UserID(pid)]; !listed {
				_, _ = srv.SetPolicy(sid, pid, media.Policy{Version: ev.Seq})
			}
		}
	}
	for u, p := range policies {
		p.Version = ev.Seq
		if err := f.m.SetMediaPolicy(f.stream, u, p); err != nil {
			f.m.Logger.Warn("media: apply policy", "stream", string(f.stream), "user", string(u), "err", err)
		}
	}
}
