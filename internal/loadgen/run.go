package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/parleyhq/parley/client"
)

// runner is the coordinating process of a run.
type runner struct {
	o      *Options
	prog   *progress
	stderr io.Writer
	errs   errorCounts
	apis   *apiPool
	accts  *accounts
}

// run does the whole run and returns its summary. The error is set when the
// run could not be done (the summary may then be partial or nil); failed
// checks only show in the summary.
func (r *runner) run(parent context.Context) (*Summary, error) {
	o := r.o
	began := time.Now()
	ctx, cancel := context.WithTimeout(parent, o.MaxDuration)
	defer cancel()
	r.apis = newAPIPool(o.URL, o.Sources, o.DialTimeout)
	defer r.apis.close()
	r.accts = newAccounts(r.apis, o.SignupConcurrency, &r.errs)
	sum := &Summary{Scenario: o.Scenario, URL: o.URL, Sources: o.Sources}

	// The node before anything of the run, even the accounts: hashing
	// their passwords leaves memory resident that connections reuse.
	sc := newScraper(o.MetricsURL, r.apis)
	base, err := sc.sample(ctx)
	if err != nil {
		r.prog.warnf("cannot read the node's metrics at %s: %v", o.MetricsURL, err)
	}

	// An owner account, and one connection to learn the node's limits.
	r.prog.notef("%s: signing up an owner account and reading the node's limits", o.URL)
	owner, err := r.accts.signUp(ctx, 1)
	if err != nil {
		return nil, fmt.Errorf("cannot create an account on %s: %w", o.URL, err)
	}
	ownerSess := client.NewSession(r.apis.get(0), &owner[0])
	limits, err := r.probe(ctx, ownerSess)
	if err != nil {
		return nil, err
	}
	cpu := o.ConnsPerUser
	if cpu == 0 {
		cpu = limits.MaxConnsPerUser
	}
	if cpu == 0 {
		cpu = 16
	}
	if limits.MaxConnsPerUser > 0 && cpu > limits.MaxConnsPerUser {
		r.prog.warnf("--conns-per-user %d is above the node's gateway.max_conns_per_user %d: expect too_many_connections", cpu, limits.MaxConnsPerUser)
	}
	procs, err := r.procs()
	if err != nil {
		return nil, err
	}
	jobs, users, err := splitJobs(o, procs, cpu)
	if err != nil {
		return nil, err
	}
	sum.Procs, sum.Users, sum.ConnsPerUser = procs, users, cpu

	env := &Env{Options: o, Owner: ownerSess, Limits: limits, Accounts: r.accts, APIs: r.apis, Errors: &r.errs}
	scen := lookupScenario(o.Scenario)()
	defer scen.Close()
	plan, err := scen.Prepare(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", o.Scenario, err)
	}
	sum.Stream = plan.Stream

	// The accounts the load connections use.
	tokens, err := r.signUpUsers(ctx, users)
	if err != nil {
		return nil, err
	}
	for k := range jobs {
		jobs[k].Users, tokens = tokens[:len(jobs[k].Users)], tokens[len(jobs[k].Users):]
	}
	workerDeadline := o.MaxDuration - time.Since(began) + o.DrainTimeout + 30*time.Second
	for k := range jobs {
		jobs[k].Plan = plan
		jobs[k].Deadline = workerDeadline
	}

	before, _ := sc.sample(ctx)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go sc.watch(watchCtx, time.Second)

	shards, err := r.startShards(ctx, jobs)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range shards {
			s.abort()
		}
	}()
	r.connectPhase(ctx, shards)

	var settled, end *ServerSample
	var out Outcome
	if ctx.Err() == nil {
		r.prog.notef("letting the node settle for %s", o.Settle)
		waitFor(ctx, o.Settle)
		if settled, err = sc.sample(ctx); err != nil && base != nil {
			r.prog.warnf("cannot read the node's metrics: %v", err)
		}
		out = r.drivePhase(ctx, scen, env, plan, shards)
		end, _ = sc.sample(ctx)
	}
	stopWatch()

	// Collect: wait for the receivers unless the run was cut short.
	final := out.Final
	if ctx.Err() != nil {
		final = 0
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil {
			sum.Failures = append(sum.Failures, fmt.Sprintf("the run hit --max-duration %s", o.MaxDuration))
		} else {
			sum.Failures = append(sum.Failures, "the run was interrupted")
		}
	}
	if final > 0 {
		r.prog.notef("waiting (at most %s) for every receiver to get message %d", o.DrainTimeout, final)
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), o.DrainTimeout+30*time.Second)
	defer fcancel()
	results := r.finishShards(fctx, shards, final)
	r.prog.notef("done")

	r.aggregate(sum, results, out, plan)
	sum.Server = serverSummary(base, before, settled, end, sc, sum.Connections.OK)
	sum.DurationS = roundS(time.Since(began))
	sum.Errors, sum.ErrorSamples = r.errs.snapshot()
	sum.Hints = hints(sum.Errors)
	sum.judge(o.MaxErrors, r.errs.total(skipRetried))
	return sum, nil
}

