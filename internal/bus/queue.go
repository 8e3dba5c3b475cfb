package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// QueueConfig describes a work queue. Zero fields take the defaults below.
type QueueConfig struct {
	// Name of the queue, [A-Za-z0-9_-].
	Name    string
	Storage Storage
	// AckWait is how long a worker has to finish a job (or to call
	// Job.InProgress) before the job is given to another worker. Default
	// 30 s.
	AckWait time.Duration
	// MaxDeliver is how many deliveries a job gets before it is
	// dead-lettered. Default 5.
	MaxDeliver int
	// Backoff is how long a job whose worker returned an error waits
	// before its next delivery: Backoff[0] after the first failure,
	// Backoff[1] after the second, the last value for every later one.
	// Default 1 s, 10 s, 1 min. Jobs that time out are redelivered as soon
	// as AckWait passes.
	Backoff []time.Duration
	// DedupWindow is how long a job id is remembered by Enqueue. Default
	// 2 min (capped at MaxAge).
	DedupWindow time.Duration
	// MaxAge, if positive, drops jobs still waiting after that long.
	MaxAge time.Duration
	// DeadLetterMaxAge, if positive, drops dead letters older than that.
	DeadLetterMaxAge time.Duration
	// Replicas is the number of copies kept in a cluster, 1 (the default)
	// to 5.
	Replicas int
}

// Queue defaults.
const (
	DefaultAckWait     = 30 * time.Second
	DefaultMaxDeliver  = 5
	DefaultDedupWindow = 2 * time.Minute
)

// DefaultBackoff is the delay schedule of failed jobs when
// QueueConfig.Backoff is empty.
var DefaultBackoff = []time.Duration{time.Second, 10 * time.Second, time.Minute}

// Queue is a work queue: a JetStream stream with work-queue retention (a
// job is removed once acknowledged) consumed by durable pull consumers,
// with a dead-letter stream beside it. A Queue is safe for concurrent use.
//
// Guarantees, exactly:
//
//   - Enqueue returns once the job is stored (on a quorum of replicas in a
//     cluster). A second Enqueue with the same id within DedupWindow stores
//     nothing and succeeds, so a retried Enqueue cannot duplicate a job.
//   - Jobs are handed out roughly in enqueue order, each to one worker at a
//     time, across every process consuming the queue. Processing is
//     at-least-once: a job whose worker crashes, hangs, or runs past
//     AckWait without calling Job.InProgress is delivered again, and may
//     then run twice at the same time; handlers must be idempotent.
//   - A job whose handler returns nil is acknowledged (the server confirms
//     the ack) and removed. If that confirmation is lost the job can be
//     delivered again.
//   - A job whose handler returns an error is delivered again after its
//     Backoff delay, until its MaxDeliver-th delivery fails: then it is
//     dead-lettered with that error. An error wrapped with Permanent is
//     dead-lettered at once.
//   - Every delivery counts, including those lost to a crash, a timeout or
//     a shutdown. A job delivered for the (MaxDeliver+1)-th time, because
//     its last delivery ended without a result, is dead-lettered without
//     calling the handler.
//   - Dead-lettering stores the job in the dead-letter stream (on
//     DeadLetterSubject) before removing it from the queue; if storing
//     fails the job stays queued and is tried again, and a repeated store
//     is deduplicated, so a job is never lost in between.
type Queue struct {
	b          *Bus
	cfg        QueueConfig
	streamName string
	dlqName    string
	stream     jetstream.Stream
	dlq        jetstream.Stream
}

// Headers of a dead-lettered job.
const (
	hdrQueue    = "Parley-Queue"
	hdrJobID    = "Parley-Job-Id"
	hdrAttempts = "Parley-Attempts"
	hdrError    = "Parley-Error"
	hdrEnqueued = "Parley-Enqueued"
)

