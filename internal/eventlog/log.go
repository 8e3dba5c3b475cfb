package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// Options tune a Log. Zero values take the defaults.
type Options struct {
	// MaxBatch bounds the number of append requests in one group commit
	// (default 2048).
	MaxBatch int
	// QueueSize bounds the number of appends waiting for a commit (default
	// 16384). Appenders block, honouring their context, when it is full.
	QueueSize int
	// CommitTimeout bounds one group commit (default 30s).
	CommitTimeout time.Duration
	// PollInterval is how often Follow re-reads the store when nothing was
	// appended through this Log, to see appends made by other processes
	// (default 1s).
	PollInterval time.Duration
	// Clock stamps events (default the system clock).
	Clock core.Clock
	// OnCommit, if set, is called after every group commit with the number of
	// requests and events it held and how long the store took.
	OnCommit func(requests, events int, took time.Duration, err error)
}

func (o *Options) defaults() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2048
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 16384
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Clock == nil {
		o.Clock = core.SystemClock{}
	}
}

// Log is the event log used by the rest of Parley: a Store behind group
// commit. Append is safe for concurrent use; concurrent appends are gathered
// by one committer goroutine into a single store transaction (natural
// batching: while one commit runs, the next batch fills, so a lone append
// waits for no timer). An append is acknowledged, and durable, when Append
// returns a nil error; a cancelled context does not undo an append that was
// already handed to the committer.
type Log struct {
	store Store
	opts  Options
	queue chan *call

	mu      sync.Mutex
	waiters map[core.StreamID]chan struct{}

	closeMu sync.RWMutex // held for reading while a call is queued
	closed  bool

	stop chan struct{}
	done chan struct{}
}

