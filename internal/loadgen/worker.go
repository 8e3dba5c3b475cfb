package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/client"
)

// Job is one process's share of the load connections: which connections to
// open, at what rate, from which addresses, as which users, and what each
// does once connected.
type Job struct {
	URL          string          `json:"url"`
	Plan         Plan            `json:"plan"`
	Conns        int             `json:"conns"`
	Rate         float64         `json:"rate"`
	Sources      []string        `json:"sources"`
	Users        []client.Tokens `json:"users"`
	DialTimeout  time.Duration   `json:"dial_timeout"`
	InFlight     int             `json:"inflight"`
	DrainTimeout time.Duration   `json:"drain_timeout"`
	// Deadline bounds the worker's whole life, whatever its parent does.
	Deadline time.Duration `json:"deadline"`
}

// Progress is a snapshot of a worker's counters.
type Progress struct {
	Target     int   `json:"target"`
	Connected  int64 `json:"connected"`
	Failed     int64 `json:"failed"`
	Deliveries int64 `json:"deliveries"`
	Errors     int64 `json:"errors"`
	// Done is set when every connection of the job has been tried.
	Done bool `json:"done"`
}

// Result is what a worker measured. Results of several workers merge.
type Result struct {
	Target     int        `json:"target"`
	Connected  int64      `json:"connected"`
	Failed     int64      `json:"failed"`
	Connect    *Histogram `json:"connect_latency"`
	Delivery   *Histogram `json:"delivery_latency"`
	Deliveries int64      `json:"deliveries"`
	Expected   int64      `json:"expected"`
	Gaps       int64      `json:"gaps"`
	Duplicates int64      `json:"duplicates"`
	Lost       int64      `json:"lost"`
	// Behind counts receivers that did not reach the last message in time.
	Behind           int64 `json:"behind"`
	ClientGaps       int64 `json:"client_gaps"`
	ClientDuplicates int64 `json:"client_duplicates"`
	Resets           int64 `json:"resets"`
	Reconnects       int64 `json:"reconnects"`
	// ConnectStart and ConnectEnd bound the connect phase; LastDelivery is
	// when the last message arrived.
	// RSS is the worker process's resident memory with every connection
	// open.
	RSS          int64             `json:"rss_bytes"`
	ConnectStart time.Time         `json:"connect_start"`
	ConnectEnd   time.Time         `json:"connect_end"`
	LastDelivery time.Time         `json:"last_delivery,omitzero"`
	Errors       map[string]int64  `json:"errors,omitempty"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
}

// worker opens and holds a Job's connections and checks what they receive.
// It keeps no goroutine or channel per event: each connection's events are
// handled on its client's reading goroutine, into atomic counters and a
// sharded histogram.
type worker struct {
	job      Job
	apis     *apiPool
	sessions []*client.Session
	conns    []atomic.Pointer[loadConn] // by index; nil unless connected
	connect  Histogram
	delivery shardedHist
	errs     errorCounts

	connected, failed atomic.Int64
	reconnects        atomic.Int64
	closing           atomic.Bool
	closeOnce         sync.Once
	done              chan struct{} // closed when the connect phase ended

	mu           sync.Mutex
	connectStart time.Time
	connectEnd   time.Time
}

// loadConn is one load connection and what it has received.
type loadConn struct {
	w        *worker
	idx      int
	c        *client.Client
	start    uint64        // stream position when subscribed
	last     atomic.Uint64 // last sequence received
	received atomic.Int64
	gaps     atomic.Int64
	dups     atomic.Int64
	lastAt   atomic.Int64 // unix nanos of the last delivery
	connects atomic.Int32
	dropped  atomic.Bool // closed by the worker after a failed setup
}

func newWorker(job Job) *worker {
	w := &worker{
		job:   job,
		apis:  newAPIPool(job.URL, job.Sources, job.DialTimeout),
		conns: make([]atomic.Pointer[loadConn], job.Conns),
		done:  make(chan struct{}),
	}
	for i := range job.Users {
		w.sessions = append(w.sessions, client.NewSession(w.apis.get(i), &job.Users[i]))
	}
	return w
}

// run opens the job's connections at its rate, many at once, and returns
// when every one has connected or failed, or ctx ended.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	start := time.Now()
	w.mu.Lock()
	w.connectStart = start
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.connectEnd = time.Now()
		w.mu.Unlock()
	}()
	if len(w.sessions) == 0 {
		w.failed.Add(int64(w.job.Conns))
		w.errs.addKey("connect:no_accounts", int64(w.job.Conns), "no accounts to connect as")
		return
	}
	sem := make(chan struct{}, w.job.InFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	next := 0
	for next < w.job.Conns {
		// Open every connection due by now: connection i is due at
		// start + i/rate.
		due := min(w.job.Conns, int(time.Since(start).Seconds()*w.job.Rate)+1)
		for ; next < due; next++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				w.dial(ctx, i)
			}(next)
		}
		if ctx.Err() != nil {
			left := int64(w.job.Conns - next)
			w.failed.Add(left)
			w.errs.addKey("connect:canceled", left, "the run ended before the connection was tried")
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// dial opens connection i, runs the plan's calls and subscribes.
func (w *worker) dial(ctx context.Context, i int) {
	lc := &loadConn{w: w, idx: i}
	sess := w.sessions[i%len(w.sessions)]
	t0 := time.Now()
	c, err := client.Dial(ctx, client.Options{
		URL:         w.job.URL,
		Token:       sess.Token,
		OnEvent:     lc.onEvent,
		OnState:     lc.onState,
		LocalAddr:   w.job.Sources[i%len(w.job.Sources)],
		DialTimeout: w.job.DialTimeout,
		BackoffMin:  250 * time.Millisecond,
		BackoffMax:  5 * time.Second,
	})
	if err != nil {
		w.failed.Add(1)
		w.errs.add("connect", err)
		return
	}
	w.connect.Record(time.Since(t0))
	lc.c = c
	rctx, cancel := context.WithTimeout(ctx, w.job.DialTimeout)
	defer cancel()
	for _, call := range w.job.Plan.Calls {
		if err := c.Request(rctx, call.Method, call.Params, nil); err != nil {
			w.fail(lc, call.Method, err)
			return
		}
	}
	if s := w.job.Plan.Stream; s != "" {
		pos, err := c.Subscribe(rctx, s, nil)
		if err != nil {
			w.fail(lc, "subscribe", err)
			return
		}
		lc.start = pos
		for {
			cur := lc.last.Load()
			if cur >= pos || lc.last.CompareAndSwap(cur, pos) {
				break
			}
		}
	}
	w.conns[i].Store(lc)
	w.connected.Add(1)
}

func (w *worker) fail(lc *loadConn, phase string, err error) {
	w.failed.Add(1)
	w.errs.add(phase, err)
	lc.dropped.Store(true)
	_ = lc.c.Close()
}

// onState counts disconnects and reconnects after the first connect.
func (lc *loadConn) onState(up bool, err error) {
	if up {
		if lc.connects.Add(1) > 1 {
			lc.w.reconnects.Add(1)
		}
		return
	}
	if !lc.w.closing.Load() && !lc.dropped.Load() && err != nil {
		lc.w.errs.add("disconnect", err)
	}
}

// onEvent checks the sequence of the plan's stream and records the delivery
// latency of messages that carry a send time. It runs on the client's
// reading goroutine.
func (lc *loadConn) onEvent(e client.Event) {
	if e.Seq == 0 || e.Stream != lc.w.job.Plan.Stream {
		return
	}
	now := time.Now()
	last := lc.last.Load()
	switch {
	case e.Seq <= last:
		lc.dups.Add(1)
		return
	case e.Seq != last+1:
		lc.gaps.Add(1)
	}
	lc.last.Store(e.Seq)
	lc.received.Add(1)
	lc.lastAt.Store(now.UnixNano())
	if sent, ok := sendTime(e.Data); ok {
		lc.w.delivery.Record(lc.idx, now.Sub(time.Unix(0, sent)))
	}
}

// sendKey marks the send time (unix nanoseconds) in a message's data.
const sendKey = `"lg_t":`

// sendTime finds the send time in data without decoding it all.
func sendTime(data json.RawMessage) (int64, bool) {
	i := bytes.Index(data, []byte(sendKey))
	if i < 0 {
		return 0, false
	}
	var v int64
	n := 0
	for _, c := range data[i+len(sendKey):] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int64(c-'0')
		n++
	}
	return v, n > 0
}

// progress returns the worker's counters now.
func (w *worker) progress() Progress {
	p := Progress{
		Target:    w.job.Conns,
		Connected: w.connected.Load(),
		Failed:    w.failed.Load(),
		Errors:    w.errs.total(skipRetried),
	}
	for i := range w.conns {
		if lc := w.conns[i].Load(); lc != nil {
			p.Deliveries += lc.received.Load()
		}
	}
	select {
	case <-w.done:
		p.Done = true
	default:
	}
	return p
}

// connsSnapshot waits for the connect phase to end and returns the open
// connections.
func (w *worker) connsSnapshot() []*loadConn {
	<-w.done
	out := make([]*loadConn, 0, len(w.conns))
	for i := range w.conns {
		if lc := w.conns[i].Load(); lc != nil {
			out = append(out, lc)
		}
	}
	return out
}

// finish waits (at most the job's drain timeout) until every receiver got
// the final position of the plan's stream, counts what each received,
// closes every connection and returns the worker's result.
func (w *worker) finish(ctx context.Context, final uint64) *Result {
	conns := w.connsSnapshot()
	stream := w.job.Plan.Stream
	if stream != "" && final > 0 {
		deadline := time.Now().Add(w.job.DrainTimeout)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			behind := false
			for _, lc := range conns {
				if lc.last.Load() < final {
					behind = true
					break
				}
			}
			if !behind {
				break
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
	w.closing.Store(true)
	r := &Result{
		Target:    w.job.Conns,
		Connected: w.connected.Load(),
		Failed:    w.failed.Load(),
		Connect:   &w.connect,
		Delivery:  w.delivery.Merged(),
	}
	var lastAt int64
	for _, lc := range conns {
		recv := lc.received.Load()
		r.Deliveries += recv
		r.Gaps += lc.gaps.Load()
		r.Duplicates += lc.dups.Load()
		if stream != "" && final > lc.start {
			exp := int64(final - lc.start)
			r.Expected += exp
			if recv < exp {
				r.Lost += exp - recv
			}
			if lc.last.Load() < final {
				r.Behind++
			}
		}
		st := lc.c.Stats()
		r.ClientGaps += st.Gaps
		r.ClientDuplicates += st.Duplicates
		r.Resets += st.Resets
		lastAt = max(lastAt, lc.lastAt.Load())
	}
	r.Reconnects = w.reconnects.Load()
	if lastAt > 0 {
		r.LastDelivery = time.Unix(0, lastAt)
	}
	w.mu.Lock()
	r.ConnectStart, r.ConnectEnd = w.connectStart, w.connectEnd
	w.mu.Unlock()
	r.RSS = selfRSS()
	w.closeAll(conns)
	r.Errors, r.ErrorSamples = w.errs.snapshot()
	return r
}

// closeAll closes the connections, many at a time, once.
func (w *worker) closeAll(conns []*loadConn) {
	w.closing.Store(true)
	w.closeOnce.Do(func() { closeConns(conns) })
	w.apis.close()
}

func closeConns(conns []*loadConn) {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, lc := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = lc.c.Close()
		}()
	}
	wg.Wait()
}

// skipRetried leaves rate-limited sign-ups that were retried out of error
// totals: they slowed the run but did not fail it.
func skipRetried(key string) bool { return key == "signup:rate_limited_retried" }
