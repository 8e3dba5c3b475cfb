package media_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/media"
)

// The tests drive the SFU with real pion peers (the SDK's media client) over
// UDP on loopback; signaling goes through Go calls instead of the WebSocket.

func newServer(t testing.TB, mod func(*media.Config)) *media.Server {
	t.Helper()
	cfg := media.Config{UDPAddr: "127.0.0.1:0", IncludeLoopback: true, SpeakerInterval: 100 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	s, err := media.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// peer is a test participant: a client peer wired to the server through a
// signaler that answers renegotiation offers on its own goroutine.
type peer struct {
	t    testing.TB
	srv  *media.Server
	sid  media.SessionID
	id   media.ParticipantID
	p    *cmedia.Peer
	offs chan media.Offer
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	policies []media.Policy
	closed   []string
	answered uint64
}

func (pe *peer) Offer(o media.Offer) { pe.offs <- o }
func (pe *peer) Policy(p media.Policy) {
	pe.p.SetAllowed(p.Forwards())
	pe.mu.Lock()
	pe.policies = append(pe.policies, p)
	pe.mu.Unlock()
}
func (pe *peer) Closed(r string) { pe.mu.Lock(); pe.closed = append(pe.closed, r); pe.mu.Unlock() }

func (pe *peer) lastAnswered() uint64 { pe.mu.Lock(); defer pe.mu.Unlock(); return pe.answered }
func (pe *peer) closedReasons() []string {
	pe.mu.Lock()
	defer pe.mu.Unlock()
	return append([]string(nil), pe.closed...)
}

func join(t testing.TB, srv *media.Server, sid media.SessionID, id string, pol media.Policy, o cmedia.PeerOptions) *peer {
	t.Helper()
	o.Loopback = true
	cp, err := cmedia.NewPeer(o)
	if err != nil {
		t.Fatal(err)
	}
	pe := &peer{t: t, srv: srv, sid: sid, id: media.ParticipantID(id), p: cp, offs: make(chan media.Offer, 16), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offer, err := srv.Join(ctx, sid, pe.id, pol, pe)
	if err != nil {
		t.Fatalf("join %s: %v", id, err)
	}
	cp.SetAllowed(pol.Forwards())
	pe.answer(offer)
	pe.wg.Add(1)
	go func() {
		defer pe.wg.Done()
		for {
			select {
			case <-pe.done:
				return
			case o := <-pe.offs:
				pe.answer(o)
			}
		}
	}()
	t.Cleanup(pe.close)
	return pe
}

func (pe *peer) answer(o media.Offer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := pe.p.Answer(ctx, o.SDP)
	if err != nil {
		pe.t.Errorf("%s: answer %d: %v", pe.id, o.Rev, err)
		return
	}
	if err := pe.srv.Answer(pe.sid, pe.id, o.Rev, ans); err != nil {
		pe.t.Errorf("%s: send answer %d: %v", pe.id, o.Rev, err)
		return
	}
	pe.mu.Lock()
	pe.answered = o.Rev
	pe.mu.Unlock()
}

func (pe *peer) close() {
	select {
	case <-pe.done:
		return
	default:
	}
	close(pe.done)
	pe.wg.Wait()
	_ = pe.p.Close()
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func received(pe *peer, from string) uint64 { return pe.p.Received()[from] }

func TestSpeakersReachEveryone(t *testing.T) {
	srv := newServer(t, nil)
	const sid = "room:r1"
	host := join(t, srv, sid, "host", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	s1 := join(t, srv, sid, "s1", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	var listeners []*peer
	for i := 0; i < 4; i++ {
		listeners = append(listeners, join(t, srv, sid, fmt.Sprintf("l%d", i), media.Policy{}, cmedia.PeerOptions{}))
	}
	for _, l := range listeners {
		waitFor(t, 10*time.Second, string(l.id)+" hears both", func() bool {
			return received(l, "host") > 5 && received(l, "s1") > 5
		})
		if n := len(l.p.Received()); n != 2 {
			t.Fatalf("%s hears %d senders: %v", l.id, n, l.p.Received())
		}
	}
	waitFor(t, 5*time.Second, "speakers hear each other", func() bool {
		return received(host, "s1") > 5 && received(s1, "host") > 5
	})
	if received(host, "host") != 0 {
		t.Fatal("the host hears itself")
	}
}

func TestMuteStopsForwardingWhateverTheClientDoes(t *testing.T) {
	srv := newServer(t, nil)
	const sid = "room:mute"
	sp := join(t, srv, sid, "sp", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true, IgnorePolicy: true})
	l := join(t, srv, sid, "l", media.Policy{}, cmedia.PeerOptions{})
	waitFor(t, 10*time.Second, "audio flows", func() bool { return received(l, "sp") > 5 })
	if _, err := srv.SetPolicy(sid, "sp", media.Policy{CanSend: true, Muted: true}); err != nil {
		t.Fatal(err)
	}
	// Packets forwarded before SetPolicy returned may still be in flight.
	time.Sleep(100 * time.Millisecond)
	before, sentBefore := received(l, "sp"), sp.p.Sent()
	waitFor(t, 5*time.Second, "the muted client to send 25 more packets", func() bool { return sp.p.Sent() > sentBefore+25 })
	if got := received(l, "sp"); got != before {
		t.Fatalf("muted speaker still heard: %d -> %d packets", before, got)
	}
	if _, err := srv.SetPolicy(sid, "sp", media.Policy{CanSend: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "unmuted audio", func() bool { return received(l, "sp") > before+10 })
}

func TestLeavingRestoresGoroutines(t *testing.T) {
	srv := newServer(t, nil)
	base := runtime.NumGoroutine()
	const sid = "room:gone"
	a := join(t, srv, sid, "a", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	b := join(t, srv, sid, "b", media.Policy{}, cmedia.PeerOptions{})
	waitFor(t, 10*time.Second, "audio", func() bool { return received(b, "a") > 5 })
	rev := b.lastAnswered()
	a.close()
	srv.Leave(sid, "a")
	waitFor(t, 5*time.Second, "b to drop a's track", func() bool { return b.lastAnswered() > rev })
	b.close()
	srv.Leave(sid, "b")
	if s, p := srv.Sessions(); s != 0 || p != 0 {
		t.Fatalf("%d sessions, %d participants left", s, p)
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
}

func TestStageChangesRenegotiate(t *testing.T) {
	srv := newServer(t, nil)
	const sid = "room:stage"
	host := join(t, srv, sid, "host", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	a := join(t, srv, sid, "a", media.Policy{}, cmedia.PeerOptions{Publish: true})
	b := join(t, srv, sid, "b", media.Policy{}, cmedia.PeerOptions{Publish: true})
	waitFor(t, 10*time.Second, "listeners hear the host", func() bool { return received(a, "host") > 5 && received(b, "host") > 5 })
	if a.p.Sent() != 0 {
		t.Fatalf("a cooperating listener sent %d packets", a.p.Sent())
	}

	// a comes on stage: everyone else gets a's track.
	revB := b.lastAnswered()
	if _, err := srv.SetPolicy(sid, "a", media.Policy{CanSend: true, Version: 2}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "b and the host hear a", func() bool {
		return received(b, "a") > 5 && received(host, "a") > 5
	})
	if b.lastAnswered() <= revB {
		t.Fatal("b heard a without a renegotiation")
	}

	// An older policy is ignored.
	if _, err := srv.SetPolicy(sid, "a", media.Policy{Version: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	n := received(b, "a")
	waitFor(t, 5*time.Second, "a still heard", func() bool { return received(b, "a") > n+5 })

	// a goes back to the audience; b comes on stage and takes over the
	// transceiver a's track had at the host.
	if _, err := srv.SetPolicy(sid, "a", media.Policy{Version: 3}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	heardA := received(host, "a")
	if _, err := srv.SetPolicy(sid, "b", media.Policy{CanSend: true, Version: 4}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the host and a hear b", func() bool { return received(host, "b") > 5 && received(a, "b") > 5 })
	time.Sleep(200 * time.Millisecond)
	if got := received(host, "a"); got != heardA {
		t.Fatalf("a, off stage, still reaches the host: %d -> %d", heardA, got)
	}
	sdp := host.p.PeerConnection().RemoteDescription().SDP
	if n := strings.Count(sdp, "m=audio"); n != 2 {
		t.Fatalf("the host's SDP has %d audio sections, want 2 (its own, and the one of a reused by b):\n%s", n, sdp)
	}
}

func TestActiveSpeakers(t *testing.T) {
	var (
		mu   sync.Mutex
		seen [][]media.Speaker
	)
	srv := newServer(t, func(c *media.Config) {
		c.OnSpeakers = func(s media.SessionID, sp []media.Speaker) {
			mu.Lock()
			seen = append(seen, sp)
			mu.Unlock()
		}
	})
	const sid = "room:speakers"
	join(t, srv, sid, "loud", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true, Level: 10})
	join(t, srv, sid, "soft", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true, Level: 40})
	join(t, srv, sid, "quiet", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true, Level: 127})
	last := func() []media.Speaker {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return nil
		}
		return seen[len(seen)-1]
	}
	waitFor(t, 10*time.Second, "two active speakers", func() bool { return len(last()) == 2 })
	sp := last()
	if sp[0].Participant != "loud" || sp[1].Participant != "soft" || sp[0].Level != 117 || sp[1].Level != 87 {
		t.Fatalf("speakers %+v", sp)
	}
	if _, err := srv.SetPolicy(sid, "loud", media.Policy{CanSend: true, Muted: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the muted speaker to drop out", func() bool {
		sp := last()
		return len(sp) == 1 && sp[0].Participant == "soft"
	})
	mu.Lock()
	reports := len(seen)
	mu.Unlock()
	// Reports come only on change: a steady state sends nothing.
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != reports {
		t.Fatalf("%d reports in a steady state", len(seen)-reports)
	}
}

func TestStatsAndLimits(t *testing.T) {
	srv := newServer(t, func(c *media.Config) { c.MaxParticipants = 3; c.MaxSenders = 1 })
	const sid = "room:stats"
	join(t, srv, sid, "sp", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	l := join(t, srv, sid, "l", media.Policy{}, cmedia.PeerOptions{})
	waitFor(t, 10*time.Second, "audio", func() bool { return received(l, "sp") > 25 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A second sender is over media.max_senders: it joins, sends, and is
	// not forwarded.
	sp2 := join(t, srv, sid, "sp2", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	if _, err := srv.Join(ctx, sid, "l3", media.Policy{}, &peer{}); errs.CodeOf(err) != errs.LimitExceeded {
		t.Fatalf("fourth participant: %v", err)
	}
	waitFor(t, 5*time.Second, "the second sender to send", func() bool { return sp2.p.Sent() > 25 })
	if n := received(l, "sp2"); n != 0 {
		t.Fatalf("a sender over the limit was heard: %d packets", n)
	}
	if _, err := srv.Join(ctx, sid, "bad id", media.Policy{}, &peer{}); errs.CodeOf(err) != errs.InvalidArgument {
		t.Fatalf("bad id: %v", err)
	}
	if err := srv.Answer(sid, "l", 99, "v=0"); errs.CodeOf(err) != errs.Conflict {
		t.Fatalf("stale answer: %v", err)
	}
	if err := srv.Answer(sid, "nobody", 1, "v=0"); errs.CodeOf(err) != errs.NotFound {
		t.Fatalf("answer of a stranger: %v", err)
	}
	waitFor(t, 5*time.Second, "bitrates", func() bool {
		st, _ := srv.Stats(sid)
		return len(st) == 3 && st[1].Up.BitrateBPS > 10000 && st[0].Down.BitrateBPS > 10000
	})
	st, ok := srv.Stats(sid)
	if !ok || st[0].Participant != "l" || st[1].Participant != "sp" {
		t.Fatalf("stats %+v", st)
	}
	up := st[1].Up
	// The packets before its track existed were dropped: one or two.
	if up.Packets < 25 || up.Bytes < 25*40 || up.Lost != 0 || up.Dropped > 2 || up.JitterMS > 20 {
		t.Fatalf("sender stats %+v", up)
	}
	if d := st[0].Down; d.Tracks != 1 || d.Packets < 25 || !st[0].Connected {
		t.Fatalf("listener stats %+v", st[0])
	}
	tot := srv.Totals()
	waitFor(t, 5*time.Second, "the refused sender's packets dropped", func() bool {
		st, _ := srv.Stats(sid)
		return len(st) == 3 && st[2].Up.Dropped >= 25 && st[2].Up.Dropped == st[2].Up.Packets
	})
	if tot.Sessions != 1 || tot.Participants != 3 || tot.PacketsIn < 25 || tot.PacketsOut < 25 {
		t.Fatalf("totals %+v", tot)
	}
}

// TestShardedFanout: past FanoutShard receivers, a sender's packets are
// written by several goroutines; every listener still hears every packet
// path, and leaving listeners free their places.
func TestShardedFanout(t *testing.T) {
	srv := newServer(t, func(c *media.Config) { c.FanoutShard = 2 })
	const sid = "room:wide"
	join(t, srv, sid, "host", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	var ls []*peer
	for i := 0; i < 7; i++ {
		ls = append(ls, join(t, srv, sid, fmt.Sprintf("l%d", i), media.Policy{}, cmedia.PeerOptions{}))
	}
	for _, l := range ls {
		waitFor(t, 10*time.Second, string(l.id)+" hears the host", func() bool { return received(l, "host") > 25 })
	}
	// Packets reach every listener at the same pace, whichever shard it is in.
	base := make([]uint64, len(ls))
	for i, l := range ls {
		base[i] = received(l, "host")
	}
	time.Sleep(time.Second)
	got := make([]uint64, len(ls))
	var most uint64
	for i, l := range ls {
		got[i] = received(l, "host") - base[i]
		most = max(most, got[i])
	}
	// 50 are sent; a loaded machine (-race, shared cores) delays some, but
	// no shard falls behind the others.
	for i := range ls {
		if most < 20 || got[i]*2 < most {
			t.Fatalf("packets per listener in a second: %v", got)
		}
	}
	for _, l := range ls[:4] {
		l.close()
		srv.Leave(sid, l.id)
	}
	late := join(t, srv, sid, "late", media.Policy{}, cmedia.PeerOptions{})
	waitFor(t, 10*time.Second, "the late listener hears the host", func() bool { return received(late, "host") > 10 })
}

// closedRecorder records why the server removed a participant.
type closedRecorder struct {
	nopSignaler
	reasons chan string
}

func (c *closedRecorder) Closed(r string) { c.reasons <- r }

// TestTimeoutsAndCandidateLimit: an offer never answered, and a connection
// never established, each remove the participant and say why; candidates
// beyond MaxCandidates per offer are refused.
func TestTimeoutsAndCandidateLimit(t *testing.T) {
	srv := newServer(t, func(c *media.Config) {
		c.NegotiationTimeout = 300 * time.Millisecond
		c.ConnectTimeout = 600 * time.Millisecond
		c.MaxCandidates = 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const sid = "room:limits"

	silent := &closedRecorder{reasons: make(chan string, 1)}
	if _, err := srv.Join(ctx, sid, "silent", media.Policy{}, silent); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-silent.reasons:
		if r != media.ReasonNegotiationTimeout {
			t.Fatalf("silent participant removed for %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an unanswered offer did not time out")
	}

	// This one answers, but its side of the connection is gone at once.
	gone := &closedRecorder{reasons: make(chan string, 1)}
	offer, err := srv.Join(ctx, sid, "gone", media.Policy{}, gone)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := cmedia.NewPeer(cmedia.PeerOptions{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := cp.Answer(ctx, offer.SDP)
	if err != nil {
		t.Fatal(err)
	}
	_ = cp.Close()
	if err := srv.Answer(sid, "gone", offer.Rev, ans); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := srv.AddCandidate(sid, "gone", media.Candidate{Candidate: fmt.Sprintf("candidate:%d 1 udp 1 192.0.2.1 %d typ host", i, 9000+i)}); err != nil {
			t.Fatalf("candidate %d: %v", i, err)
		}
	}
	if err := srv.AddCandidate(sid, "gone", media.Candidate{Candidate: "candidate:3 1 udp 1 192.0.2.1 9003 typ host"}); errs.CodeOf(err) != errs.LimitExceeded {
		t.Fatalf("third candidate: %v", err)
	}
	select {
	case r := <-gone.reasons:
		if r != media.ReasonConnectFailed {
			t.Fatalf("unconnected participant removed for %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a connection never established did not time out")
	}
	// The participant is told before its session is torn down.
	waitFor(t, 5*time.Second, "the empty session to go", func() bool {
		s, p := srv.Sessions()
		return s == 0 && p == 0
	})
}
