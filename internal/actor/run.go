package actor

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

type actor struct {
	h        *Host
	stream   core.StreamID
	f        Factory
	observer Observer // the kind's observer, fixed when the actor starts
	b        Behavior
	mailbox  chan *msg
	quit     chan struct{}
	inflight int // commands sent or being sent to mailbox; guarded by h.mu
	last     uint64
	log      *slog.Logger

	keys     map[string]keyEntry
	keyOrder []string
	keyNext  int

	leaseRev uint64 // revision of this node's lease on the stream, 0 without leases
}

type keyEntry struct {
	first, last uint64
	reply       any
}

func newActor(h *Host, stream core.StreamID, f Factory) *actor {
	return &actor{
		h:       h,
		stream:  stream,
		f:       f,
		mailbox: make(chan *msg, 1024),
		quit:    make(chan struct{}),
		log:     h.opts.Logger.With("stream", string(stream)),
		keys:    map[string]keyEntry{},
	}
}

// load rebuilds the state from the log, into a new behaviour so that
// nothing of the state it replaces can count twice.
func (a *actor) load(ctx context.Context) error {
	a.b = a.f(a.stream)
	a.last = 0
	clear(a.keys)
	a.keyOrder = a.keyOrder[:0]
	a.keyNext = 0
	return eventlog.ReadAll(ctx, a.h.opts.Log, a.stream, 0, func(e eventlog.Event) error {
		a.b.Apply(&e)
		a.last = e.Seq
		if e.Key != "" {
			k := a.keys[e.Key]
			if k.first == 0 {
				k.first = e.Seq
			}
			k.last = e.Seq
			a.rememberKey(e.Key, k)
		}
		return nil
	})
}

func (a *actor) rememberKey(key string, k keyEntry) {
	if _, ok := a.keys[key]; !ok {
		max := a.h.opts.RecentKeys
		if len(a.keyOrder) < max {
			a.keyOrder = append(a.keyOrder, key)
		} else {
			delete(a.keys, a.keyOrder[a.keyNext])
			a.keyOrder[a.keyNext] = key
			a.keyNext = (a.keyNext + 1) % max
		}
	}
	a.keys[key] = k
}

func (a *actor) run() {
	defer a.h.wg.Done()
	ctx := context.Background()
	var renewC <-chan time.Time
	if leases := a.h.opts.Leases; leases != nil {
		lctx, cancel := leaseCtx()
		rev, owner, err := leases.Acquire(lctx, a.stream, a.h.opts.Node, a.h.opts.LeaseTTL)
		cancel()
		switch {
		case err != nil:
			a.abandon(errs.Wrap(errs.Unavailable, err, "take the stream's lease"))
			return
		case rev == 0:
			a.abandon(&NotOwnerError{Owner: owner})
			return
		}
		a.leaseRev = rev
		defer a.releaseLease()
		t := time.NewTicker(a.h.opts.LeaseTTL / 3)
		defer t.Stop()
		renewC = t.C
	}
	loadCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := a.load(loadCtx)
	cancel()
	if err != nil {
		a.log.Error("load stream failed", "err", err)
		a.abandon(errs.Wrap(errs.Unavailable, err, "load stream"))
		return
	}
	ticker, _ := a.b.(Ticker)
	var tickC <-chan time.Time
	if ticker != nil {
		t := time.NewTicker(ticker.TickInterval())
		defer t.Stop()
		tickC = t.C
	}
	idle := time.NewTimer(a.h.opts.IdleTimeout)
	defer idle.Stop()
	batch := make([]*msg, 0, a.h.opts.MaxBatch)
	for {
		select {
		case m := <-a.mailbox:
			batch = append(batch[:0], m)
		fill:
			for len(batch) < a.h.opts.MaxBatch {
				select {
				case m := <-a.mailbox:
					batch = append(batch, m)
				default:
					break fill
				}
			}
			a.h.mu.Lock()
			a.inflight -= len(batch)
			a.h.mu.Unlock()
			a.process(ctx, batch, nil)
			clear(batch)
			if !idle.Stop() {
				select {
				case <-idle.C:
				default:
				}
			}
			idle.Reset(a.h.opts.IdleTimeout)
		case <-renewC:
			lctx, cancel := leaseCtx()
			rev, err := a.h.opts.Leases.Renew(lctx, a.stream, a.h.opts.Node, a.leaseRev, a.h.opts.LeaseTTL)
			cancel()
			if err != nil {
				// Another node may own the stream now: stop writing to it.
				a.log.Warn("lost the stream's lease; stepping down", "err", err)
				a.leaseRev = 0
				a.abandon(&NotOwnerError{})
				return
			}
			a.leaseRev = rev
		case <-tickC:
			// The host's clock, not the ticker's, is "now", so that a test
			// clock moves deadlines and the events' times agree.
			// A reload replaces the behaviour: ask the current one.
			if tk, ok := a.b.(Ticker); ok {
				ticker = tk
			}
			if d, ok := ticker.Tick(a.h.opts.Clock.Now().UTC()); ok {
				a.process(ctx, nil, &d)
			}
		case <-idle.C:
			if tk, ok := a.b.(Ticker); ok && tk.Busy() {
				idle.Reset(a.h.opts.IdleTimeout)
				continue
			}
			if a.retire() {
				return
			}
			idle.Reset(a.h.opts.IdleTimeout)
		case <-a.quit:
			for {
				select {
				case m := <-a.mailbox:
					a.process(ctx, []*msg{m}, nil)
				default:
					if f, ok := a.b.(Flusher); ok {
						if d, ok := f.Flush(a.h.opts.Clock.Now().UTC()); ok {
							a.process(ctx, nil, &d)
						}
					}
					return
				}
			}
		}
	}
}

