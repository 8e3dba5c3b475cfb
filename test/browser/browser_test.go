// Package browser holds Parley's browser tests: headless Chromium (Debian's
// /usr/bin/chromium, or PARLEY_TEST_CHROMIUM) driven by playwright-core through
// media.mjs, against a whole node started in the test. scripts/test.sh
// installs Chromium and the npm package; without them the tests fail and say
// what is missing.
package browser

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/media"
)

// rules lets the listed users speak in "stage:" sessions; everyone else
// listens.
type rules struct {
	mu       sync.Mutex
	speakers map[core.UserID]bool
}

func (r *rules) MediaJoin(_ context.Context, _ core.StreamID, u core.UserID) (media.Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return media.Policy{CanSend: r.speakers[u]}, nil
}

func (r *rules) MediaLeft(core.StreamID, core.UserID, string) {}

func (r *rules) speak(u string) {
	r.mu.Lock()
	if r.speakers == nil {
		r.speakers = map[core.UserID]bool{}
	}
	r.speakers[core.UserID(u)] = true
	r.mu.Unlock()
}

func chromiumPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("PARLEY_TEST_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Chromium not found at %s: install it (Debian: apt-get install chromium; scripts/test.sh does) or set PARLEY_TEST_CHROMIUM", p)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed (Debian: apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed: run `npm ci --prefix test/browser` (scripts/test.sh does)")
	}
	return p
}

func startNode(t testing.TB, r *rules) *apptest.Node {
	t.Helper()
	return apptest.Start(t,
		apptest.WithConfig(func(c *config.Config) { c.Media.TestPage = true }),
		func(m *app.Main) { m.RegisterMediaKind("stage", r, true) },
	)
}

type browserPeer struct {
	Token   string `json:"token"`
	Session string `json:"session"`
	Publish bool   `json:"publish"`
}

type pageStats struct {
	Inbound []struct {
		PacketsReceived  int     `json:"packetsReceived"`
		PacketsLost      int     `json:"packetsLost"`
		TotalAudioEnergy float64 `json:"totalAudioEnergy"`
	} `json:"inbound"`
	Outbound []struct {
		PacketsSent int `json:"packetsSent"`
	} `json:"outbound"`
	FirstAudioMS *float64 `json:"firstAudioMs"`
	Errors       []string `json:"errors"`
	Connection   string   `json:"connection"`
}

type result struct {
	Ready        bool        `json:"ready"`
	Stats        []pageStats `json:"stats"`
	FirstAudioMS []float64   `json:"firstAudioMs"`
}

// browser runs media.mjs with opts; lines delivers each JSON line it prints.
type browser struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan result
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b = append(l.b, p...)
	l.mu.Unlock()
	return len(p), nil
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return string(l.b) }

func runBrowser(t testing.TB, n *apptest.Node, mode string, peers []browserPeer, extra map[string]any) *browser {
	t.Helper()
	opts := map[string]any{"url": n.URL(), "chromium": chromiumPath(t), "mode": mode, "peers": peers}
	for k, v := range extra {
		opts[k] = v
	}
	arg, _ := json.Marshal(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "node", "media.mjs", string(arg))
	b := &browser{cmd: cmd, lines: make(chan result, 4), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = b.stderr
	if os.Getenv("PARLEY_TEST_BROWSER_VERBOSE") != "" {
		cmd.Stderr = io.MultiWriter(b.stderr, os.Stderr)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	b.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var r result
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				b.lines <- r
			}
		}
		b.done <- cmd.Wait()
		close(b.lines)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		cancel()
		<-b.done
	})
	return b
}

// next waits for the next result line.
func (b *browser) next(t testing.TB) result {
	t.Helper()
	select {
	case r, ok := <-b.lines:
		if !ok {
			t.Fatalf("the browser stopped:\n%s", b.stderr.String())
		}
		return r
	case <-time.After(2 * time.Minute):
		t.Fatalf("no answer from the browser:\n%s", b.stderr.String())
	}
	return result{}
}