type call struct {
	item BatchItem
	done chan struct{}
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// NewLog starts a Log over store. Close stops it; it does not close store.
func NewLog(store Store, opts Options) *Log {
	opts.defaults()
	l := &Log{
		store:   store,
		opts:    opts,
		queue:   make(chan *call, opts.QueueSize),
		waiters: make(map[core.StreamID]chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.commitLoop()
	return l
}

// QueueLen returns the number of appends waiting for a group commit, not
// counting those of the commit in progress. It is a gauge for metrics.
func (l *Log) QueueLen() int { return len(l.queue) }

// Store returns the underlying store.
func (l *Log) Store() Store { return l.store }

// ErrClosed is returned by Append after Close.
var ErrClosed = errs.E(errs.Unavailable, "event log closed")

// Validate checks an append request without touching the store.
func Validate(req *AppendRequest) error {
	if err := req.Stream.Validate(); err != nil {
		return errs.Wrap(errs.InvalidArgument, err, "bad stream")
	}
	if len(req.Events) == 0 {
		return errs.E(errs.InvalidArgument, "append needs at least one event")
	}
	if len(req.Key) > MaxKeyLen {
		return errs.E(errs.InvalidArgument, "idempotency key longer than %d bytes", MaxKeyLen)
	}
	if !validText(req.Key) {
		return errs.E(errs.InvalidArgument, "idempotency key is not valid UTF-8 text")
	}
	if req.Expected < AnySeq {
		return errs.E(errs.InvalidArgument, "expected sequence %d is invalid", req.Expected)
	}
	for i := range req.Events {
		d := &req.Events[i]
		if d.Type == "" || len(d.Type) > 64 {
			return errs.E(errs.InvalidArgument, "event type must be 1-64 bytes")
		}
		if !validText(d.Type) || !validText(string(d.Actor)) {
			return errs.E(errs.InvalidArgument, "event type and actor must be valid UTF-8 text")
		}
		if len(d.Data) > 0 && !json.Valid(d.Data) {
			return errs.E(errs.InvalidArgument, "event data is not valid JSON")
		}
	}
	return nil
}

// validText reports whether s can be stored as text by every adapter:
// valid UTF-8 without NUL bytes (PostgreSQL rejects both, which would fail
// the whole group commit rather than the one request).
func validText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// Append appends req and returns the stored events once they are durable.
// A conflict (stale Expected) returns an errs.Conflict error and writes
// nothing.
func (l *Log) Append(ctx context.Context, req AppendRequest) (AppendResult, error) {
	if err := Validate(&req); err != nil {
		return AppendResult{}, err
	}
	c := callPool.Get().(*call)
	c.item = BatchItem{Req: &req, validated: true}
	l.closeMu.RLock()
	if l.closed {
		l.closeMu.RUnlock()
		return AppendResult{}, ErrClosed
	}
	select {
	case l.queue <- c:
		l.closeMu.RUnlock()
	case <-ctx.Done():
		l.closeMu.RUnlock()
		return AppendResult{}, ctx.Err()
	}
	// Once queued the call belongs to the committer until it signals done;
	// waiting here regardless of ctx keeps the call from being reused early.
	<-c.done
	res, err := c.item.Result, c.item.Err
	c.item = BatchItem{}
	callPool.Put(c)
	return res, err
}

// AppendMany queues every request in order and waits for all of them. The
// requests reach the committer in this order, so a stream's single writer can
// chain expected sequences across them; usually they share one transaction.
// It returns one result and one error per request.
func (l *Log) AppendMany(ctx context.Context, reqs []AppendRequest) ([]AppendResult, []error) {
	results := make([]AppendResult, len(reqs))
	errors := make([]error, len(reqs))
	calls := make([]*call, len(reqs))
	l.closeMu.RLock()
	for i := range reqs {
		if err := Validate(&reqs[i]); err != nil {
			errors[i] = err
			continue
		}
		if l.closed {
			errors[i] = ErrClosed
			continue
		}
		c := callPool.Get().(*call)
		c.item = BatchItem{Req: &reqs[i]}
		select {
		case l.queue <- c:
			calls[i] = c
		case <-ctx.Done():
			callPool.Put(c)
			errors[i] = ctx.Err()
		}
	}
	l.closeMu.RUnlock()
	for i, c := range calls {
		if c == nil {
			continue
		}
		<-c.done
		results[i], errors[i] = c.item.Result, c.item.Err
		c.item = BatchItem{}
		callPool.Put(c)
	}
	return results, errors
}

func (l *Log) commitLoop() {
	defer close(l.done)
	batch := make([]*call, 0, l.opts.MaxBatch)
	items := make([]BatchItem, 0, l.opts.MaxBatch)
	touched := make(map[core.StreamID]struct{})
	for {
		var first *call
		select {
		case first = <-l.queue:
		case <-l.stop:
			// Drain what was queued before Close so no caller hangs.
			select {
			case first = <-l.queue:
			default:
				return
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < l.opts.MaxBatch {
			select {
			case c := <-l.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		now := l.opts.Clock.Now().UTC()
		items = items[:0]
		for _, c := range batch {
			c.item.Time = now
			if t := c.item.Req.Time; !t.IsZero() {
				c.item.Time = t.UTC()
			}
			items = append(items, c.item)
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.CommitTimeout)
		start := time.Now()
		err := l.store.AppendBatch(ctx, items)
		took := time.Since(start)
		cancel()
		nevents := 0
		for i, c := range batch {
			if err != nil {
				c.item.Err = errs.Wrap(errs.Unavailable, err, "event log append failed")
			} else {
				c.item.Result, c.item.Err = items[i].Result, items[i].Err
				if c.item.Err == nil && !c.item.Result.Duplicate {
					nevents += len(c.item.Result.Events)
					touched[c.item.Req.Stream] = struct{}{}
				}
			}
		}
		if l.opts.OnCommit != nil {
			l.opts.OnCommit(len(batch), nevents, took, err)
		}
		l.notify(touched)
		clear(touched)
		for _, c := range batch {
			c.done <- struct{}{}
		}
	}
}

func (l *Log) notify(streams map[core.StreamID]struct{}) {
	if len(streams) == 0 {
		return
	}
	l.mu.Lock()
	if len(l.waiters) > 0 {
		for s := range streams {
			if ch, ok := l.waiters[s]; ok {
				close(ch)
				delete(l.waiters, s)
			}
		}
	}
	l.mu.Unlock()
}

// changed returns a channel that is closed at the next commit that appends to
// stream.
func (l *Log) changed(stream core.StreamID) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.waiters[stream]
	if !ok {
		ch = make(chan struct{})
		l.waiters[stream] = ch
	}
	return ch
}

// Read returns up to limit events of stream after the given sequence.
func (l *Log) Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]Event, error) {
	return l.store.Read(ctx, stream, after, limit)
}

// ReadSince returns up to limit events of stream stamped at or after since.
func (l *Log) ReadSince(ctx context.Context, stream core.StreamID, since time.Time, limit int) ([]Event, error) {
	return l.store.ReadSince(ctx, stream, since, limit)
}

// Bounds returns the first and last stored sequence of stream.
func (l *Log) Bounds(ctx context.Context, stream core.StreamID) (first, last uint64, err error) {
	return l.store.Bounds(ctx, stream)
}

// Streams lists the streams of kind after the given name (see Lister). It
// fails with errs.Unavailable if the store cannot list streams.
func (l *Log) Streams(ctx context.Context, kind string, after core.StreamID, limit int) ([]StreamInfo, error) {
	ls, ok := l.store.(Lister)
	if !ok {
		return nil, errs.E(errs.Unavailable, "the event log store cannot list streams")
	}
	return ls.Streams(ctx, kind, after, limit)
}

// StreamRange returns the bounds of the names of kind's streams for a range
// scan: every stream of kind sorts in [lo, hi), and lo is where a scan after
// starts.
func StreamRange(kind string, after core.StreamID) (lo, hi string) {
	lo = kind + ":"
	hi = kind + ";" // ';' follows ':' in byte order
	if string(after) > lo {
		lo = string(after)
	}
	return lo, hi
}

// Follow calls fn with every event of stream after the given sequence, in
// order and without duplicates, then with each new event as it is appended,
// until ctx ends or fn returns an error, which Follow returns. Appends made
// through this Log wake it at once; appends by other processes are seen
// within Options.PollInterval.
func (l *Log) Follow(ctx context.Context, stream core.StreamID, after uint64, fn func(Event) error) error {
	const page = 512
	for {
		wake := l.changed(stream)
		evs, err := l.store.Read(ctx, stream, after, page)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			after = e.Seq
		}
		if len(evs) == page {
			continue
		}
		t := time.NewTimer(l.opts.PollInterval)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// ReadAll calls fn for every event of stream after the given sequence, in
// pages, and returns when the stream's current end is reached.
func ReadAll(ctx context.Context, r interface {
	Read(context.Context, core.StreamID, uint64, int) ([]Event, error)
}, stream core.StreamID, after uint64, fn func(Event) error) error {
	const page = 4096
	for {
		evs, err := r.Read(ctx, stream, after, page)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			after = e.Seq
		}
		if len(evs) < page {
			return nil
		}
	}
}

// Close stops the committer after the appends already queued are committed.
// Later appends fail with ErrClosed.
func (l *Log) Close() error {
	l.closeMu.Lock()
	already := l.closed
	l.closed = true
	l.closeMu.Unlock()
	if !already {
		close(l.stop)
	}
	<-l.done
	return nil
}

// ErrStop can be returned by a Follow or ReadAll callback to end early; it is
// not reported as a failure by helpers that check for it.
var ErrStop = errors.New("stop")