// Queue creates the work queue described by cfg and its dead-letter
// stream, or updates their configuration if they exist, and returns a
// handle. Calls with the same configuration are idempotent.
func (b *Bus) Queue(ctx context.Context, cfg QueueConfig) (*Queue, error) {
	if !core.ValidToken(cfg.Name) {
		return nil, errs.E(errs.InvalidArgument, "bus: queue name %q must be [A-Za-z0-9_-]", cfg.Name)
	}
	if cfg.AckWait < 0 || cfg.MaxDeliver < 0 || cfg.DedupWindow < 0 || cfg.MaxAge < 0 || cfg.DeadLetterMaxAge < 0 || cfg.Replicas < 0 {
		return nil, errs.E(errs.InvalidArgument, "bus: queue %s: negative setting", cfg.Name)
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = DefaultMaxDeliver
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = DefaultBackoff
	}
	cfg.Backoff = append([]time.Duration(nil), cfg.Backoff...)
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.MaxAge > 0 && cfg.DedupWindow > cfg.MaxAge {
		cfg.DedupWindow = cfg.MaxAge
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	q := &Queue{b: b, cfg: cfg, streamName: QueueStream(cfg.Name), dlqName: DeadLetterStream(cfg.Name)}
	if err := q.ensure(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// ensure creates or updates both streams.
func (q *Queue) ensure(ctx context.Context) error {
	cfg := q.cfg
	st, err := q.b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       q.streamName,
		Subjects:   []string{QueueSubject(cfg.Name)},
		Retention:  jetstream.WorkQueuePolicy,
		Storage:    cfg.Storage.js(),
		Replicas:   cfg.Replicas,
		Duplicates: cfg.DedupWindow,
		MaxAge:     cfg.MaxAge,
		Discard:    jetstream.DiscardOld,
	})
	if err != nil {
		return wrapJS(err, "bus: create queue "+cfg.Name)
	}
	dedup := DefaultDedupWindow
	if cfg.DeadLetterMaxAge > 0 && dedup > cfg.DeadLetterMaxAge {
		dedup = cfg.DeadLetterMaxAge
	}
	dlq, err := q.b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       q.dlqName,
		Subjects:   []string{DeadLetterSubject(cfg.Name)},
		Retention:  jetstream.LimitsPolicy,
		Storage:    cfg.Storage.js(),
		Replicas:   cfg.Replicas,
		Duplicates: dedup,
		MaxAge:     cfg.DeadLetterMaxAge,
	})
	if err != nil {
		return wrapJS(err, "bus: create dead-letter stream of "+cfg.Name)
	}
	q.stream, q.dlq = st, dlq
	return nil
}

// Name returns the queue name.
func (q *Queue) Name() string { return q.cfg.Name }

// Enqueue stores a job. msgID identifies it for deduplication within the
// DedupWindow (an empty msgID gets a fresh id, so the job is never
// deduplicated); it must not contain control characters. See Queue for the
// guarantees.
func (q *Queue) Enqueue(ctx context.Context, msgID string, data []byte) error {
	if msgID == "" {
		msgID = core.NewID("job")
	}
	if strings.IndexFunc(msgID, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return errs.E(errs.InvalidArgument, "bus: enqueue %s: job id has control characters", q.cfg.Name)
	}
	m := &nats.Msg{Subject: QueueSubject(q.cfg.Name), Data: data, Header: nats.Header{}}
	_, err := q.b.js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(q.streamName))
	if err != nil {
		return wrapJS(err, "bus: enqueue on "+q.cfg.Name)
	}
	return nil
}

// Depth returns the number of jobs in the queue: waiting, and delivered
// but not yet acknowledged. It is the queue-depth metric to scale workers
// on. Dead-lettered jobs are not counted.
func (q *Queue) Depth(ctx context.Context) (uint64, error) {
	info, err := q.stream.Info(ctx)
	if err != nil {
		return 0, wrapJS(err, "bus: depth of "+q.cfg.Name)
	}
	return info.State.Msgs, nil
}

// DeadLetterDepth returns the number of dead-lettered jobs kept (the
// dead-letter metric).
func (q *Queue) DeadLetterDepth(ctx context.Context) (uint64, error) {
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return 0, wrapJS(err, "bus: dead letters of "+q.cfg.Name)
	}
	return info.State.Msgs, nil
}