func token(t testing.TB, u *apptest.User) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := u.Session.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func goJoin(t testing.TB, n *apptest.Node, u *apptest.User, session string, publish bool) *cmedia.Session {
	t.Helper()
	mc := cmedia.NewClient()
	c := n.Dial(t, u, &client.Options{OnPush: func(p client.Push) { mc.OnPush(p) }})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := mc.Join(ctx, c, session, cmedia.Options{PeerOptions: cmedia.PeerOptions{Publish: publish, Loopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestChromiumSpeakerHeardByGoListener: Chromium publishes its (fake)
// microphone on stage; a Go listener receives it.
func TestChromiumSpeakerHeardByGoListener(t *testing.T) {
	r := &rules{}
	n := startNode(t, r)
	const room = "stage:chrome-speaks"
	sp, l := n.SignUp(t, "ChromeSpeaker"), n.SignUp(t, "GoListener")
	r.speak(sp.ID)
	b := runBrowser(t, n, "hold", []browserPeer{{Token: token(t, sp), Session: room, Publish: true}}, nil)
	if !b.next(t).Ready {
		t.Fatal("the browser did not join")
	}
	s := goJoin(t, n, l, room, false)
	apptest.Wait(t, 20*time.Second, "the Go listener to hear Chromium", func() bool { return s.Peer().Received()[sp.ID] >= 50 })
	_ = b.stdin.Close()
	res := b.next(t)
	if len(res.Stats) != 1 || len(res.Stats[0].Outbound) != 1 || res.Stats[0].Outbound[0].PacketsSent < 50 || len(res.Stats[0].Errors) > 0 {
		t.Fatalf("Chromium's side: %+v", res.Stats)
	}
	t.Logf("Go listener got %d packets from Chromium, which sent %d", s.Peer().Received()[sp.ID], res.Stats[0].Outbound[0].PacketsSent)
}

// TestGoSpeakerHeardByChromiumListener: a Go speaker is heard by a
// Chromium listener (inbound-rtp packetsReceived > 0, and decoded audio).
func TestGoSpeakerHeardByChromiumListener(t *testing.T) {
	r := &rules{}
	n := startNode(t, r)
	const room = "stage:go-speaks"
	sp, l := n.SignUp(t, "GoSpeaker"), n.SignUp(t, "ChromeListener")
	r.speak(sp.ID)
	goJoin(t, n, sp, room, true)
	b := runBrowser(t, n, "listen", []browserPeer{{Token: token(t, l), Session: room}}, map[string]any{"minPackets": 50, "timeoutMs": 30000})
	res := b.next(t)
	st := res.Stats[0]
	// Energy above zero means Chromium decoded the Go client's Opus tone.
	if len(st.Inbound) != 1 || st.Inbound[0].PacketsReceived < 50 || st.Inbound[0].TotalAudioEnergy <= 0 || st.FirstAudioMS == nil || len(st.Errors) > 0 {
		t.Fatalf("Chromium's side: %+v", st)
	}
	t.Logf("Chromium received %d packets (lost %d, audio energy %g), first after %.1f ms",
		st.Inbound[0].PacketsReceived, st.Inbound[0].PacketsLost, st.Inbound[0].TotalAudioEnergy, *st.FirstAudioMS)
}

// TestChromiumJoinToFirstAudio measures, in Chromium, the time from the
// media.join request to the first RTP packet of a Go speaker, over
// PARLEY_TEST_BROWSER_JOINS joins (default 5). docs/benchmarks-media.md has the
// figures of a longer run.
func TestChromiumJoinToFirstAudio(t *testing.T) {
	joins := 5
	if v, err := strconv.Atoi(os.Getenv("PARLEY_TEST_BROWSER_JOINS")); err == nil && v > 0 {
		joins = v
	}
	r := &rules{}
	n := startNode(t, r)
	const room = "stage:latency"
	sp, l := n.SignUp(t, "GoSpeaker"), n.SignUp(t, "ChromeJoiner")
	r.speak(sp.ID)
	goJoin(t, n, sp, room, true)
	b := runBrowser(t, n, "latency", []browserPeer{{Token: token(t, l), Session: room}}, map[string]any{"joins": joins, "verbose": os.Getenv("PARLEY_TEST_BROWSER_VERBOSE") != ""})
	ms := b.next(t).FirstAudioMS
	if len(ms) != joins {
		t.Fatalf("%d measures, want %d", len(ms), joins)
	}
	slices.Sort(ms)
	p := func(q float64) float64 { return ms[min(len(ms)-1, int(q*float64(len(ms))))] }
	t.Logf("Chromium join to first audio over %d joins: p50 %.1f ms, p95 %.1f ms, max %.1f ms", joins, p(0.5), p(0.95), ms[len(ms)-1])
	fmt.Printf("chromium-join-to-first-audio joins=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f\n", joins, p(0.5), p(0.95), ms[len(ms)-1])
}
