package loadgen

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary is the report of a run; --json prints it as one object.
type Summary struct {
	Scenario     string   `json:"scenario"`
	URL          string   `json:"url"`
	Stream       string   `json:"stream,omitempty"`
	Procs        int      `json:"procs"`
	Sources      []string `json:"sources"`
	Users        int      `json:"users"`
	ConnsPerUser int      `json:"conns_per_user"`
	DurationS    float64  `json:"duration_s"`

	Connections ConnSummary `json:"connections"`
	// LoadgenRSS is the resident memory of the load generator's processes
	// holding the connections, summed.
	LoadgenRSS int64            `json:"loadgen_rss_bytes"`
	Delivery   *DeliverySummary `json:"delivery,omitempty"`
	Checks     Checks           `json:"checks"`
	Server     *ServerSummary   `json:"server,omitempty"`

	Errors       map[string]int64  `json:"errors"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
	Hints        []string          `json:"hints,omitempty"`

	// OK is true when every check passed; Failures says why not.
	OK       bool     `json:"ok"`
	Failures []string `json:"failures,omitempty"`
}

// ConnSummary describes the connect phase.
type ConnSummary struct {
	Target        int       `json:"target"`
	OK            int64     `json:"ok"`
	Failed        int64     `json:"failed"`
	RatePerSecond float64   `json:"rate_per_second"`
	PhaseS        float64   `json:"phase_s"`
	Latency       Latencies `json:"latency_ms"`
}

// DeliverySummary describes the messages published and delivered.
type DeliverySummary struct {
	Published     int64     `json:"published"`
	PublishS      float64   `json:"publish_s"`
	Expected      int64     `json:"expected"`
	Total         int64     `json:"total"`
	PerSecond     float64   `json:"per_second"`
	LatencyCount  uint64    `json:"latency_count"`
	Latency       Latencies `json:"latency_ms"`
	FinalSequence uint64    `json:"final_seq"`
}

// Latencies are percentiles in milliseconds.
type Latencies struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Checks are the correctness counts; any gap, duplicate or lost message
// fails the run.
type Checks struct {
	Gaps             int64 `json:"gaps"`
	Duplicates       int64 `json:"duplicates"`
	Lost             int64 `json:"lost"`
	Behind           int64 `json:"receivers_behind"`
	ClientGaps       int64 `json:"client_gaps"`
	ClientDuplicates int64 `json:"client_duplicates"`
	Resets           int64 `json:"resets"`
	Reconnects       int64 `json:"reconnects"`
}

// ServerSummary is what the node's /metrics said: before the run
// (baseline), after the accounts were created (before_connect), once every
// connection was up and settled, and at the end of the traffic.
type ServerSummary struct {
	Baseline      *ServerSample `json:"baseline,omitempty"`
	BeforeConnect *ServerSample `json:"before_connect,omitempty"`
	Settled       *ServerSample `json:"settled,omitempty"`
	End           *ServerSample `json:"end,omitempty"`
	PeakRSS       int64         `json:"peak_rss_bytes"`
	PeakFDs       int64         `json:"peak_open_fds"`
	// AddedConnections is how many connections the node gained between
	// the baseline and the settled sample; the per-connection figures
	// divide by it.
	AddedConnections int64 `json:"added_connections"`
	// RSSPerConn is the growth of the node's resident memory from the
	// baseline (before the accounts were created) to the settled sample,
	// per added connection. Hashing the accounts' passwords grows the
	// node's memory for a while (SignupRSS); the runtime collects and
	// returns it, or reuses it for the connections, while they connect.
	RSSPerConn float64 `json:"rss_per_conn_bytes"`
	// HeapPerConn and StackPerConn are the growth of the Go heap in use
	// and of goroutine stacks per added connection. The heap figure
	// includes garbage not collected yet; the stack figure is exact.
	HeapPerConn  float64 `json:"heap_per_conn_bytes"`
	StackPerConn float64 `json:"stack_per_conn_bytes"`
	// SignupRSS is how much the node's resident memory grew while the
	// accounts were created.
	SignupRSS int64  `json:"signup_rss_bytes"`
	Error     string `json:"error,omitempty"`
}

func latencies(h *Histogram) Latencies {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return Latencies{
		P50: ms(h.Quantile(0.50)), P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)),
		Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

// serverSummary derives the per-connection figures from the samples.
func serverSummary(base, before, settled, end *ServerSample, sc *scraper, connected int64) *ServerSummary {
	s := &ServerSummary{Baseline: base, BeforeConnect: before, Settled: settled, End: end}
	var err error
	s.PeakRSS, s.PeakFDs, _, err = sc.peaks()
	if err != nil {
		s.Error = err.Error()
	}
	if base != nil && before != nil {
		s.SignupRSS = before.RSS - base.RSS
	}
	if base != nil && settled != nil {
		s.AddedConnections = settled.Connections - base.Connections
		n := s.AddedConnections
		if n <= 0 {
			n = connected // the node does not export its connection gauge
		}
		if n > 0 {
			s.RSSPerConn = math.Round(float64(settled.RSS-base.RSS) / float64(n))
			s.HeapPerConn = math.Round(float64(settled.HeapInuse-base.HeapInuse) / float64(n))
			s.StackPerConn = math.Round(float64(settled.StackInuse-base.StackInuse) / float64(n))
		}
	}
	return s
}

// judge fills OK and Failures.
func (s *Summary) judge(maxErrors int, errTotal int64) {
	c := s.Checks
	var f []string
	if c.Gaps > 0 || c.ClientGaps > 0 {
		f = append(f, fmt.Sprintf("sequence gaps: %d seen by receivers, %d by the client library", c.Gaps, c.ClientGaps))
	}
	if c.Duplicates > 0 || c.ClientDuplicates > 0 {
		f = append(f, fmt.Sprintf("duplicates: %d seen by receivers, %d dropped by the client library", c.Duplicates, c.ClientDuplicates))
	}
	if c.Lost > 0 {
		f = append(f, fmt.Sprintf("%d messages not delivered within --drain-timeout (%d receivers did not get the last one)", c.Lost, c.Behind))
	}
	if errTotal > int64(maxErrors) {
		f = append(f, fmt.Sprintf("%d errors, more than --max-errors %d", errTotal, maxErrors))
	}
	s.Failures = append(s.Failures, f...)
	s.OK = len(s.Failures) == 0
}

// print writes the human-readable report.
func (s *Summary) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, args...)...)
	}
	c := s.Connections
	fmt.Fprintf(tw, "parley loadgen: %s against %s (%d process(es), %d sources, %d accounts of up to %d connections), %.1fs\n",
		s.Scenario, s.URL, s.Procs, len(s.Sources), s.Users, s.ConnsPerUser, s.DurationS)
	row("connections", "%d ok, %d failed of %d", c.OK, c.Failed, c.Target)
	row("connect rate", "%.0f/s over %.2fs", c.RatePerSecond, c.PhaseS)
	row("connect latency", "p50 %s  p99 %s  max %s", fmtMS(c.Latency.P50), fmtMS(c.Latency.P99), fmtMS(c.Latency.Max))
	if s.LoadgenRSS > 0 && c.OK > 0 {
		row("loadgen memory", "rss %s, %s per connection", fmtBytes(s.LoadgenRSS), fmtBytes(s.LoadgenRSS/c.OK))
	}
	if d := s.Delivery; d != nil {
		row("stream", "%s (last seq %d)", s.Stream, d.FinalSequence)
		row("published", "%d in %.2fs", d.Published, d.PublishS)
		row("deliveries", "%d of %d expected, %.0f/s", d.Total, d.Expected, d.PerSecond)
		row("delivery latency", "p50 %s  p99 %s  p999 %s  max %s", fmtMS(d.Latency.P50), fmtMS(d.Latency.P99), fmtMS(d.Latency.P999), fmtMS(d.Latency.Max))
	}
	k := s.Checks
	row("checks", "gaps %d  duplicates %d  lost %d  (client library: gaps %d, duplicates %d; resets %d, reconnects %d)",
		k.Gaps, k.Duplicates, k.Lost, k.ClientGaps, k.ClientDuplicates, k.Resets, k.Reconnects)
	if sv := s.Server; sv != nil {
		for _, smp := range []struct {
			name string
			s    *ServerSample
		}{{"server baseline", sv.Baseline}, {"server signed up", sv.BeforeConnect}, {"server connected", sv.Settled}, {"server end", sv.End}} {
			if smp.s != nil {
				row(smp.name, "rss %s  fds %d  goroutines %d  connections %d  (go heap %s, stacks %s)", fmtBytes(smp.s.RSS), smp.s.OpenFDs,
					smp.s.Goroutines, smp.s.Connections, fmtBytes(smp.s.HeapInuse), fmtBytes(smp.s.StackInuse))
			}
		}
		row("server peak", "rss %s  fds %d", fmtBytes(sv.PeakRSS), sv.PeakFDs)
		if sv.Baseline != nil && sv.Settled != nil {
			row("per connection", "rss %s  go heap %s  stacks %s  (%d added connections; the sign-ups grew rss by %s)",
				fmtBytes(int64(sv.RSSPerConn)), fmtBytes(int64(sv.HeapPerConn)), fmtBytes(int64(sv.StackPerConn)), sv.AddedConnections, fmtBytes(sv.SignupRSS))
		}
		if sv.Error != "" {
			row("metrics error", "%s", sv.Error)
		}
	}
	if len(s.Errors) == 0 {
		row("errors", "none")
	} else {
		keys := make([]string, 0, len(s.Errors))
		for k := range s.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			label := ""
			if i == 0 {
				label = "errors"
			}
			msg := ""
			if m := s.ErrorSamples[k]; m != "" {
				msg = "  e.g. " + m
			}
			row(label, "%-36s %d%s", k, s.Errors[k], msg)
		}
	}
	_ = tw.Flush()
	for _, h := range s.Hints {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
	if s.OK {
		fmt.Fprintln(w, "result: OK")
	} else {
		fmt.Fprintf(w, "result: FAILED: %s\n", strings.Join(s.Failures, "; "))
	}
}

func fmtMS(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 100:
		return fmt.Sprintf("%.2fms", ms)
	default:
		return fmt.Sprintf("%.0fms", ms)
	}
}

func fmtBytes(n int64) string {
	a := math.Abs(float64(n))
	switch {
	case a >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