// Job is one delivery of a queued job to a worker.
type Job struct {
	// ID is the id given to Enqueue.
	ID   string
	Data []byte
	// Attempt counts deliveries of this job, from 1.
	Attempt  int
	Enqueued time.Time

	msg      jetstream.Msg
	deadline *deadline
}

// InProgress tells the server the job is still being worked on: the job
// gets another full AckWait before it is delivered again, and the context
// given to the handler is extended as much. It returns an errs.Conflict
// error if the handler's context had already ended (the job may then be
// running elsewhere).
func (j Job) InProgress() error {
	if j.msg == nil || j.deadline == nil {
		return errs.E(errs.InvalidArgument, "bus: job was not delivered by a consumer")
	}
	if !j.deadline.extend() {
		return errs.E(errs.Conflict, "bus: job %s ran past its AckWait", j.ID)
	}
	if err := j.msg.InProgress(); err != nil {
		return wrapJS(err, "bus: job in progress")
	}
	return nil
}

// handlerWait is how long a handler's context lasts after a delivery or an
// extension: AckWait less a tenth (at most a second), which leaves a
// handler that stops on cancellation time to have its result reach the
// server before the job is handed to another worker.
func handlerWait(ackWait time.Duration) time.Duration {
	return ackWait - min(ackWait/10, time.Second)
}

// deadline cancels a job's context handlerWait after delivery or after the
// last extension.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	expired bool
	wait    time.Duration
	cancel  context.CancelFunc
}

func newDeadline(parent context.Context, wait time.Duration) (context.Context, *deadline) {
	ctx, cancel := context.WithCancel(parent)
	d := &deadline{wait: wait, cancel: cancel}
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		d.expired = true
		d.mu.Unlock()
		cancel()
	})
	return ctx, d
}

func (d *deadline) extend() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.expired || !d.timer.Stop() {
		return false
	}
	d.timer.Reset(d.wait)
	return true
}

func (d *deadline) release() {
	d.timer.Stop()
	d.cancel()
}

// Permanent marks err as a failure that retrying cannot fix: a handler
// returning it has its job dead-lettered at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// fetchWait bounds one pull request; the loop issues the next at once.
// While it waits, the server sends a heartbeat every fetchHeartbeat; two
// missed heartbeats (the server lost the request, as when a consumer
// leader moves) end the request early, and so does a reconnection.
const (
	fetchWait      = 5 * time.Second
	fetchHeartbeat = time.Second
)

// Consume runs fn on the queue's jobs, at most concurrency at a time, in
// this process, through the durable consumer named durable (created if
// needed), until ctx is done or stop is called. Every process working on
// the queue must use the same durable name (a work queue admits one
// consumer); they then share the jobs, each job going to one of them. fn
// gets a context that is cancelled shortly before the job's AckWait runs
// out (by a tenth of it, at most a second; see Job.InProgress), so that a
// handler that gives up on cancellation still has its result counted; the
// result decides the job's fate as Queue describes. A result returned after
// that may come too late: the job may already be running elsewhere. A panic
// in fn counts as an error.
//
// Jobs are fetched only when a worker slot is free, so a job never waits in
// a local buffer while its AckWait runs. stop stops fetching, waits for
// the handlers already running to return and their results to be sent,
// and is safe to call more than once; it must not be called from fn. Close
// of the Bus calls it too.
func (q *Queue) Consume(ctx context.Context, durable string, concurrency int, fn func(ctx context.Context, j Job) error) (stop func(), err error) {
	if !core.ValidToken(durable) {
		return nil, errs.E(errs.InvalidArgument, "bus: consumer name %q must be [A-Za-z0-9_-]", durable)
	}
	if concurrency < 1 {
		concurrency = 1
	}
	cons, err := q.consumer(ctx, durable)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c := &consumerLoop{q: q, durable: durable, cons: cons, fn: fn, sem: make(chan struct{}, concurrency), loopDone: make(chan struct{})}
	var once sync.Once
	var id atomic.Uint64
	stop = func() {
		once.Do(func() {
			cancel()
			<-c.loopDone
			c.handlers.Wait()
			q.b.untrack(id.Load())
		})
	}
	tid, err := q.b.track(stop)
	if err != nil {
		cancel()
		return nil, err
	}
	id.Store(tid)
	go c.run(runCtx)
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-runCtx.Done():
		}
	}()
	return stop, nil
}

