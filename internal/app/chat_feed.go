package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/protocol"
)

// chatKinds are the stream kinds the feed follows.
var chatKinds = []string{chat.KindWorkspace, chat.KindChannel, chat.KindInbox}

// chatFeed keeps this node's chat View and the read models current.
//
// Projection: the events this node's chat actors commit are handed to one
// projector goroutine (Main.observeCommits), which applies them in batches (all
// that queued while the previous batch ran: natural batching) with
// per-stream checkpoints in the same transaction. At start, and every
// chat.resync_interval, the projector also compares each chat stream's
// head in the log with its checkpoint and projects what is missing: events
// a crashed node committed but did not project, on any node. Checkpoints
// make a repeated projection harmless.
//
// View: every node's View follows every chat stream. It takes this node's
// commits directly and other nodes' from the bus (parley.ev.<kind>.*),
// dropping what it has by sequence and reading gaps from the log; the same
// periodic comparison with the log catches an event whose bus message was
// lost. At start the View is rebuilt from the log.
//
// Consistency: a chat command answers after this node's View and read
// models applied its events (read-your-writes for the caller), bounded by
// chat.read_wait. Others see a change in their View within a bus hop, and
// in the read models within a projection batch; a read that names a
// sequence (min_seq) waits until the read models reach it.
type chatFeed struct {
	n   *chatNode
	log *slog.Logger

	in   chan feedItem
	proj chan []eventlog.Event

	viewSeq, projSeq *seqWaiter

	subs []*bus.Subscription
	stop chan struct{}
	wg   sync.WaitGroup
}

type feedItem struct {
	events []eventlog.Event // committed on this node
	stream core.StreamID    // with bus: the stream of a message from the bus
	bus    []byte
}

func newChatFeed(n *chatNode) *chatFeed {
	return &chatFeed{
		n:       n,
		log:     n.log.With("part", "feed"),
		in:      make(chan feedItem, 1<<16),
		proj:    make(chan []eventlog.Event, 1<<14),
		viewSeq: newSeqWaiter(),
		projSeq: newSeqWaiter(),
		stop:    make(chan struct{}),
	}
}

// committed queues events committed on this node; it blocks while the
// projector is a full queue behind, which slows the writers down rather
// than losing track.
func (f *chatFeed) committed(evs []eventlog.Event) {
	select {
	case f.proj <- evs:
	case <-f.stop:
		return
	}
	select {
	case f.in <- feedItem{events: evs}:
	case <-f.stop:
	}
}

// start subscribes to the bus, catches the read models up with the log,
// rebuilds the View, and starts the loops.
func (f *chatFeed) start(ctx context.Context) error {
	for _, kind := range chatKinds {
		prefix := strings.TrimSuffix(bus.StreamEvents(core.NewStreamID(kind, "x")), "x")
		sub, err := f.n.m.bus.Subscribe(prefix+"*", func(subject string, data []byte) {
			stream := core.NewStreamID(kind, strings.TrimPrefix(subject, prefix))
			select {
			case f.in <- feedItem{stream: stream, bus: data}:
			case <-f.stop:
			}
		})
		if err != nil {
			return err
		}
		f.subs = append(f.subs, sub)
	}
	start := time.Now()
	if err := f.catchUp(ctx, true); err != nil {
		return err
	}
	st := f.n.view.Stats()
	f.log.Info("chat view loaded", "took", time.Since(start).Round(time.Millisecond), "workspaces", st.Workspaces, "channels", st.Channels, "streams", st.Streams)
	f.wg.Add(4)
	go f.viewLoop()
	go f.projectLoop()
	go f.countsLoop()
	go f.resyncLoop()
	return nil
}

// close stops the loops after projecting what was committed.
func (f *chatFeed) close() error {
	for _, s := range f.subs {
		_ = s.Unsubscribe()
	}
	close(f.stop)
	f.wg.Wait()
	return nil
}

