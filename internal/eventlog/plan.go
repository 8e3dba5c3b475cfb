package eventlog

import (
	"context"
	"slices"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// DefaultReadLimit is the number of events Store.Read and Store.ReadSince
// return when they are called with a limit <= 0.
const DefaultReadLimit = 1000

// ReadLimit returns the page size a Store uses for limit: DefaultReadLimit
// when limit <= 0, limit otherwise.
func ReadLimit(limit int) int {
	if limit <= 0 {
		return DefaultReadLimit
	}
	return limit
}

// ConflictError returns the errs.Conflict error that a Store reports when an
// append's Expected differs from the stream's last sequence. The message
// states the stream's actual last sequence, so that a writer can tell how far
// behind it is.
func ConflictError(stream core.StreamID, expected int64, last uint64) error {
	return errs.E(errs.Conflict, "stream %s is at sequence %d, not %d as expected", stream, last, expected)
}

// StampTime returns the time a Store records for an append stamped t: t
// truncated to the microsecond, in UTC (the zero time stands for now).
// Stores keep microseconds so that every adapter returns the same instant.
func StampTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// StreamHead is a stream's sequence head as an adapter stores it.
type StreamHead struct {
	// ID is the adapter's own key for the stream, valid when Exists.
	ID int64
	// Exists reports whether the adapter has a head row for the stream.
	Exists bool
	// First and Last are the first sequence still stored and the last
	// sequence ever taken (0 for a stream without events).
	First, Last uint64
}

// PlanSource is what a Plan reads from the adapter's transaction while it
// applies a batch.
type PlanSource interface {
	// Head returns the stored head of stream. A Plan asks once per stream
	// and batch.
	Head(ctx context.Context, stream core.StreamID) (StreamHead, error)
	// KeyEvents returns the events that an earlier batch appended to stream
	// under the idempotency key, and whether the key was recorded at all. It
	// is only asked about streams whose head Exists. Events that were
	// truncated since are missing from the result.
	KeyEvents(ctx context.Context, stream core.StreamID, head StreamHead, key string) (events []Event, found bool, err error)
}

// PlannedStream is one stream touched by a batch: its head as read, with
// Last advanced past the events the batch appends to it, and what the
// adapter must write.
type PlannedStream struct {
	Stream core.StreamID
	StreamHead
	// Events are the new events, in sequence order, to insert.
	Events []Event
	// Keys are the idempotency keys to record.
	Keys []PlannedKey
}

// PlannedKey is an idempotency key to record with the sequences its append
// took.
type PlannedKey struct {
	Key         string
	First, Last uint64
}

// Plan applies the rules of Store.AppendBatch in memory, so that every
// adapter shares them: validation, expected-sequence checks, idempotency
// keys (also twice in one batch), items applied in order, sequences without
// holes. An adapter calls Reset, reads the heads Names lists (optionally
// locking them), calls Build with a PlanSource over its transaction, and
// then writes Streams. A Plan is not safe for concurrent use; it can be
// reused for the next batch after Reset.
type Plan struct {
	// Streams lists the streams the batch's valid items name, in the order
	// they first appear.
	Streams []*PlannedStream

	items  []BatchItem
	names  []core.StreamID
	byName map[core.StreamID]*PlannedStream
	keys   map[streamKey]int
	refs   []itemRef
}

type streamKey struct {
	stream core.StreamID
	key    string
}

// itemRef locates the result of an item: n events of ps.Events from start,
// or, for an in-batch duplicate, the item it repeats (dupOf >= 0).
type itemRef struct {
	ps       *PlannedStream
	start, n int
	dupOf    int
}

// Reset starts planning items: it clears their results, validates each one
// (an invalid item gets an errs.InvalidArgument Err) and collects the
// distinct streams of the valid ones.
func (p *Plan) Reset(items []BatchItem) {
	p.items = items
	p.Streams = p.Streams[:0]
	p.names = p.names[:0]
	if p.byName == nil {
		p.byName = make(map[core.StreamID]*PlannedStream)
		p.keys = make(map[streamKey]int)
	} else {
		clear(p.byName)
		clear(p.keys)
	}
	p.refs = slices.Grow(p.refs[:0], len(items))[:len(items)]
	for i := range items {
		it := &items[i]
		it.Result, it.Err = AppendResult{}, nil
		p.refs[i] = itemRef{dupOf: -1}
		if it.Req == nil {
			it.Err = errs.E(errs.InvalidArgument, "batch item without a request")
			continue
		}
		if !it.validated {
			if err := Validate(it.Req); err != nil {
				it.Err = err
				continue
			}
		}
		if _, ok := p.byName[it.Req.Stream]; !ok {
			p.byName[it.Req.Stream] = nil
			p.names = append(p.names, it.Req.Stream)
		}
	}
}

// Items returns the items given to Reset.
func (p *Plan) Items() []BatchItem { return p.items }

// Names returns the distinct streams of the valid items, sorted, so that an
// adapter that locks their heads always locks in the same order.
func (p *Plan) Names() []core.StreamID {
	out := slices.Clone(p.names)
	slices.Sort(out)
	return out
}

// Build applies the items given to Reset, in order, reading heads and
// recorded keys from src, and fills each item's Result or Err. It returns an
// error only when src fails; the items' results are then meaningless. The
// result events of an item share Data with its request.
func (p *Plan) Build(ctx context.Context, src PlanSource) error {
	for i := range p.items {
		it := &p.items[i]
		if it.Err != nil {
			continue
		}
		req := it.Req
		ps, err := p.stream(ctx, req.Stream, src)
		if err != nil {
			return err
		}
		if req.Key != "" {
			sk := streamKey{req.Stream, req.Key}
			if j, ok := p.keys[sk]; ok {
				p.refs[i].dupOf = j
				continue
			}
			if ps.Exists {
				evs, found, err := src.KeyEvents(ctx, req.Stream, ps.StreamHead, req.Key)
				if err != nil {
					return err
				}
				if found {
					it.Result = AppendResult{Events: evs, Duplicate: true}
					continue
				}
			}
		}
		if req.Expected != AnySeq && uint64(req.Expected) != ps.Last {
			it.Err = ConflictError(req.Stream, req.Expected, ps.Last)
			continue
		}
		at := StampTime(it.Time)
		start := len(ps.Events)
		for j := range req.Events {
			d := &req.Events[j]
			var data []byte
			if len(d.Data) > 0 {
				data = d.Data
			}
			ps.Events = append(ps.Events, Event{
				Stream: req.Stream,
				Seq:    ps.Last + 1 + uint64(j),
				Type:   d.Type,
				Time:   at,
				Actor:  d.Actor,
				Data:   data,
				Key:    req.Key,
			})
		}
		n := len(req.Events)
		if req.Key != "" {
			ps.Keys = append(ps.Keys, PlannedKey{Key: req.Key, First: ps.Last + 1, Last: ps.Last + uint64(n)})
			p.keys[streamKey{req.Stream, req.Key}] = i
		}
		ps.Last += uint64(n)
		p.refs[i] = itemRef{ps: ps, start: start, n: n, dupOf: -1}
	}
	// Results are sliced only now: ps.Events may have grown above.
	for i := range p.items {
		r := p.refs[i]
		if r.ps != nil {
			p.items[i].Result.Events = r.ps.Events[r.start : r.start+r.n : r.start+r.n]
		}
	}
	for i := range p.items {
		if j := p.refs[i].dupOf; j >= 0 {
			p.items[i].Result = AppendResult{Events: slices.Clone(p.items[j].Result.Events), Duplicate: true}
		}
	}
	return nil
}

func (p *Plan) stream(ctx context.Context, s core.StreamID, src PlanSource) (*PlannedStream, error) {
	if ps := p.byName[s]; ps != nil {
		return ps, nil
	}
	h, err := src.Head(ctx, s)
	if err != nil {
		return nil, err
	}
	ps := &PlannedStream{Stream: s, StreamHead: h}
	p.byName[s] = ps
	p.Streams = append(p.Streams, ps)
	return ps, nil
}

// Fail clears the results of the items after a failed transaction, so that
// none of them looks appended.
func (p *Plan) Fail() {
	for i := range p.items {
		p.items[i].Result, p.items[i].Err = AppendResult{}, nil
	}
}