func (q *Queue) consumer(ctx context.Context, durable string) (jetstream.Consumer, error) {
	cons, err := q.b.js.CreateOrUpdateConsumer(ctx, q.streamName, jetstream.ConsumerConfig{
		Durable:   durable,
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   q.cfg.AckWait,
		// Parley counts deliveries itself (see Queue) so that a job is
		// dead-lettered rather than left in the stream when its last
		// delivery times out.
		MaxDeliver:    -1,
		MaxAckPending: -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, wrapJS(err, "bus: create consumer "+durable+" on "+q.cfg.Name)
	}
	return cons, nil
}

type consumerLoop struct {
	q        *Queue
	durable  string
	cons     jetstream.Consumer
	fn       func(context.Context, Job) error
	sem      chan struct{}
	handlers sync.WaitGroup
	loopDone chan struct{}
}

func (c *consumerLoop) run(ctx context.Context) {
	defer close(c.loopDone)
	pause := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	failures := 0
	for {
		// Take one free slot, waiting for it, then any others free now.
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < cap(c.sem) {
			select {
			case c.sem <- struct{}{}:
				n++
			default:
				break more
			}
		}
		got, err := c.fetch(ctx, n)
		for i := got; i < n; i++ {
			<-c.sem
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			continue
		}
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConnectionClosed) {
			return
		}
		failures++
		if failures == 1 || failures%20 == 0 {
			c.q.b.log.Warn("bus: fetch jobs", "queue", c.q.cfg.Name, "consumer", c.durable, "err", err)
		}
		if !pause(min(time.Duration(failures)*250*time.Millisecond, 2*time.Second)) {
			return
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
			errors.Is(err, jetstream.ErrStreamNotFound) {
			// A server restarted without its memory-stored streams, or
			// someone deleted the consumer: put them back.
			c.recreate(ctx)
		}
	}
}

// fetch pulls up to n jobs and starts a handler for each; it returns how
// many it started.
func (c *consumerLoop) fetch(ctx context.Context, n int) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	reconnected := c.q.b.reconnectSignal()
	go func() {
		select {
		case <-reconnected:
			cancel()
		case <-fctx.Done():
		}
	}()
	batch, err := c.cons.Fetch(n, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(fetchHeartbeat))
	if err != nil {
		return 0, err
	}
	got := 0
	for m := range batch.Messages() {
		got++
		c.handlers.Add(1)
		go func() {
			defer func() { <-c.sem }()
			defer c.handlers.Done()
			c.q.handle(m, c.fn)
		}()
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return got, err
	}
	return got, nil
}

func (c *consumerLoop) recreate(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.q.ensure(rctx); err != nil {
		c.q.b.log.Warn("bus: recreate queue", "queue", c.q.cfg.Name, "err", err)
		return
	}
	cons, err := c.q.consumer(rctx, c.durable)
	if err != nil {
		c.q.b.log.Warn("bus: recreate consumer", "queue", c.q.cfg.Name, "consumer", c.durable, "err", err)
		return
	}
	c.cons = cons
}

// handle runs fn on one delivery and settles it.
func (q *Queue) handle(m jetstream.Msg, fn func(context.Context, Job) error) {
	job := Job{Data: m.Data(), Attempt: 1, msg: m}
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		job.Attempt = int(md.NumDelivered)
		job.Enqueued = md.Timestamp
		seq = md.Sequence.Stream
	}
	job.ID = m.Headers().Get(jetstream.MsgIDHeader)
	if job.ID == "" {
		job.ID = strconv.FormatUint(seq, 10)
	}
	if job.Attempt > q.cfg.MaxDeliver {
		q.deadLetter(m, job, seq, fmt.Sprintf("no result after %d deliveries: the last one was not acknowledged within AckWait (%v); the worker crashed, hung or shut down", job.Attempt-1, q.cfg.AckWait))
		return
	}
	ctx, dl := newDeadline(context.Background(), handlerWait(q.cfg.AckWait))
	job.deadline = dl
	err := call(ctx, fn, job)
	dl.release()
	switch {
	case err == nil:
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.DoubleAck(actx); err != nil {
			q.b.log.Warn("bus: ack job", "queue", q.cfg.Name, "job", job.ID, "err", err)
		}
	case IsPermanent(err) || job.Attempt >= q.cfg.MaxDeliver:
		q.deadLetter(m, job, seq, err.Error())
	default:
		delay := q.cfg.Backoff[min(job.Attempt-1, len(q.cfg.Backoff)-1)]
		if err := m.NakWithDelay(delay); err != nil {
			q.b.log.Warn("bus: nak job", "queue", q.cfg.Name, "job", job.ID, "err", err)
		}
	}
}