// releaseLease gives the stream's lease up so another node can take it at
// once.
func (a *actor) releaseLease() {
	if a.leaseRev == 0 {
		return
	}
	ctx, cancel := leaseCtx()
	defer cancel()
	if err := a.h.opts.Leases.Release(ctx, a.stream, a.leaseRev); err != nil {
		a.log.Debug("release lease", "err", err)
	}
	a.leaseRev = 0
}

// retire removes the actor from the host if nothing is on its way to it.
// With leases, the lease is given up first, so the next command (here or on
// another node) can take the stream at once; if a command arrived
// meanwhile, the actor takes the lease back and stays.
func (a *actor) retire() bool {
	if a.h.opts.Leases != nil {
		a.h.mu.Lock()
		busy := a.inflight > 0 || len(a.mailbox) > 0
		a.h.mu.Unlock()
		if busy {
			return false
		}
		a.releaseLease()
	}
	a.h.mu.Lock()
	if a.inflight > 0 || len(a.mailbox) > 0 {
		a.h.mu.Unlock()
		if a.h.opts.Leases != nil && !a.retake() {
			a.abandon(&NotOwnerError{})
			return true
		}
		return false
	}
	if a.h.actors[a.stream] == a {
		delete(a.h.actors, a.stream)
	}
	a.h.mu.Unlock()
	return true
}

// retake takes the stream's lease again after a retire that found work.
func (a *actor) retake() bool {
	ctx, cancel := leaseCtx()
	defer cancel()
	rev, _, err := a.h.opts.Leases.Acquire(ctx, a.stream, a.h.opts.Node, a.h.opts.LeaseTTL)
	if err != nil || rev == 0 {
		return false
	}
	a.leaseRev = rev
	// Another node may have written to the stream while the lease was free.
	return a.load(ctx) == nil
}

