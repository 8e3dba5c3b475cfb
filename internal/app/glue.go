package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/metrics"
	"github.com/parleyhq/parley/internal/presence"
	"github.com/parleyhq/parley/internal/protocol"
)

// The adapters in this file connect packages that must not import each
// other: the bus on one side, the gateway, the actor host and presence on
// the other.

// broker gives the gateway the bus subscriptions it needs.
type broker struct{ b *bus.Bus }

var _ gateway.Broker = broker{}

func (k broker) sub(subject string, fn func([]byte)) (gateway.Unsubscriber, error) {
	s, err := k.b.Subscribe(subject, func(_ string, data []byte) { fn(data) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (k broker) SubscribeEvents(s core.StreamID, fn func([]byte)) (gateway.Unsubscriber, error) {
	return k.sub(bus.StreamEvents(s), fn)
}

func (k broker) SubscribeEphemeral(s core.StreamID, fn func([]byte)) (gateway.Unsubscriber, error) {
	return k.sub(bus.StreamEphemeral(s), fn)
}

func (k broker) SubscribeNode(n core.NodeID, fn func([]byte)) (gateway.Unsubscriber, error) {
	return k.sub(bus.NodePush(n), fn)
}

// pusher delivers frames to a user wherever they are connected: directly to
// this node's connections, through the owning node's subject elsewhere.
type pusher struct {
	node core.NodeID
	b    *bus.Bus
	gw   *gateway.Server
	dir  *presence.Directory
}

// Push sends f to every connection of user in the deployment. This node's
// connections get it directly, even before the directory's view (which
// trails connection changes by its coalescing delay and a KV round trip)
// lists this node.
func (p *pusher) Push(user core.UserID, f *protocol.Frame) {
	p.gw.DeliverToUser(user, f)
	for _, n := range p.dir.Nodes(user) {
		if n != p.node {
			_ = p.b.Publish(bus.NodePush(n), protocol.PackPush(user, f.Payload()))
		}
	}
}

// publisher publishes an actor's committed and ephemeral events.
type publisher struct {
	b    *bus.Bus
	push *pusher
	m    *metrics.Metrics
	// observers get the committed events of their stream kind after they
	// are published, on the actor's goroutine (see Main.observeCommits).
	observers map[string]func(stream core.StreamID, evs []eventlog.Event)
}

var _ actor.Publisher = (*publisher)(nil)

func (p *publisher) PublishEvents(stream core.StreamID, evs []eventlog.Event) {
	subject := bus.StreamEvents(stream)
	for i := range evs {
		_ = p.b.Publish(subject, protocol.PackBus(protocol.EncodeEvent(&evs[i])))
	}
	if fn := p.observers[stream.Kind()]; fn != nil {
		fn(stream, evs)
	}
}

// observeCommits makes fn see, in order, every batch of events of streams
// of kind that this node's actors commit (read-model projectors use it).
// fn runs on the stream's actor goroutine, so it must hand the events off
// quickly. It must be called before the first command.
func (m *Main) observeCommits(kind string, fn func(stream core.StreamID, evs []eventlog.Event)) {
	if m.pub.observers == nil {
		m.pub.observers = map[string]func(core.StreamID, []eventlog.Event){}
	}
	m.pub.observers[kind] = fn
}

func (p *publisher) PublishEphemeral(stream core.StreamID, at time.Time, who core.UserID, e actor.Ephemeral) {
	f := protocol.EncodeEphemeral(stream, e.Type, at, who, e.Data)
	_ = p.b.Publish(bus.StreamEphemeral(stream), f.Payload())
}

func (p *publisher) Notify(n actor.Notice, at time.Time) {
	p.push.Push(n.User, protocol.MustEncode(protocol.Push{Type: protocol.TypePush, Event: n.Event, Time: at.UTC(), Data: n.Data}))
}

// directoryKV adapts a bus KV bucket to presence.KV.
type directoryKV struct{ kv *bus.KV }

var _ presence.KV = directoryKV{}

func (d directoryKV) PutTTL(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := d.kv.PutTTL(ctx, key, value, ttl)
	return err
}

func (d directoryKV) Delete(ctx context.Context, key string) error {
	err := d.kv.Delete(ctx, key)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	return err
}

func (d directoryKV) Watch(ctx context.Context, fn func(key string, value []byte, deleted bool)) (func(), error) {
	return d.kv.Watch(ctx, ">", func(e bus.Entry) { fn(e.Key, e.Value, e.Op != bus.OpPut) })
}

// lastSeenKV stores last-seen times in a bus KV bucket.
type lastSeenKV struct{ kv *bus.KV }

var _ presence.LastSeen = lastSeenKV{}

func (l lastSeenKV) Put(ctx context.Context, user core.UserID, at time.Time) error {
	b, _ := json.Marshal(at.UTC())
	_, err := l.kv.Put(ctx, string(user), b)
	return err
}

func (l lastSeenKV) Get(ctx context.Context, user core.UserID) (time.Time, bool, error) {
	e, err := l.kv.Get(ctx, string(user))
	if errs.Is(err, errs.NotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	var t time.Time
	if err := json.Unmarshal(e.Value, &t); err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}
