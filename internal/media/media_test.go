package media_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	cmedia "github.com/parleyhq/parley/client/media"
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
	a.close()
	srv.Leave(sid, "a")
	waitFor(t, 5*time.Second, "b to drop a's track", func() bool { return b.lastAnswered() == 2 })
	b.close()
	srv.Leave(sid, "b")
	if s, p := srv.Sessions(); s != 0 || p != 0 {
		t.Fatalf("%d sessions, %d participants left", s, p)
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
}