// catchUp compares every chat stream in the log with its checkpoint and
// with the View, and applies what is missing to each. Only the projection
// is caught up unless view is set.
func (f *chatFeed) catchUp(ctx context.Context, view bool) error {
	cps := map[core.StreamID]uint64{}
	var after core.StreamID
	for {
		page, err := f.n.store.Checkpoints(ctx, after, 10000)
		if err != nil {
			return err
		}
		for _, c := range page {
			cps[c.Stream] = c.Last
		}
		if len(page) < 10000 {
			break
		}
		after = page[len(page)-1].Stream
	}
	for _, kind := range chatKinds {
		var after core.StreamID
		for {
			page, err := f.n.m.log.Streams(ctx, kind, after, 1000)
			if err != nil {
				return err
			}
			for _, s := range page {
				if cp := cps[s.Stream]; s.Last > cp {
					if err := f.projectFromLog(ctx, s.Stream, cp); err != nil {
						return err
					}
				}
				if seq := f.n.view.Seq(s.Stream); view && s.Last > seq {
					if err := f.viewFromLog(ctx, s.Stream, seq, s.Last); err != nil {
						return err
					}
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Stream
		}
	}
	return nil
}

// projectFromLog projects the events of stream after seq.
func (f *chatFeed) projectFromLog(ctx context.Context, stream core.StreamID, after uint64) error {
	for {
		evs, err := f.n.m.log.Read(ctx, stream, after, f.n.cfg.ProjectionBatch)
		if err != nil || len(evs) == 0 {
			return err
		}
		if f.n.hooks != nil {
			f.n.hooks.enqueue(ctx, evs)
		}
		res, err := f.n.store.ApplyBatch(ctx, evs)
		if err != nil {
			return err
		}
		for _, r := range res {
			f.projSeq.set(r.Stream, r.Checkpoint)
			after = r.Checkpoint
		}
		if len(evs) < f.n.cfg.ProjectionBatch {
			return nil
		}
	}
}

// viewFromLog applies the events of stream in (after, upto] to the View.
func (f *chatFeed) viewFromLog(ctx context.Context, stream core.StreamID, after, upto uint64) error {
	for after < upto {
		evs, err := f.n.m.log.Read(ctx, stream, after, 4096)
		if err != nil || len(evs) == 0 {
			return err
		}
		for i := range evs {
			if evs[i].Seq > upto {
				return nil
			}
			f.applyView(&evs[i])
			after = evs[i].Seq
		}
	}
	return nil
}

func (f *chatFeed) viewLoop() {
	defer f.wg.Done()
	for {
		select {
		case it := <-f.in:
			f.take(it)
		case <-f.stop:
			return
		}
	}
}

// busEvent is the JSON of an event frame.
type busEvent struct {
	Stream core.StreamID   `json:"stream"`
	Seq    uint64          `json:"seq"`
	Event  string          `json:"event"`
	Time   time.Time       `json:"time"`
	Actor  core.UserID     `json:"actor"`
	Data   json.RawMessage `json:"data"`
}

func (f *chatFeed) take(it feedItem) {
	if it.bus == nil {
		for i := range it.events {
			f.applyView(&it.events[i])
		}
		return
	}
	fr, ok := protocol.UnpackBus(it.bus)
	if !ok || fr.Seq <= f.n.view.Seq(it.stream) {
		return // malformed, or already applied (this node's own commit)
	}
	var be busEvent
	if err := json.Unmarshal(fr.Payload(), &be); err != nil || be.Stream != it.stream {
		f.log.Warn("malformed chat event from the bus", "stream", string(it.stream))
		return
	}
	ev := eventlog.Event{Stream: be.Stream, Seq: be.Seq, Type: be.Event, Time: be.Time, Actor: be.Actor, Data: be.Data}
	f.applyView(&ev)
}

// applyView applies ev, reading any events before it that the View lacks
// from the log first, and delivers what it tells users.
func (f *chatFeed) applyView(ev *eventlog.Event) {
	notes, gap := f.n.view.Apply(ev)
	if gap {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := f.viewFromLog(ctx, ev.Stream, f.n.view.Seq(ev.Stream), ev.Seq-1)
		cancel()
		if err != nil {
			f.log.Warn("chat view gap fill failed; the resync will retry", "stream", string(ev.Stream), "err", err)
			return
		}
		if notes, gap = f.n.view.Apply(ev); gap {
			return
		}
	}
	f.n.deliverNotes(notes)
	f.viewSeq.set(ev.Stream, f.n.view.Seq(ev.Stream))
}

func (f *chatFeed) projectLoop() {
	defer f.wg.Done()
	limit := f.n.cfg.ProjectionBatch
	for {
		var batch []eventlog.Event
		select {
		case evs := <-f.proj:
			batch = append(batch, evs...)
		case <-f.stop:
			// Project what was committed before the stop.
			for {
				select {
				case evs := <-f.proj:
					f.project(evs)
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < limit {
			select {
			case evs := <-f.proj:
				batch = append(batch, evs...)
			default:
				break fill
			}
		}
		f.project(groupByStream(batch))
	}
}

// groupByStream makes each stream's events consecutive, in their order.
func groupByStream(evs []eventlog.Event) []eventlog.Event {
	var order []core.StreamID
	groups := map[core.StreamID][]eventlog.Event{}
	for _, e := range evs {
		if _, ok := groups[e.Stream]; !ok {
			order = append(order, e.Stream)
		}
		groups[e.Stream] = append(groups[e.Stream], e)
	}
	if len(order) == 1 {
		return evs
	}
	out := make([]eventlog.Event, 0, len(evs))
	for _, s := range order {
		out = append(out, groups[s]...)
	}
	return out
}

// project applies a batch, filling gaps from the log, and retries a
// failing batch stream by stream so that one bad stream (left for the
// resync to retry) does not hold the others back.
func (f *chatFeed) project(evs []eventlog.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if f.n.hooks != nil {
		f.n.hooks.enqueue(ctx, evs)
	}
	var res []chat.ProjectionResult
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if res, err = f.n.store.ApplyBatch(ctx, evs); err == nil {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	if err != nil {
		streams := groupStreams(evs)
		if len(streams) == 1 {
			f.n.metrics.projectionErrors.Inc()
			f.log.Error("chat projection failed; the resync will retry", "stream", string(evs[0].Stream), "err", err)
			return
		}
		for _, g := range streams {
			f.project(g)
		}
		return
	}
	for _, r := range res {
		if r.Gap {
			if err := f.projectFromLog(ctx, r.Stream, r.Checkpoint); err != nil {
				f.log.Warn("chat projection gap fill failed; the resync will retry", "stream", string(r.Stream), "err", err)
			}
			continue
		}
		f.projSeq.set(r.Stream, r.Checkpoint)
	}
}

func groupStreams(evs []eventlog.Event) [][]eventlog.Event {
	var out [][]eventlog.Event
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].Stream == evs[i].Stream {
			j++
		}
		out = append(out, evs[i:j])
		i = j
	}
	return out
}

// countsLoop pushes changed unread and mention counts to this node's
// connected users every chat.counts_interval.
func (f *chatFeed) countsLoop() {
	defer f.wg.Done()
	t := time.NewTicker(f.n.cfg.CountsInterval)
	defer t.Stop()
	gw := f.n.m.gw
	for {
		select {
		case <-f.stop:
			return
		case now := <-t.C:
			changes := f.n.view.TakeCounts(func(u core.UserID) bool { return gw.LocalConnections(u) > 0 })
			for _, c := range changes {
				data, _ := json.Marshal(c)
				gw.DeliverToUser(c.User, protocol.MustEncode(protocol.Push{Type: protocol.TypePush, Event: chat.PushCounts, Time: now.UTC(), Data: data}))
			}
		}
	}
}

func (f *chatFeed) resyncLoop() {
	defer f.wg.Done()
	t := time.NewTicker(f.n.cfg.ResyncInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), f.n.cfg.ResyncInterval)
			if err := f.catchUp(ctx, true); err != nil && !errors.Is(err, context.Canceled) {
				f.log.Warn("chat resync failed", "err", err)
			}
			cancel()
		}
	}
}

// applied waits until this node's View and the read models hold stream up
// to seq (projected here, or by the stream's owner node), at most
// chat.read_wait.
func (f *chatFeed) applied(ctx context.Context, stream core.StreamID, seq uint64) {
	wctx, cancel := context.WithTimeout(ctx, f.n.cfg.ReadWait)
	defer cancel()
	if f.viewSeq.wait(wctx, stream, seq) == nil {
		_ = f.projected(ctx, stream, seq)
	}
}

// projected waits until the read models hold stream up to seq, projected
// on this node or elsewhere, at most chat.read_wait; it returns
// errs.Unavailable if they do not.
func (f *chatFeed) projected(ctx context.Context, stream core.StreamID, seq uint64) error {
	if seq == 0 || f.projSeq.get(stream) >= seq {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.n.cfg.ReadWait)
	defer cancel()
	for {
		cp, err := f.n.store.Checkpoint(ctx, stream)
		if err == nil && cp >= seq {
			f.projSeq.set(stream, cp)
			return nil
		}
		select {
		case <-ctx.Done():
			return errs.E(errs.Unavailable, "the read models have not reached %s#%d yet; retry", stream, seq)
		case <-f.projSeq.changed():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// seqWaiter tracks a sequence per stream and wakes waiters when one moves.
type seqWaiter struct {
	mu   sync.Mutex
	seqs map[core.StreamID]uint64
	ch   chan struct{}
}

func newSeqWaiter() *seqWaiter {
	return &seqWaiter{seqs: map[core.StreamID]uint64{}, ch: make(chan struct{})}
}

func (w *seqWaiter) set(s core.StreamID, seq uint64) {
	w.mu.Lock()
	if seq > w.seqs[s] {
		w.seqs[s] = seq
		close(w.ch)
		w.ch = make(chan struct{})
	}
	w.mu.Unlock()
}

func (w *seqWaiter) get(s core.StreamID) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seqs[s]
}

func (w *seqWaiter) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *seqWaiter) wait(ctx context.Context, s core.StreamID, seq uint64) error {
	for {
		w.mu.Lock()
		if w.seqs[s] >= seq {
			w.mu.Unlock()
			return nil
		}
		ch := w.ch
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
