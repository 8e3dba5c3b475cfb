// Package mediabench measures the media server's forwarding capacity: a
// parley binary runs as its own process (so that its CPU is measured alone),
// and this process connects 10 speakers and N listeners to one call over
// loopback with the Go media client, then reads the server's forwarded
// packets from /metrics and its CPU time from /proc.
//
//	MEDIABENCH_LISTENERS=50,100,200 go test -run XXX -bench Forwarding -benchtime 1x -timeout 30m ./test/mediabench/
//
// docs/benchmarks-media.md has the figures and the machine they came from.
package mediabench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	cmedia "github.com/parleyhq/parley/client/media"
)

// speakers is the number of senders (MEDIABENCH_SPEAKERS, default 10).
var speakers = 10

func BenchmarkForwarding(b *testing.B) {
	if n, err := strconv.Atoi(os.Getenv("MEDIABENCH_SPEAKERS")); err == nil && n > 0 {
		speakers = n
	}
	sizes := os.Getenv("MEDIABENCH_LISTENERS")
	if sizes == "" {
		sizes = "50"
	}
	bin := buildParley(b)
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("bad MEDIABENCH_LISTENERS entry %q", s)
		}
		b.Run(fmt.Sprintf("speakers=%d/listeners=%d", speakers, n), func(b *testing.B) { runForwarding(b, bin, n) })
	}
}

func buildParley(b *testing.B) string {
	b.Helper()
	if p := os.Getenv("MEDIABENCH_BIN"); p != "" {
		return p
	}
	out := filepath.Join(b.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/parley")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("build parley: %v", err)
	}
	return out
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server runs parley serve and returns its base URL and process.
func server(b *testing.B, bin string, members int) (string, *os.Process) {
	b.Helper()
	port := freePort(b)
	cmd := exec.Command(bin, "serve",
		"--data-dir", b.TempDir(),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--media-udp-addr", "127.0.0.1:0",
		"--media-call-max-members", strconv.Itoa(members+1),
		"--media-max-participants", strconv.Itoa(members+1),
		"--auth-signin-per-ip", "1000000",
		"--gateway-rate-per-second", "100000", "--gateway-rate-burst", "100000",
		"--log-level", "warn",
	)
	cmd.Stderr = os.Stderr
	// The server takes its configuration from PARLEY_* variables and
	// refuses unknown ones: it gets none of this process's.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url, cmd.Process
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("parley did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuSeconds returns the user+system CPU time of pid.
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// metric reads one unlabelled counter from /metrics.
func metric(b *testing.B, url, name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v
		}
	}
	b.Fatalf("no %s in /metrics", name)
	return 0
}

type participant struct {
	id   string
	c    *client.Client
	mc   *cmedia.Client
	sess *cmedia.Session
}

func signUp(ctx context.Context, api *client.API, name string) (*participant, error) {
	tok, err := api.SignUp(ctx, name+"@bench.test", "correct horse "+name, name, name)
	if err != nil {
		return nil, err
	}
	s := client.NewSession(api, tok)
	mc := cmedia.NewClient()
	c, err := client.Dial(ctx, client.Options{URL: api.Base, Token: s.Token, OnPush: func(p client.Push) { mc.OnPush(p) }})
	if err != nil {
		return nil, err
	}
	return &participant{id: tok.User.ID, c: c, mc: mc}, nil
}

func runForwarding(b *testing.B, bin string, listeners int) {
	url, proc := server(b, bin, speakers+listeners)
	api := &client.API{Base: url}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	all := make([]*participant, speakers+listeners)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
	)
	sem := make(chan struct{}, 8)
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p, err := signUp(ctx, api, fmt.Sprintf("u%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ferr = err
				return
			}
			all[i] = p
		}()
	}
	wg.Wait()
	if ferr != nil {
		b.Fatal(ferr)
	}
	defer func() {
		for _, p := range all {
			if p.sess != nil {
				p.sess.Close()
			}
			p.c.Close()
		}
	}()
	members := make([]string, 0, len(all)-1)
	for _, p := range all[1:] {
		members = append(members, p.id)
	}
	var start struct {
		Call string `json:"call"`
	}
	if err := all[0].c.Request(ctx, "call.start", map[string]any{"members": members}, &start); err != nil {
		b.Fatal(err)
	}
	joinStart := time.Now()
	for i, p := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := p.mc.Join(ctx, p.c, start.Call, cmedia.Options{PeerOptions: cmedia.PeerOptions{Publish: i < speakers, Loopback: true}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ferr = fmt.Errorf("join %d: %w", i, err)
				return
			}
			p.sess = s
		}()
	}
	wg.Wait()
	if ferr != nil {
		b.Fatal(ferr)
	}
	// Wait until every listener hears every speaker.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		ok := true
		for _, p := range all[speakers:] {
			if len(p.sess.Peer().Received()) < speakers {
				ok = false
				break
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("listeners did not hear every speaker")
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Logf("%d participants joined and hearing everyone after %s", len(all), time.Since(joinStart).Round(time.Millisecond))
	const window = 10 * time.Second
	recv := func() (n uint64) {
		for _, p := range all[speakers:] {
			for _, v := range p.sess.Peer().Received() {
				n += v
			}
		}
		return n
	}
	out0, in0, cpu0, r0, t0 := metric(b, url, "parley_media_packets_out_total"), metric(b, url, "parley_media_packets_in_total"), cpuSeconds(b, proc.Pid), recv(), time.Now()
	b.ResetTimer()
	time.Sleep(window)
	b.StopTimer()
	out1, in1, cpu1, r1, t1 := metric(b, url, "parley_media_packets_out_total"), metric(b, url, "parley_media_packets_in_total"), cpuSeconds(b, proc.Pid), recv(), time.Now()
	secs := t1.Sub(t0).Seconds()
	pps := (out1 - out0) / secs
	cpu := (cpu1 - cpu0) / secs
	expected := float64(listeners*speakers) * 50 // 50 packets/s per speaker
	b.ReportMetric(metric(b, url, "parley_media_participants"), "participants")
	b.ReportMetric(pps, "fwd-pkts/s")
	b.ReportMetric((in1-in0)/secs, "in-pkts/s")
	b.ReportMetric(cpu*100, "server-cpu-%")
	b.ReportMetric(pps/cpu, "pkts/s-per-core")
	b.ReportMetric(float64(r1-r0)/secs/expected*100, "listener-recv-%")
}