// probe connects once as sess and returns the limits of the node's hello.
func (r *runner) probe(ctx context.Context, sess *client.Session) (Limits, error) {
	no := false
	c, err := client.Dial(ctx, client.Options{
		URL: r.o.URL, Token: sess.Token, LocalAddr: r.o.Sources[0],
		DialTimeout: r.o.DialTimeout, Reconnect: &no,
	})
	if err != nil {
		return Limits{}, fmt.Errorf("cannot connect to %s: %w", r.o.URL, err)
	}
	defer c.Close()
	h := c.Hello()
	return Limits{
		RatePerSecond:   h.Limits.RatePerSecond,
		RateBurst:       h.Limits.RateBurst,
		MaxConnsPerUser: h.Limits.MaxConnsPerUser,
	}, nil
}

// procs returns how many processes hold the connections, checking each
// share against this process's open-file limit.
func (r *runner) procs() (int, error) {
	o := r.o
	procs := o.Procs
	if procs == 0 {
		procs = (o.Conns + connsPerProc - 1) / connsPerProc
	}
	procs = min(procs, o.Conns)
	per := (o.Conns + procs - 1) / procs
	if lim := openFileLimit(); lim > 0 && per+fdReserve > lim {
		need := (o.Conns + lim - fdReserve - 1) / (lim - fdReserve)
		return 0, fmt.Errorf("%d connections per process do not fit the open-file limit of %d: use --procs %d or more", per, lim, need)
	}
	return procs, nil
}

// splitJobs shares the connections, rate, source addresses and accounts
// among procs processes. Every account's connections stay in one process
// (each process refreshes its own accounts' tokens). It returns the jobs,
// with Users holding only the number of accounts each needs, and the total
// number of accounts.
func splitJobs(o *Options, procs, cpu int) ([]Job, int, error) {
	jobs := make([]Job, procs)
	total := 0
	for k := range jobs {
		n := o.Conns / procs
		if k < o.Conns%procs {
			n++
		}
		var src []string
		if len(o.Sources) >= procs {
			for j := k; j < len(o.Sources); j += procs {
				src = append(src, o.Sources[j])
			}
		} else {
			src = []string{o.Sources[k%len(o.Sources)]}
		}
		users := (n + cpu - 1) / cpu
		if o.Users > 0 {
			users = o.Users / procs
			if k < o.Users%procs {
				users++
			}
			if users == 0 || n > users*cpu {
				return nil, 0, fmt.Errorf("--users %d over %d processes cannot hold %d connections at %d per account: raise --users or --conns-per-user", o.Users, procs, o.Conns, cpu)
			}
		}
		total += users
		jobs[k] = Job{
			URL:          o.URL,
			Conns:        n,
			Rate:         o.Rate * float64(n) / float64(o.Conns),
			Sources:      src,
			Users:        make([]client.Tokens, users),
			DialTimeout:  o.DialTimeout,
			InFlight:     o.InFlight,
			DrainTimeout: o.DrainTimeout,
		}
	}
	return jobs, total, nil
}

