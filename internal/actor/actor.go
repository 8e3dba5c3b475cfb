// Package actor runs Parley's one-writer-per-conversation model. Each active
// stream (a room, a channel, a topic) is owned by one actor: a goroutine that
// holds the stream's state in memory, validates each command against it with
// the domain's pure rules (a Behavior), appends the resulting events to the
// log with an expected-sequence check, applies them, and publishes them for
// fan-out. Commands for one stream are therefore serialised without locks,
// and the state is always the fold of the stream's logged events.
package actor

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Command asks an actor to change its stream.
type Command struct {
	Name  string
	Actor core.UserID
	Data  json.RawMessage
	// Key makes the command idempotent: a retried command with the same key
	// is applied once and answered with the first answer.
	Key string
	// Time is stamped by the host; behaviours read it as "now".
	Time time.Time
}

// Ephemeral is an event that is published but never logged (typing, a
// reaction tick). It carries no sequence and is not replayed.
type Ephemeral struct {
	Type string
	Data json.RawMessage
}

// Decision is what a behaviour decides for a command or a tick.
type Decision struct {
	Events    []eventlog.Draft
	Ephemeral []Ephemeral
	Reply     any
	// Notify lists users to push the committed events to (for example the
	// people mentioned), delivered after the commit.
	Notify []Notice
	// Early, on a command's decision that logs no event, answers the
	// command as soon as it is decided instead of after the commit of the
	// batch it was decided in: for answers that do not depend on other
	// commands' events reaching the log (a reaction counted for the next
	// tick). Its ephemeral events and notices still go out after the
	// commit.
	Early bool
}

// Notice is a frame pushed to one user wherever they are connected.
type Notice struct {
	User  core.UserID
	Event string
	Data  json.RawMessage
}

// Behavior is the domain logic of one stream: pure rules over in-memory
// state, with no I/O. The host calls it from the actor's goroutine only.
type Behavior interface {
	// Apply folds an event into the state. It is called with every logged
	// event in order, both when the actor loads the stream and after each
	// decision (before the commit, with the sequence and time the events will
	// have), so it must be deterministic.
	Apply(ev *eventlog.Event)
	// Decide validates cmd against the state and returns the events it
	// causes. It must not change the state: Apply does.
	Decide(cmd *Command) (Decision, error)
	// State returns a JSON-encodable view of the state (for replay and
	// inspection).
	State() any
}

// Ticker is implemented by behaviours that act on time (aggregation ticks,
// deadlines, grace periods). Tick is called every TickInterval while the
// actor runs, with the host clock's time (so an injected clock moves
// deadlines), and the actor stays resident while Busy reports true.
type Ticker interface {
	TickInterval() time.Duration
	Tick(now time.Time) (Decision, bool)
	Busy() bool
}

// Flusher is implemented by behaviours that hold accepted input not logged
// yet (reactions counted until the next tick): when the host stops the
// actor gracefully (Close), after the commands already received, it calls
// Flush once and commits its decision, so that nothing acknowledged is
// dropped by a clean shutdown.
type Flusher interface {
	Flush(now time.Time) (Decision, bool)
}

// Factory makes the behaviour of a new actor for stream.
type Factory func(stream core.StreamID) Behavior

// Publisher fans committed and ephemeral events out to the nodes.
type Publisher interface {
	// PublishEvents is called with the committed events of one decision
	// batch, in sequence order.
	PublishEvents(stream core.StreamID, evs []eventlog.Event)
	PublishEphemeral(stream core.StreamID, at time.Time, actor core.UserID, e Ephemeral)
	Notify(n Notice, at time.Time)
}

// Log is the part of the event log an actor needs.
type Log interface {
	Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]eventlog.Event, error)
	AppendMany(ctx context.Context, reqs []eventlog.AppendRequest) ([]eventlog.AppendResult, []error)
}

// Result answers a command.
type Result struct {
	Reply     any
	Events    []eventlog.Event
	Duplicate bool
}