// call runs fn, turning a panic into an error.
func call(ctx context.Context, fn func(context.Context, Job) error, j Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(ctx, j)
}

// deadLetter stores the job in the dead-letter stream, then terminates its
// delivery, which removes it from the work queue. If the store fails the
// job is handed back for a later delivery instead.
func (q *Queue) deadLetter(m jetstream.Msg, job Job, seq uint64, reason string) {
	dm := &nats.Msg{Subject: DeadLetterSubject(q.cfg.Name), Data: job.Data, Header: nats.Header{}}
	dm.Header.Set(hdrQueue, q.cfg.Name)
	dm.Header.Set(hdrJobID, job.ID)
	dm.Header.Set(hdrAttempts, strconv.Itoa(job.Attempt))
	dm.Header.Set(hdrError, headerSafe(reason))
	if !job.Enqueued.IsZero() {
		dm.Header.Set(hdrEnqueued, job.Enqueued.UTC().Format(time.RFC3339Nano))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := q.b.js.PublishMsg(ctx, dm,
		jetstream.WithMsgID(job.ID+"#"+strconv.FormatUint(seq, 10)),
		jetstream.WithExpectStream(q.dlqName))
	if err != nil {
		q.b.log.Error("bus: dead-letter job", "queue", q.cfg.Name, "job", job.ID, "err", err)
		_ = m.NakWithDelay(q.cfg.Backoff[len(q.cfg.Backoff)-1])
		return
	}
	q.b.log.Warn("bus: job dead-lettered", "queue", q.cfg.Name, "job", job.ID, "attempts", job.Attempt, "error", reason)
	if err := m.TermWithReason("dead-lettered"); err != nil {
		q.b.log.Warn("bus: terminate dead-lettered job", "queue", q.cfg.Name, "job", job.ID, "err", err)
	}
}

// maxErrorLen bounds the error text kept with a dead letter.
const maxErrorLen = 2048

// headerSafe makes s a one-line header value of bounded length.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen]
	}
	return s
}

// DeadLetter is a job that exhausted its deliveries or failed permanently.
type DeadLetter struct {
	// Seq is the dead letter's sequence in the dead-letter stream.
	Seq      uint64
	JobID    string
	Data     []byte
	Attempts int
	// Error is the last error of the job's handler, or why it got none.
	Error    string
	Enqueued time.Time
	Failed   time.Time
}

// DeadLetters returns up to limit dead-lettered jobs, oldest first.
func (q *Queue) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		return nil, nil
	}
	info, err := q.dlq.Info(ctx)
	if err != nil {
		return nil, wrapJS(err, "bus: dead letters of "+q.cfg.Name)
	}
	var out []DeadLetter
	if info.State.Msgs == 0 {
		return out, nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && len(out) < limit; seq++ {
		m, err := q.dlq.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed by MaxAge or deleted
		}
		if err != nil {
			return nil, wrapJS(err, "bus: dead letters of "+q.cfg.Name)
		}
		dl := DeadLetter{
			Seq:    m.Sequence,
			JobID:  m.Header.Get(hdrJobID),
			Data:   m.Data,
			Error:  m.Header.Get(hdrError),
			Failed: m.Time,
		}
		dl.Attempts, _ = strconv.Atoi(m.Header.Get(hdrAttempts))
		if t, err := time.Parse(time.RFC3339Nano, m.Header.Get(hdrEnqueued)); err == nil {
			dl.Enqueued = t
		}
		out = append(out, dl)
	}
	return out, nil
}