// abandon removes a broken actor and fails what was sent to it.
func (a *actor) abandon(err error) {
	a.h.mu.Lock()
	if a.h.actors[a.stream] == a {
		delete(a.h.actors, a.stream)
	}
	a.h.mu.Unlock()
	for {
		a.h.mu.Lock()
		pending := a.inflight
		a.h.mu.Unlock()
		select {
		case m := <-a.mailbox:
			a.h.mu.Lock()
			a.inflight--
			a.h.mu.Unlock()
			m.finish(Result{}, err)
		default:
			if pending == 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// item is one decision of a batch: a command's, or a tick's (m == nil).
type item struct {
	m       *msg
	d       Decision
	req     int // index in reqs, or -1
	dup     *keyEntry
	err     error
	inspect bool
	early   bool // answered before the commit (Decision.Early)
}

// process decides every command of the batch against the state, applying
// each decision's events before deciding the next, appends all of them in
// order in one go (the log's group commit puts them in one transaction),
// then publishes and answers. If the append fails, the state is rebuilt from
// the log, so it never holds an event the log does not.
func (a *actor) process(ctx context.Context, batch []*msg, tick *Decision) {
	now := a.h.opts.Clock.Now().UTC()
	items := make([]item, 0, len(batch)+1)
	reqs := make([]eventlog.AppendRequest, 0, len(batch)+1)
	seq := a.last
	decide := func(it *item, cmd *Command) {
		for i := range it.d.Events {
			if it.d.Events[i].Actor == "" && cmd != nil {
				it.d.Events[i].Actor = cmd.Actor
			}
		}
		if len(it.d.Events) == 0 {
			return
		}
		key := ""
		if cmd != nil {
			key = cmd.Key
		}
		expected := seq
		for _, dr := range it.d.Events {
			seq++
			ev := eventlog.Event{Stream: a.stream, Seq: seq, Type: dr.Type, Time: now, Actor: dr.Actor, Data: dr.Data, Key: key}
			a.b.Apply(&ev)
		}
		it.req = len(reqs)
		reqs = append(reqs, eventlog.AppendRequest{Stream: a.stream, Expected: int64(expected), Key: key, Events: it.d.Events, Time: now})
		if key != "" {
			a.rememberKey(key, keyEntry{first: expected + 1, last: seq, reply: it.d.Reply})
		}
	}
	for _, m := range batch {
		it := item{m: m, req: -1}
		switch {
		case m.cmd.Name == inspectCommand:
			it.inspect = true
		case m.cmd.Key != "" && a.keys[m.cmd.Key].first != 0:
			k := a.keys[m.cmd.Key]
			it.dup = &k
		default:
			m.cmd.Time = now
			it.d, it.err = a.b.Decide(&m.cmd)
			if it.err == nil {
				decide(&it, &m.cmd)
			}
		}
		items = append(items, it)
	}
	if tick != nil {
		it := item{d: *tick, req: -1}
		decide(&it, nil)
		items = append(items, it)
	}
	// Commands whose decision logs nothing and says so are answered now,
	// without waiting for the batch's commit.
	for i := range items {
		it := &items[i]
		if it.m != nil && it.err == nil && it.req < 0 && !it.inspect && it.dup == nil && it.d.Early {
			it.early = true
			it.m.finish(Result{Reply: it.d.Reply}, nil)
		}
	}

	var results []eventlog.AppendResult
	var failures []error
	failed := false
	if len(reqs) > 0 {
		results, failures = a.h.opts.Log.AppendMany(ctx, reqs)
		for i := range reqs {
			if failures[i] != nil || results[i].Duplicate {
				failed = true
			}
		}
	}
	if failed {
		// Some decision did not land as decided: rebuild from the log.
		for _, e := range failures {
			if e != nil {
				a.log.Warn("append failed; reloading stream", "err", e)
				break
			}
		}
		if err := a.load(ctx); err != nil {
			a.log.Error("reload after failed append", "err", err)
		}
	} else {
		a.last = seq
	}

	// Publish what committed, in order.
	var committed []eventlog.Event
	for i := range reqs {
		if failures[i] == nil && !results[i].Duplicate {
			committed = append(committed, results[i].Events...)
		}
	}
	if len(committed) > 0 {
		a.h.opts.Publisher.PublishEvents(a.stream, committed)
		if a.observer != nil {
			a.observer(a.stream, committed)
		}
	}
	for _, it := range items {
		if it.err != nil || (it.req >= 0 && (failures[it.req] != nil || results[it.req].Duplicate)) {
			continue
		}
		actor := core.UserID("")
		if it.m != nil {
			actor = it.m.cmd.Actor
		}
		for _, e := range it.d.Ephemeral {
			a.h.opts.Publisher.PublishEphemeral(a.stream, now, actor, e)
		}
		for _, n := range it.d.Notify {
			a.h.opts.Publisher.Notify(n, now)
		}
	}

	// Answer.
	for _, it := range items {
		if it.m == nil || it.early {
			continue
		}
		switch {
		case it.inspect:
			it.m.finish(Result{Reply: a.b.State()}, nil)
		case it.err != nil:
			it.m.finish(Result{}, it.err)
		case it.dup != nil:
			evs, err := a.h.opts.Log.Read(ctx, a.stream, it.dup.first-1, int(it.dup.last-it.dup.first+1))
			it.m.finish(Result{Reply: it.dup.reply, Events: evs, Duplicate: true}, err)
		case it.req < 0:
			it.m.finish(Result{Reply: it.d.Reply}, nil)
		case failures[it.req] != nil:
			err := failures[it.req]
			if errs.CodeOf(err) == errs.Conflict {
				err = errs.Wrap(errs.Unavailable, err, "stream changed under its writer; retry")
			}
			it.m.finish(Result{}, err)
		case results[it.req].Duplicate:
			it.m.finish(Result{Events: results[it.req].Events, Duplicate: true}, nil)
		default:
			it.m.finish(Result{Reply: it.d.Reply, Events: results[it.req].Events}, nil)
		}
	}
}
