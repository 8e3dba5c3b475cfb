package bus

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/errs"
)

// Storage selects where JetStream keeps a bucket's or a queue's messages.
type Storage int

const (
	// FileStorage keeps messages on disk; they survive a server restart.
	// It is the default.
	FileStorage Storage = iota
	// MemoryStorage keeps messages in memory only; a server restart loses
	// them. It suits data that is rebuilt anyway (presence).
	MemoryStorage
)

func (s Storage) js() jetstream.StorageType {
	if s == MemoryStorage {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// KVConfig describes a key-value bucket.
type KVConfig struct {
	// Name of the bucket, [A-Za-z0-9_-] (see the Bucket constants in
	// subjects.go).
	Name    string
	Storage Storage
	// History is how many values are kept per key, 1 (the default) to 64.
	History int
	// MaxAge, if positive, expires every value that is older, whatever
	// its per-key TTL.
	MaxAge time.Duration
	// LimitMarkerTTL, if positive, enables per-key TTLs (PutTTL, and the
	// ttl of Create and Update) and makes removals visible to watchers: a
	// key that expires leaves a marker, seen by Watch as OpExpired and kept
	// for LimitMarkerTTL; the marker Delete leaves is kept as long. It is
	// rounded up to whole seconds, at least one. Zero disables per-key TTLs
	// and expiry notices.
	LimitMarkerTTL time.Duration
	// Replicas is the number of copies kept in a cluster, 1 (the default)
	// to 5. The embedded server has one node and accepts only 1.
	Replicas int
}

// KV is a key-value bucket stored in a JetStream stream. Keys are strings of
// [A-Za-z0-9_=/-] tokens separated by dots; a dot-separated key can be
// matched by patterns where "*" stands for one token and ">" for one or
// more trailing tokens. Every write gets a revision, the stream sequence,
// which increases across the whole bucket. A KV is safe for concurrent
// use.
type KV struct {
	b         *Bus
	kv        jetstream.KeyValue
	name      string
	stream    string
	prefix    string // "$KV.<name>."
	markerTTL time.Duration
}

// Op says how an entry came about.
type Op int

const (
	// OpPut is a value written by Put, PutTTL, Create or Update.
	OpPut Op = iota + 1
	// OpDelete is a key removed by Delete (or purged by another client).
	OpDelete
	// OpExpired is a key removed by the server because its TTL or the
	// bucket's MaxAge passed. It is reported only when the bucket has a
	// LimitMarkerTTL.
	OpExpired
)

// String returns "put", "delete" or "expired".
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpExpired:
		return "expired"
	}
	return "unknown"
}

// Entry is one revision of a key. Value is nil unless Op is OpPut.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	Created  time.Time
	Op       Op
}

// Header names and values of the KV conventions that nats.go keeps
// unexported; the server and every NATS client share them.
const (
	hdrKVOperation = "KV-Operation"
	kvOpDelete     = "DEL"
	kvOpPurge      = "PURGE"
	markerMaxAge   = "MaxAge"
)

// KV creates the bucket described by cfg, or updates its configuration if
// it exists, and returns a handle to it. Calls with the same configuration
// are idempotent, so every node can call KV at start-up.
func (b *Bus) KV(ctx context.Context, cfg KVConfig) (*KV, error) {
	if cfg.History < 0 || cfg.History > jetstream.KeyValueMaxHistory {
		return nil, errs.E(errs.InvalidArgument, "bus: KV %s: history must be 1 to %d", cfg.Name, jetstream.KeyValueMaxHistory)
	}
	if cfg.LimitMarkerTTL < 0 || cfg.MaxAge < 0 || cfg.Replicas < 0 {
		return nil, errs.E(errs.InvalidArgument, "bus: KV %s: negative setting", cfg.Name)
	}
	markerTTL := time.Duration(0)
	if cfg.LimitMarkerTTL > 0 {
		markerTTL = wholeSeconds(cfg.LimitMarkerTTL)
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         cfg.Name,
		History:        uint8(cfg.History),
		TTL:            cfg.MaxAge,
		Storage:        cfg.Storage.js(),
		Replicas:       cfg.Replicas,
		LimitMarkerTTL: markerTTL,
	})
	if err != nil {
		return nil, wrapJS(err, "bus: create KV bucket "+cfg.Name)
	}
	return &KV{
		b:         b,
		kv:        kv,
		name:      cfg.Name,
		stream:    "KV_" + cfg.Name,
		prefix:    "$KV." + cfg.Name + ".",
		markerTTL: markerTTL,
	}, nil
}

// wholeSeconds rounds d up to whole seconds, at least one: JetStream keeps
// per-message TTLs in seconds and truncates the rest.
func wholeSeconds(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// Name returns the bucket name.
func (kv *KV) Name() string { return kv.name }

// Get returns the current value of key. A key that was never written, was
// deleted or has expired returns an errs.NotFound error. Get reads the
// latest revision stored when the request reaches the server.
func (kv *KV) Get(ctx context.Context, key string) (Entry, error) {
	e, err := kv.kv.Get(ctx, key)
	if err != nil {
		return Entry{}, wrapJS(err, "bus: KV get "+kv.name+"/"+key)
	}
	return Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Created: e.Created(), Op: OpPut}, nil
}