// signUpUsers creates n accounts, showing progress.
func (r *runner) signUpUsers(ctx context.Context, n int) ([]client.Tokens, error) {
	r.prog.notef("signing up %d accounts over %d source addresses", n, len(r.o.Sources))
	start := r.accts.done.Load()
	var (
		tokens []client.Tokens
		err    error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tokens, err = r.accts.signUp(ctx, n)
	}()
	r.every(done, func(final bool) {
		got := r.accts.done.Load() - start
		r.prog.update(float64(got)/float64(n), fmt.Sprintf("accounts %d/%d", got, n), final)
	})
	r.prog.done()
	if err != nil {
		return nil, fmt.Errorf("signing up %d accounts: %w", n, err)
	}
	if c, _ := r.errs.snapshot(); c["signup:rate_limited_retried"] > 0 {
		r.prog.warnf("the node rate-limited %d sign-ups (they were retried); raise auth.signin_per_ip on the server or give more --sources to go faster", c["signup:rate_limited_retried"])
	}
	return tokens, nil
}

// every calls f every progressEvery until done is closed, and once more
// with final set.
func (r *runner) every(done <-chan struct{}, f func(final bool)) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			f(true)
			return
		case <-t.C:
			f(false)
		}
	}
}

// startShards starts one shard per job: in this process for one job,
// worker processes otherwise.
func (r *runner) startShards(ctx context.Context, jobs []Job) ([]shard, error) {
	if len(jobs) == 1 {
		return []shard{startLocal(ctx, jobs[0])}, nil
	}
	var shards []shard
	for k, job := range jobs {
		s, err := startProc(k, job, r.stderr)
		if err != nil {
			for _, s := range shards {
				s.abort()
			}
			return nil, err
		}
		shards = append(shards, s)
	}
	return shards, nil
}

// progressOf sums the shards' progress.
func progressOf(shards []shard) Progress {
	var p Progress
	for _, s := range shards {
		sp := s.progress()
		p.Target += sp.Target
		p.Connected += sp.Connected
		p.Failed += sp.Failed
		p.Deliveries += sp.Deliveries
		p.Errors += sp.Errors
	}
	return p
}

// connectPhase shows progress until every shard tried all its connections.
func (r *runner) connectPhase(ctx context.Context, shards []shard) {
	o := r.o
	r.prog.notef("opening %d connections at %.0f/s from %d source addresses in %d process(es)", o.Conns, o.Rate, len(o.Sources), len(shards))
	all := make(chan struct{})
	go func() {
		defer close(all)
		for _, s := range shards {
			select {
			case <-s.ready():
			case <-ctx.Done():
				return
			}
		}
	}()
	rate := newRateMeter()
	r.every(all, func(final bool) {
		p := progressOf(shards)
		r.prog.update(float64(p.Connected+p.Failed)/float64(max(1, p.Target)), fmt.Sprintf(
			"connected %d/%d  failed %d  errors %d  %.0f conn/s", p.Connected, p.Target, p.Failed, p.Errors, rate.add(p.Connected)), final)
	})
	r.prog.done()
}

// drivePhase runs the scenario's traffic for --duration, showing progress.
func (r *runner) drivePhase(ctx context.Context, scen Scenario, env *Env, plan Plan, shards []shard) Outcome {
	o := r.o
	if plan.Stream == "" {
		r.prog.notef("holding %d connections for %s", o.Conns, o.Duration)
	} else {
		r.prog.notef("%s: sending to %d receivers of %s for %s", o.Scenario, o.Conns, plan.Stream, o.Duration)
	}
	var (
		out Outcome
		err error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, err = scen.Drive(ctx, env, o.Duration)
	}()
	start := time.Now()
	rate := newRateMeter()
	r.every(done, func(final bool) {
		p := progressOf(shards)
		left := max(0, o.Duration-time.Since(start)).Round(time.Second)
		frac := min(1, float64(time.Since(start))/float64(max(o.Duration, 1)))
		if plan.Stream == "" {
			r.prog.update(frac, fmt.Sprintf("connected %d  errors %d  %s left", p.Connected, p.Errors, left), final)
			return
		}
		r.prog.update(frac, fmt.Sprintf("sent %d  delivered %d  %.0f deliveries/s  connected %d  errors %d  %s left",
			env.Sent.Load(), p.Deliveries, rate.add(p.Deliveries), p.Connected, p.Errors, left), final)
	})
	r.prog.done()
	if err != nil {
		r.errs.add("drive", err)
	}
	return out
}

