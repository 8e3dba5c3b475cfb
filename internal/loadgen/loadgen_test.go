package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/config"
)

// startServer runs a whole Parley node in this process on a free port.
func startServer(t *testing.T, edit func(*config.Config)) *app.Main {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Media.UDPAddr = "127.0.0.1:0"
	cfg.HTTP.ShutdownTimeout = time.Second
	cfg.Auth.SignInPerIP = 1000
	cfg.Gateway.MaxConnsPerUser = 100
	if edit != nil {
		edit(&cfg)
	}
	m := &app.Main{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// runMain runs loadgen in this process with --json and returns the summary,
// the exit code and what went to stderr.
func runMain(t *testing.T, args ...string) (*Summary, int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Main(ctx, append(args, "--json", "--no-progress"), &stdout, &stderr)
	if stdout.Len() == 0 {
		return nil, code, stderr.String()
	}
	var s Summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.String())
	}
	return &s, code, stderr.String()
}

// checkClean fails unless every connection succeeded and no check found
// anything.
func checkClean(t *testing.T, s *Summary, code int, stderr string, conns int) {
	t.Helper()
	if code != 0 || !s.OK {
		t.Fatalf("exit %d, ok %v, failures %v, errors %v\nstderr:\n%s", code, s.OK, s.Failures, s.ErrorSamples, stderr)
	}
	if c := s.Connections; c.Target != conns || c.OK != int64(conns) || c.Failed != 0 {
		t.Fatalf("connections %+v, want %d ok", c, conns)
	}
	if c := s.Connections; c.RatePerSecond <= 0 || c.Latency.P50 <= 0 || c.Latency.P99 < c.Latency.P50 || c.Latency.Max < c.Latency.P99 {
		t.Fatalf("connect figures %+v", c)
	}
	if k := s.Checks; k != (Checks{}) {
		t.Fatalf("checks %+v, want all zero", k)
	}
	for key, n := range s.Errors {
		if key != "signup:rate_limited_retried" {
			t.Fatalf("error %s counted %d times: %s", key, n, s.ErrorSamples[key])
		}
	}
}

func TestFanout(t *testing.T) {
	m := startServer(t, nil)
	s, code, stderr := runMain(t,
		"--url", m.URL(), "--scenario", "fanout",
		"--conns", "200", "--rate", "500", "--sources", "127.0.0.2-127.0.0.3",
		"--publishers", "2", "--publish-rate", "50", "--duration", "3s",
		"--settle", "200ms", "--drain-timeout", "10s")
	checkClean(t, s, code, stderr, 200)
	if s.Procs != 1 || len(s.Sources) != 2 || s.ConnsPerUser != 100 || s.Users != 2 {
		t.Fatalf("procs %d, sources %v, %d users of %d connections: want 1 process, 2 sources, 2 users of 100 (the node's limit from its hello)",
			s.Procs, s.Sources, s.Users, s.ConnsPerUser)
	}
	d := s.Delivery
	if d == nil {
		t.Fatal("no delivery figures")
	}
	// 50 messages/s for 3 s; allow for a slow start under the race detector.
	if d.Published < 140 || d.Published > 150 || d.FinalSequence != uint64(d.Published) {
		t.Fatalf("published %d, last seq %d: want 150 messages with sequences 1..150", d.Published, d.FinalSequence)
	}
	if want := 200 * d.Published; d.Total != want || d.Expected != want || d.LatencyCount != uint64(want) {
		t.Fatalf("deliveries %d, expected %d, latencies %d: want %d", d.Total, d.Expected, d.LatencyCount, want)
	}
	if l := d.Latency; l.P50 <= 0 || l.P99 < l.P50 || l.P999 < l.P99 || l.Max < l.P999 || d.PerSecond <= 0 {
		t.Fatalf("delivery figures %+v", d)
	}
	if sv := s.Server; sv == nil || sv.Settled == nil || sv.AddedConnections != 202 {
		t.Fatalf("server figures %+v: want 202 more connections (200 receivers, 2 publishers) once connected", sv)
	}
}