// Put stores value under key, replacing any value, without a TTL (the
// bucket's MaxAge still applies), and returns the new revision.
func (kv *KV) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := kv.kv.Put(ctx, key, value)
	if err != nil {
		return 0, wrapJS(err, "bus: KV put "+kv.name+"/"+key)
	}
	return rev, nil
}

// PutTTL stores value under key, replacing any value, and has the server
// remove the key ttl after this write unless it is written again first;
// watchers then see an OpExpired entry. The TTL is rounded up to whole
// seconds, at least one; in a bucket with History above 1 the server
// raises it to at least the bucket's LimitMarkerTTL. Expiry happens within
// about a second of the deadline. The bucket needs a LimitMarkerTTL.
func (kv *KV) PutTTL(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	if ttl <= 0 {
		return 0, errs.E(errs.InvalidArgument, "bus: KV put %s/%s: ttl must be positive", kv.name, key)
	}
	return kv.publish(ctx, "put", key, value, ttl, nil)
}

// Create stores value under key only if the key has no current value (it
// was never written, or was deleted, or has expired) and returns the new
// revision; otherwise it returns an errs.AlreadyExists error. A positive
// ttl works as in PutTTL. Of concurrent Creates of one key, exactly one
// succeeds.
func (kv *KV) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	if err := kv.checkTTL(key, ttl); err != nil {
		return 0, err
	}
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(wholeSeconds(ttl)))
	}
	rev, err := kv.kv.Create(ctx, key, value, opts...)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || wrongLastSeq(err) {
			return 0, errs.Wrap(errs.AlreadyExists, err, "bus: KV create "+kv.name+"/"+key)
		}
		return 0, wrapJS(err, "bus: KV create "+kv.name+"/"+key)
	}
	return rev, nil
}

// Update stores value under key only if lastRevision is still the key's
// latest revision, and returns the new revision; otherwise (another write
// came first, or the key was deleted or expired since) it returns an
// errs.Conflict error. A positive ttl works as in PutTTL and replaces the
// previous TTL; zero leaves the new value without one. This
// compare-and-set is what leases are built on: of concurrent Updates from
// the same revision, exactly one succeeds.
func (kv *KV) Update(ctx context.Context, key string, value []byte, lastRevision uint64, ttl time.Duration) (uint64, error) {
	if lastRevision == 0 {
		return 0, errs.E(errs.InvalidArgument, "bus: KV update %s/%s: revision 0 (use Create)", kv.name, key)
	}
	return kv.publish(ctx, "update", key, value, ttl, []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(lastRevision)})
}

func (kv *KV) checkTTL(key string, ttl time.Duration) error {
	if ttl < 0 {
		return errs.E(errs.InvalidArgument, "bus: KV %s/%s: negative ttl", kv.name, key)
	}
	if ttl > 0 && kv.markerTTL == 0 {
		return errs.E(errs.InvalidArgument, "bus: KV %s has no LimitMarkerTTL, so per-key TTLs are off", kv.name)
	}
	return nil
}

// publish writes a value to the bucket's subject directly, because the
// client's Put and Update take no TTL.
func (kv *KV) publish(ctx context.Context, op, key string, value []byte, ttl time.Duration, opts []jetstream.PublishOpt) (uint64, error) {
	if err := kv.checkTTL(key, ttl); err != nil {
		return 0, err
	}
	if !validKey(key) {
		return 0, errs.E(errs.InvalidArgument, "bus: KV %s: invalid key %q", kv.name, key)
	}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(wholeSeconds(ttl)))
	}
	m := &nats.Msg{Subject: kv.prefix + key, Data: value, Header: nats.Header{}}
	ack, err := kv.b.js.PublishMsg(ctx, m, opts...)
	if err != nil {
		if wrongLastSeq(err) {
			return 0, errs.Wrap(errs.Conflict, err, "bus: KV "+op+" "+kv.name+"/"+key+": revision changed")
		}
		return 0, wrapJS(err, "bus: KV "+op+" "+kv.name+"/"+key)
	}
	return ack.Sequence, nil
}

// validKey mirrors the client's rule for keys: [-/_=.A-Za-z0-9], not
// starting or ending with a dot, no empty token.
func validKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '-', c == '_', c == '/', c == '=':
		default:
			return false
		}
		prevDot = false
	}
	return true
}

// Delete removes key and its history. Watchers see OpDelete. Deleting a key
// that does not exist succeeds. In a bucket with a LimitMarkerTTL the
// delete marker itself is removed after that time, so deleted keys do not
// accumulate.
func (kv *KV) Delete(ctx context.Context, key string) error {
	return kv.delete(ctx, key, 0)
}