// Options configure a Host.
type Options struct {
	Log       Log
	Publisher Publisher
	Clock     core.Clock
	Logger    *slog.Logger
	// IdleTimeout stops an actor that received no command for this long and
	// is not busy (default 5 minutes).
	IdleTimeout time.Duration
	// MaxBatch bounds the commands decided before one append (default 256).
	MaxBatch int
	// RecentKeys bounds the idempotency keys an actor remembers (default 4096);
	// older retries are still caught by the log.
	RecentKeys int
	// Node is this node's id.
	Node core.NodeID
	// Leases, when set, makes streams owned by one node of a cluster at a
	// time; Forwarder then carries commands to the owner. Without Leases
	// (a single node), every actor runs here.
	Leases    Leases
	Forwarder Forwarder
	// LeaseTTL is how long an owner keeps a stream without renewing, and so
	// how long a dead owner's streams wait before another node takes them
	// (default 10s).
	LeaseTTL time.Duration
}

// Host owns the actors of this node. It is safe for concurrent use.
type Host struct {
	opts      Options
	kinds     map[string]Factory
	observers map[string]Observer
	mu        sync.Mutex
	actors    map[core.StreamID]*actor
	closed    bool
	wg        sync.WaitGroup
	owners    owners
}

// NewHost returns a Host. Register kinds before the first Do.
func NewHost(o Options) *Host {
	if o.Clock == nil {
		o.Clock = core.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.RecentKeys <= 0 {
		o.RecentKeys = 4096
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	return &Host{opts: o, kinds: map[string]Factory{}, observers: map[string]Observer{}, actors: map[core.StreamID]*actor{}}
}

// Register sets the behaviour factory of a stream kind. It is safe to call
// while other kinds' actors already run (domains start their background
// workers as they register); streams of kind are unknown until it returns.
func (h *Host) Register(kind string, f Factory) {
	h.mu.Lock()
	h.kinds[kind] = f
	h.mu.Unlock()
}

// Observer is told about the committed events of one stream, in sequence
// order, right after they are published. It runs on the stream's actor
// goroutine, so it must not block: a domain uses it to schedule work that
// follows its events (read-model projections, background jobs).
type Observer func(stream core.StreamID, evs []eventlog.Event)

// Observe sets the observer of a stream kind. It must be called before the
// first Do or Tell. Events of one stream reach the observer in sequence
// order, on the node that owns the stream; a node that crashes between a
// commit and its observer loses that call, so observers must tolerate
// missed calls (for example by catching up from the log).
func (h *Host) Observe(kind string, fn Observer) {
	h.mu.Lock()
	h.observers[kind] = fn
	h.mu.Unlock()
}

// Tell queues cmd for the actor of stream and returns without waiting for
// the outcome, which is dropped. Commands told by one goroutine to one
// stream are decided in the order told, and after those it sent earlier
// with Do. On a single node Tell only waits while the actor's mailbox is
// full; with leases it waits until the owner (here or on another node)
// took the command, which keeps the order.
func (h *Host) Tell(ctx context.Context, stream core.StreamID, cmd Command) error {
	if err := h.check(stream, &cmd); err != nil {
		return err
	}
	if h.opts.Leases != nil {
		_, err := h.route(ctx, stream, cmd)
		if err != nil && errs.CodeOf(err) != errs.Unavailable && !errors.Is(err, context.DeadlineExceeded) {
			return nil // the command ran and was refused: its outcome is dropped
		}
		return err
	}
	a, err := h.actorFor(stream)
	if err != nil {
		return err
	}
	select {
	case a.mailbox <- &msg{cmd: cmd, done: make(chan struct{})}:
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		a.inflight--
		h.mu.Unlock()
		return ctx.Err()
	}
}

// actorFor returns this node's actor of stream, starting it if needed, with
// one more command counted in flight for it.
func (h *Host) actorFor(stream core.StreamID) (*actor, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	a := h.actors[stream]
	if a == nil {
		f, ok := h.kinds[stream.Kind()]
		if !ok {
			return nil, errs.E(errs.NotFound, "no stream kind %q", stream.Kind())
		}
		a = newActor(h, stream, f)
		a.observer = h.observers[stream.Kind()]
		h.actors[stream] = a
		h.wg.Add(1)
		go a.run()
	}
	a.inflight++
	return a, nil
}

// ErrClosed is returned by Do after Close.
var ErrClosed = errs.E(errs.Unavailable, "actor host closed")

// Do runs cmd on the actor of stream, starting the actor if needed, and
// waits for the outcome. Commands to one stream are decided in the order Do
// was called for them (for calls that do not overlap in time) and their
// events committed in that order. In a cluster the command runs on the node
// that owns the stream.
func (h *Host) Do(ctx context.Context, stream core.StreamID, cmd Command) (Result, error) {
	if err := h.check(stream, &cmd); err != nil {
		return Result{}, err
	}
	if h.opts.Leases == nil {
		return h.local(ctx, stream, cmd)
	}
	return h.route(ctx, stream, cmd)
}

func (h *Host) check(stream core.StreamID, cmd *Command) error {
	if err := stream.Validate(); err != nil {
		return errs.Wrap(errs.InvalidArgument, err, "bad stream")
	}
	if len(cmd.Key) > eventlog.MaxKeyLen {
		return errs.E(errs.InvalidArgument, "idempotency key longer than %d bytes", eventlog.MaxKeyLen)
	}
	return nil
}

// local runs cmd on this node's actor of stream. With leases, a new actor
// first takes the stream's lease; if another node owns it, the command
// fails with a *NotOwnerError.
func (h *Host) local(ctx context.Context, stream core.StreamID, cmd Command) (Result, error) {
	m := &msg{cmd: cmd, done: make(chan struct{})}
	a, err := h.actorFor(stream)
	if err != nil {
		return Result{}, err
	}
	select {
	case a.mailbox <- m:
	case <-ctx.Done():
		h.mu.Lock()
		a.inflight--
		h.mu.Unlock()
		return Result{}, ctx.Err()
	}
	select {
	case <-m.done:
		return m.res, m.err
	case <-ctx.Done():
		// The command may still be applied; its key makes a retry safe.
		return Result{}, ctx.Err()
	}
}

// Inspect returns the state view of stream's actor, loading it if needed.
func (h *Host) Inspect(ctx context.Context, stream core.StreamID) (any, error) {
	res, err := h.Do(ctx, stream, Command{Name: inspectCommand})
	if err != nil {
		return nil, err
	}
	return res.Reply, nil
}

const inspectCommand = "\x00inspect"

// Close stops every actor after the commands already received are done.
func (h *Host) Close() {
	h.mu.Lock()
	h.closed = true
	for _, a := range h.actors {
		close(a.quit)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// Active returns the number of running actors.
func (h *Host) Active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.actors)
}

type msg struct {
	cmd  Command
	res  Result
	err  error
	done chan struct{}
}

func (m *msg) finish(res Result, err error) {
	m.res, m.err = res, err
	close(m.done)
}

// Replay folds every event of stream at or before at (zero: all) into a new
// behaviour from f and returns it, with the events read.
func Replay(ctx context.Context, log interface {
	Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]eventlog.Event, error)
}, f Factory, stream core.StreamID, at time.Time, each func(*eventlog.Event)) (Behavior, error) {
	b := f(stream)
	err := eventlog.ReadAll(ctx, log, stream, 0, func(e eventlog.Event) error {
		if !at.IsZero() && e.Time.After(at) {
			return eventlog.ErrStop
		}
		if each != nil {
			each(&e)
		}
		b.Apply(&e)
		return nil
	})
	if err != nil && !errors.Is(err, eventlog.ErrStop) {
		return nil, err
	}
	return b, nil
}