func TestIdleMeasuresServerMemory(t *testing.T) {
	t.Parallel()
	m := startServer(t, nil)
	s, code, stderr := runMain(t,
		"--url", m.URL(), "--scenario", "idle", "--conns", "100", "--rate", "1000",
		"--sources", "127.0.0.2,127.0.0.4", "--duration", "500ms", "--settle", "500ms")
	checkClean(t, s, code, stderr, 100)
	if s.Delivery != nil {
		t.Fatalf("idle reported deliveries: %+v", s.Delivery)
	}
	sv := s.Server
	if sv == nil || sv.Error != "" || sv.Baseline == nil || sv.Settled == nil || sv.End == nil {
		t.Fatalf("server figures missing: %+v", sv)
	}
	for name, v := range map[string]int64{
		"baseline rss": sv.Baseline.RSS, "settled rss": sv.Settled.RSS, "end rss": sv.End.RSS,
		"peak rss": sv.PeakRSS, "peak fds": sv.PeakFDs, "settled goroutines": sv.Settled.Goroutines,
	} {
		if v <= 0 {
			t.Errorf("%s = %d, want > 0", name, v)
		}
	}
	if sv.AddedConnections != 100 || sv.End.Connections-sv.Baseline.Connections != 100 {
		t.Fatalf("added connections %d (end %d, baseline %d), want 100", sv.AddedConnections, sv.End.Connections, sv.Baseline.Connections)
	}
	if sv.PeakRSS < sv.Baseline.RSS || sv.Settled.OpenFDs < sv.Baseline.OpenFDs+100 {
		t.Fatalf("peak rss %d below baseline %d, or fds %d not 100 above %d", sv.PeakRSS, sv.Baseline.RSS, sv.Settled.OpenFDs, sv.Baseline.OpenFDs)
	}
	// The per-connection figures are not checked for sign: the node may
	// reuse memory it freed before the baseline (the sign-ups' password
	// hashes) for the connections.
}

// TestTokenRefresh holds connections longer than the access token lives:
// each must refresh its token in time instead of being closed with
// token_expired (which would count as a disconnect error).
func TestTokenRefresh(t *testing.T) {
	t.Parallel() // mostly waiting for tokens to age
	m := startServer(t, func(c *config.Config) { c.Auth.AccessTTL = 10 * time.Second })
	s, code, stderr := runMain(t,
		"--url", m.URL(), "--scenario", "fanout", "--conns", "20", "--conns-per-user", "10",
		"--sources", "127.0.0.2", "--publish-rate", "2", "--duration", "13s", "--settle", "0s")
	checkClean(t, s, code, stderr, 20)
	if d := s.Delivery; d == nil || d.Published < 20 || d.Total != 20*d.Published {
		t.Fatalf("delivery %+v: want every message delivered to the 20 receivers", d)
	}
}

func TestSignupRateLimitIsReported(t *testing.T) {
	t.Parallel()
	m := startServer(t, func(c *config.Config) { c.Auth.SignInPerIP = 3 })
	s, code, stderr := runMain(t,
		"--url", m.URL(), "--scenario", "idle", "--conns", "10", "--conns-per-user", "1",
		"--sources", "127.0.0.2", "--duration", "0s")
	if code != 1 || s != nil {
		t.Fatalf("exit %d, summary %+v: want exit 1 and no summary", code, s)
	}
	if !strings.Contains(stderr, "rate_limited") || !strings.Contains(stderr, "auth.signin_per_ip") {
		t.Fatalf("stderr does not name the error and the option to raise:\n%s", stderr)
	}
}

func TestRefusesNonLoopbackTargets(t *testing.T) {
	for _, args := range [][]string{
		{"--url", "http://10.1.2.3:8080"},
		{"--url", "http://example.com"},
		{"--url", "http://[::1]:8080"},
		{"--url", "http://127.0.0.1:8080", "--metrics-url", "http://192.168.1.1/metrics"},
		{"--sources", "127.0.0.2,10.0.0.2"},
		{"--sources", "127.0.0.250-128.0.0.3"},
		{"--conns", "200000"},
		{"--conns", "100", "--rate", "1", "--max-duration", "1m"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr.String())
		}
		if stdout.Len() != 0 || stderr.Len() == 0 {
			t.Errorf("%v: stdout %q, stderr %q", args, stdout.String(), stderr.String())
		}
	}
}

func TestHelpListsFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"--url", "--scenario", "--conns", "--rate", "--sources", "--procs", "--users",
		"--conns-per-user", "--duration", "--publish-rate", "--publishers", "--stream", "--payload",
		"--max-conns", "--max-duration", "--max-errors", "--json", "--no-progress", "--metrics-url"} {
		if !strings.Contains(stdout.String(), f+"\n") {
			t.Errorf("--help does not list %s", f)
		}
	}
	if strings.Contains(stdout.String(), "--worker") {
		t.Error("--help lists the internal --worker flag")
	}
}

func TestParseSources(t *testing.T) {
	got, err := parseSources("127.0.0.2-127.0.0.4, 127.0.0.9,127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	if want := "127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.9"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}

// TestReceiverChecks feeds one receiver a sequence with a gap and a
// duplicate, as a faulty node would send them.
func TestReceiverChecks(t *testing.T) {
	w := &worker{job: Job{Plan: Plan{Stream: "topic:t"}}}
	lc := &loadConn{w: w}
	send := time.Now().Add(-3 * time.Millisecond).UnixNano()
	data := json.RawMessage(`{"event":"loadgen","data":{"lg_t":` + strconv.FormatInt(send, 10) + `,"lg_p":0}}`)
	for _, seq := range []uint64{1, 2, 4, 4, 3, 5} {
		lc.onEvent(client.Event{Stream: "topic:t", Seq: seq, Data: data})
	}
	lc.onEvent(client.Event{Stream: "topic:other", Seq: 9, Data: data})
	if lc.received.Load() != 4 || lc.gaps.Load() != 1 || lc.dups.Load() != 2 || lc.last.Load() != 5 {
		t.Fatalf("received %d, gaps %d, dups %d, last %d: want 4, 1, 2, 5",
			lc.received.Load(), lc.gaps.Load(), lc.dups.Load(), lc.last.Load())
	}
	h := w.delivery.Merged()
	if h.Count() != 4 || h.Min() < 3*time.Millisecond {
		t.Fatalf("latencies: %d recorded, min %v", h.Count(), h.Min())
	}
}

// TestWorkerProcesses builds the parley binary and runs loadgen with two
// worker processes against an in-process node: the parent must split the
// connections and merge the workers' results.
func TestWorkerProcesses(t *testing.T) {
	t.Parallel()
	m := startServer(t, nil)
	bin := filepath.Join(t.TempDir(), "parley")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race") // reuses the packages this test was built from
	}
	build := exec.Command("go", append(args, "github.com/parleyhq/parley/cmd/parley")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "loadgen", "--url", m.URL(), "--scenario", "fanout", "--procs", "2",
		"--conns", "60", "--rate", "300", "--sources", "127.0.0.2-127.0.0.5", "--conns-per-user", "8",
		"--publishers", "1", "--publish-rate", "20", "--duration", "2s", "--settle", "200ms", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		code = ee.ExitCode()
	}
	var s Summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	checkClean(t, &s, code, stderr.String(), 60)
	// 60 connections at 8 per account: 30 per process, 4 accounts each.
	if s.Procs != 2 || s.Users != 8 {
		t.Fatalf("procs %d, users %d: want 2 processes with 4 accounts each", s.Procs, s.Users)
	}
	d := s.Delivery
	if d == nil || d.Published < 30 || d.Total != 60*d.Published || d.LatencyCount != uint64(d.Total) {
		t.Fatalf("delivery %+v: want 60 deliveries of each of about 40 messages, each with a latency", d)
	}
	if !strings.Contains(stderr.String(), "2 process(es)") {
		t.Errorf("progress does not mention the processes:\n%s", stderr.String())
	}
}