// DeleteRevision removes key only if lastRevision is still its latest
// revision, and otherwise returns an errs.Conflict error. A lease holder
// uses it to release a lease it still holds, never one taken over since.
func (kv *KV) DeleteRevision(ctx context.Context, key string, lastRevision uint64) error {
	if lastRevision == 0 {
		return errs.E(errs.InvalidArgument, "bus: KV delete %s/%s: revision 0", kv.name, key)
	}
	return kv.delete(ctx, key, lastRevision)
}

func (kv *KV) delete(ctx context.Context, key string, lastRevision uint64) error {
	// A purge marker rolls up the key's history, so letting it expire can
	// never uncover an older value; and unlike a plain delete marker it
	// leaves no expiry marker behind when it goes.
	var opts []jetstream.KVDeleteOpt
	if kv.markerTTL > 0 {
		opts = append(opts, jetstream.PurgeTTL(kv.markerTTL))
	}
	if lastRevision > 0 {
		opts = append(opts, jetstream.LastRevision(lastRevision))
	}
	if err := kv.kv.Purge(ctx, key, opts...); err != nil {
		if lastRevision > 0 && (errors.Is(err, jetstream.ErrKeyRevisionMismatch) || wrongLastSeq(err)) {
			return errs.Wrap(errs.Conflict, err, "bus: KV delete "+kv.name+"/"+key+": revision changed")
		}
		return wrapJS(err, "bus: KV delete "+kv.name+"/"+key)
	}
	return nil
}

// Keys returns, sorted, the keys that currently have a value and match
// filter (a key or a pattern with "*" and ">"; "" matches every key). It
// reads a snapshot that may miss writes made while it runs.
func (kv *KV) Keys(ctx context.Context, filter string) ([]string, error) {
	if filter == "" {
		filter = ">"
	}
	lister, err := kv.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, wrapJS(err, "bus: KV keys "+kv.name)
	}
	defer lister.Stop()
	var keys []string
	for {
		select {
		case k, ok := <-lister.Keys():
			if !ok {
				if err := ctx.Err(); err != nil {
					return nil, errs.Wrap(errs.Unavailable, err, "bus: KV keys "+kv.name)
				}
				slices.Sort(keys)
				return slices.Compact(keys), nil
			}
			keys = append(keys, k)
		case <-ctx.Done():
			return nil, errs.Wrap(errs.Unavailable, ctx.Err(), "bus: KV keys "+kv.name)
		}
	}
}

// Watch calls fn with the latest entry of every key matching pattern (a
// key, or a pattern with "*" and ">"), then with every later change, until
// ctx is done or stop is called. Changes reach fn once each, in revision
// order, from one goroutine, so fn should return quickly. Deletes reach fn
// as OpDelete; keys removed by TTL or MaxAge as OpExpired (in a bucket with
// a LimitMarkerTTL). The first entries may include delete and expiry
// markers of keys removed recently. If the connection drops, the watch
// resumes after the last revision it delivered once the client reconnects.
// After stop returns fn is not called again, though a call already running
// may still finish; stop must not wait on fn, and is safe to call more than
// once.
func (kv *KV) Watch(ctx context.Context, pattern string, fn func(Entry)) (stop func(), err error) {
	if pattern == "" {
		pattern = ">"
	}
	cons, err := kv.b.js.OrderedConsumer(ctx, kv.stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{kv.prefix + pattern},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	})
	if err != nil {
		return nil, wrapJS(err, "bus: KV watch "+kv.name+"/"+pattern)
	}
	var stopped atomic.Bool
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if stopped.Load() {
			return
		}
		fn(kv.entry(m))
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !stopped.Load() {
			kv.b.log.Debug("bus: KV watch", "bucket", kv.name, "pattern", pattern, "err", err)
		}
	}))
	if err != nil {
		return nil, wrapJS(err, "bus: KV watch "+kv.name+"/"+pattern)
	}
	var once sync.Once
	done := make(chan struct{})
	var id atomic.Uint64
	stop = func() {
		once.Do(func() {
			stopped.Store(true)
			close(done)
			cc.Stop()
			kv.b.untrack(id.Load())
		})
	}
	tid, err := kv.b.track(stop)
	if err != nil {
		stop()
		return nil, err
	}
	id.Store(tid)
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-done:
		}
	}()
	return stop, nil
}

func (kv *KV) entry(m jetstream.Msg) Entry {
	e := Entry{Key: m.Subject()[len(kv.prefix):], Op: OpPut}
	if md, err := m.Metadata(); err == nil {
		e.Revision = md.Sequence.Stream
		e.Created = md.Timestamp
	}
	h := m.Headers()
	switch {
	case h.Get(hdrKVOperation) == kvOpDelete, h.Get(hdrKVOperation) == kvOpPurge:
		e.Op = OpDelete
	case h.Get(jetstream.MarkerReasonHeader) == markerMaxAge:
		e.Op = OpExpired
	case h.Get(jetstream.MarkerReasonHeader) != "":
		// "Purge" or "Remove": taken out through the stream API.
		e.Op = OpDelete
	}
	if e.Op == OpPut {
		e.Value = m.Data()
	}
	return e
}