// finishShards finishes every shard at once and merges their errors.
func (r *runner) finishShards(ctx context.Context, shards []shard, final uint64) []*Result {
	results := make([]*Result, len(shards))
	var wg sync.WaitGroup
	for k, s := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.finish(ctx, final)
			if err != nil {
				r.errs.addKey("worker:failed", 1, err.Error())
				p := s.progress()
				res = &Result{Target: p.Target, Connected: p.Connected, Failed: int64(p.Target) - p.Connected}
			}
			results[k] = res
		}()
	}
	wg.Wait()
	for _, res := range results {
		r.errs.merge(res.Errors, res.ErrorSamples)
	}
	return results
}

// aggregate merges the shards' results into the summary.
func (r *runner) aggregate(sum *Summary, results []*Result, out Outcome, plan Plan) {
	var connect, delivery Histogram
	var first, last, lastDelivery time.Time
	c := &sum.Connections
	k := &sum.Checks
	var deliveries, expected int64
	for _, res := range results {
		c.Target += res.Target
		c.OK += res.Connected
		c.Failed += res.Failed
		sum.LoadgenRSS += res.RSS
		if res.Connect != nil {
			connect.Merge(res.Connect)
		}
		if res.Delivery != nil {
			delivery.Merge(res.Delivery)
		}
		if !res.ConnectStart.IsZero() && (first.IsZero() || res.ConnectStart.Before(first)) {
			first = res.ConnectStart
		}
		if res.ConnectEnd.After(last) {
			last = res.ConnectEnd
		}
		if res.LastDelivery.After(lastDelivery) {
			lastDelivery = res.LastDelivery
		}
		deliveries += res.Deliveries
		expected += res.Expected
		k.Gaps += res.Gaps
		k.Duplicates += res.Duplicates
		k.Lost += res.Lost
		k.Behind += res.Behind
		k.ClientGaps += res.ClientGaps
		k.ClientDuplicates += res.ClientDuplicates
		k.Resets += res.Resets
		k.Reconnects += res.Reconnects
	}
	if !first.IsZero() && last.After(first) {
		c.PhaseS = roundS(last.Sub(first))
		c.RatePerSecond = float64(int(float64(c.OK)/last.Sub(first).Seconds()*10)) / 10
	}
	c.Latency = latencies(&connect)
	if plan.Stream == "" {
		return
	}
	d := &DeliverySummary{
		Published:     out.Sent,
		Expected:      expected,
		Total:         deliveries,
		LatencyCount:  delivery.Count(),
		Latency:       latencies(&delivery),
		FinalSequence: out.Final,
	}
	if !out.Start.IsZero() {
		d.PublishS = roundS(out.End.Sub(out.Start))
		if lastDelivery.After(out.Start) {
			d.PerSecond = float64(int(float64(deliveries) / lastDelivery.Sub(out.Start).Seconds()))
		}
	}
	sum.Delivery = d
}

func roundS(d time.Duration) float64 { return float64(d.Round(10*time.Millisecond)) / 1e9 }

// rateMeter turns a growing count into a rate over the last second or so.
type rateMeter struct {
	at    []time.Time
	count []int64
}

func newRateMeter() *rateMeter { return &rateMeter{} }

func (m *rateMeter) add(n int64) float64 {
	now := time.Now()
	m.at = append(m.at, now)
	m.count = append(m.count, n)
	for len(m.at) > 2 && now.Sub(m.at[0]) > time.Second {
		m.at, m.count = m.at[1:], m.count[1:]
	}
	if dt := now.Sub(m.at[0]).Seconds(); dt > 0 {
		return float64(n-m.count[0]) / dt
	}
	return 0
}
