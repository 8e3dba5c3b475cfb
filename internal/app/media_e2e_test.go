package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/media"
)

// stageRules is a test kind's audio rules: a table of policies by user
// (listener by default), as a room's stage would give them.
type stageRules struct {
	mu       sync.Mutex
	policies map[core.UserID]media.Policy
	left     []string
}

func (r *stageRules) MediaJoin(_ context.Context, _ core.StreamID, u core.UserID) (media.Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.policies[u] == (media.Policy{Muted: true, Version: 666}) {
		return media.Policy{}, errs.E(errs.Forbidden, "banned")
	}
	return r.policies[u], nil
}

func (r *stageRules) MediaLeft(s core.StreamID, u core.UserID, reason string) {
	r.mu.Lock()
	r.left = append(r.left, fmt.Sprintf("%s %s %s", s, u, reason))
	r.mu.Unlock()
}

func (r *stageRules) set(u string, p media.Policy) {
	r.mu.Lock()
	if r.policies == nil {
		r.policies = map[core.UserID]media.Policy{}
	}
	r.policies[core.UserID(u)] = p
	r.mu.Unlock()
}

func (r *stageRules) leftLog() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.left...)
}

func startMediaNode(t testing.TB, rules *stageRules) *apptest.Node {
	t.Helper()
	return apptest.Start(t, func(m *app.Main) { m.RegisterMediaKind("stage", rules, true) })
}

// member is one user with a connection and a media client.
type member struct {
	u    *apptest.User
	c    *client.Client
	mc   *cmedia.Client
	ev   *apptest.Events
	sess *cmedia.Session
}

func connect(t testing.TB, n *apptest.Node, name string) *member {
	t.Helper()
	mb := &member{u: n.SignUp(t, name), mc: cmedia.NewClient(), ev: &apptest.Events{}}
	opts := mb.ev.Options()
	collect := opts.OnPush
	opts.OnPush = func(p client.Push) {
		if !mb.mc.OnPush(p) {
			collect(p)
		}
	}
	opts.OnState = mb.mc.OnState
	mb.c = n.Dial(t, mb.u, opts)
	return mb
}

func (mb *member) join(t testing.TB, session string, o cmedia.PeerOptions) *cmedia.Session {
	t.Helper()
	o.Loopback = true
	onErr := func(err error) {
		// A test that drops a connection may do it while an offer is
		// being answered.
		if !errors.Is(err, client.ErrDisconnected) && !errors.Is(err, client.ErrClosed) {
			t.Errorf("%s: %v", mb.u.Handle, err)
		}
	}
	s, err := mb.mc.Join(ctx(t), mb.c, session, cmedia.Options{PeerOptions: o, OnError: onErr})
	if err != nil {
		t.Fatalf("%s joins %s: %v", mb.u.Handle, session, err)
	}
	mb.sess = s
	t.Cleanup(s.Close)
	return s
}

func (mb *member) heard(from *member) uint64 { return mb.sess.Peer().Received()[from.u.ID] }

// TestMediaRoomHostSpeakersListeners: a host and 2 speakers publish, 20
// listeners each receive every speaker.
func TestMediaRoomHostSpeakersListeners(t *testing.T) {
	rules := &stageRules{}
	n := startMediaNode(t, rules)
	const room = "stage:big"
	host := connect(t, n, "Host")
	speakers := []*member{host, connect(t, n, "SpeakerA"), connect(t, n, "SpeakerB")}
	for _, s := range speakers {
		rules.set(s.u.ID, media.Policy{CanSend: true})
		s.join(t, room, cmedia.PeerOptions{Publish: true})
	}
	listeners := make([]*member, 20)
	var wg sync.WaitGroup
	for i := range listeners {
		listeners[i] = connect(t, n, fmt.Sprintf("Listener%d", i))
	}
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.join(t, room, cmedia.PeerOptions{Publish: true}) // would publish, but is a listener
		}()
	}
	wg.Wait()
	for _, l := range listeners {
		apptest.Wait(t, 20*time.Second, l.u.Handle+" hears the 3 speakers", func() bool {
			return l.heard(speakers[0]) > 10 && l.heard(speakers[1]) > 10 && l.heard(speakers[2]) > 10
		})
		if got := len(l.sess.Peer().Received()); got != 3 {
			t.Fatalf("%s hears %d senders", l.u.Handle, got)
		}
		if l.sess.Peer().Sent() != 0 {
			t.Fatalf("listener %s sent audio", l.u.Handle)
		}
	}
	for _, s := range speakers {
		for _, o := range speakers {
			if s != o {
				apptest.Wait(t, 10*time.Second, s.u.Handle+" hears "+o.u.Handle, func() bool { return s.heard(o) > 10 })
			}
		}
	}
	if _, p := n.MediaServer().Sessions(); p != 23 {
		t.Fatalf("%d participants", p)
	}
}

// TestMediaMuteEnforced: a muted speaker whose client keeps sending is not
// heard; unmuted, it is again.
func TestMediaMuteEnforced(t *testing.T) {
	rules := &stageRules{}
	n := startMediaNode(t, rules)
	const room = "stage:mute"
	sp, l := connect(t, n, "Rogue"), connect(t, n, "Ear")
	rules.set(sp.u.ID, media.Policy{CanSend: true})
	sp.join(t, room, cmedia.PeerOptions{Publish: true, IgnorePolicy: true})
	l.join(t, room, cmedia.PeerOptions{})
	apptest.Wait(t, 10*time.Second, "audio", func() bool { return l.heard(sp) > 10 })

	if err := n.SetMediaPolicy(room, core.UserID(sp.u.ID), media.Policy{CanSend: true, Muted: true, Version: 2}); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "the policy push", func() bool { return sp.sess.Policy().Muted })
	time.Sleep(60 * time.Millisecond) // packets already forwarded may be in flight
	before, sent := l.heard(sp), sp.sess.Peer().Sent()
	apptest.Wait(t, 5*time.Second, "25 more packets from the rogue client", func() bool { return sp.sess.Peer().Sent() > sent+25 })
	if got := l.heard(sp); got != before {
		t.Fatalf("muted speaker heard: %d -> %d", before, got)
	}
	st, ok := n.MediaServer().Stats(media.SessionID(room))
	if !ok || (st[0].Up.Dropped < 25 && st[1].Up.Dropped < 25) {
		t.Fatalf("no packets dropped: %+v", st)
	}
	if err := n.SetMediaPolicy(room, core.UserID(sp.u.ID), media.Policy{CanSend: true, Version: 3}); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "unmuted audio", func() bool { return l.heard(sp) > before+10 })
}

// TestMediaStageChangesRenegotiate: a listener brought on stage is heard by
// everyone after a renegotiation; sent back, it is not.
func TestMediaStageChangesRenegotiate(t *testing.T) {
	rules := &stageRules{}
	n := startMediaNode(t, rules)
	const room = "stage:moves"
	host, a, b := connect(t, n, "Host"), connect(t, n, "Aud1"), connect(t, n, "Aud2")
	rules.set(host.u.ID, media.Policy{CanSend: true})
	host.join(t, room, cmedia.PeerOptions{Publish: true})
	a.join(t, room, cmedia.PeerOptions{Publish: true})
	b.join(t, room, cmedia.PeerOptions{Publish: true})
	apptest.Wait(t, 10*time.Second, "the audience hears the host", func() bool { return a.heard(host) > 5 && b.heard(host) > 5 })

	if err := n.SetMediaPolicy(room, core.UserID(a.u.ID), media.Policy{CanSend: true, Version: 5}); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 10*time.Second, "a on stage heard by b and the host", func() bool { return b.heard(a) > 5 && host.heard(a) > 5 })
	sdp := b.sess.Peer().PeerConnection().RemoteDescription().SDP
	if !strings.Contains(sdp, "msid:"+a.u.ID) {
		t.Fatalf("b's offer has no track of a:\n%s", sdp)
	}
	if err := n.SetMediaPolicy(room, core.UserID(a.u.ID), media.Policy{Version: 6}); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 10*time.Second, "a's track gone from b", func() bool {
		return !strings.Contains(b.sess.Peer().PeerConnection().RemoteDescription().SDP, "msid:"+a.u.ID)
	})
	time.Sleep(100 * time.Millisecond)
	heard := b.heard(a)
	time.Sleep(300 * time.Millisecond)
	if b.heard(a) != heard {
		t.Fatal("a still heard after leaving the stage")
	}
	if a.sess.Policy().CanSend {
		t.Fatal("a was not told it left the stage")
	}
}

// TestMediaLeaveAndDisconnectCleanUp: leaving, or dropping the connection,
// removes the participant, tells the domain, and every goroutine of the
// session ends.
func TestMediaLeaveAndDisconnectCleanUp(t *testing.T) {
	rules := &stageRules{}
	n := startMediaNode(t, rules)
	const room = "stage:bye"
	a, b := connect(t, n, "Leaver"), connect(t, n, "Dropper")
	// Warm the connections up so that their goroutines count in the base.
	var pong struct{}
	apptest.Request(t, a.c, "presence.set", map[string]string{"status": "active"}, &pong)
	apptest.Request(t, b.c, "presence.set", map[string]string{"status": "active"}, &pong)
	time.Sleep(100 * time.Millisecond)
	base := runtime.NumGoroutine()
	rules.set(a.u.ID, media.Policy{CanSend: true})
	a.join(t, room, cmedia.PeerOptions{Publish: true})
	b.join(t, room, cmedia.PeerOptions{Publish: true})
	apptest.Wait(t, 10*time.Second, "audio", func() bool { return b.heard(a) > 5 })
	if err := a.sess.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	b.c.Close() // the connection drops: the server removes b, the client closes its session
	select {
	case <-b.sess.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the client kept its session after the connection dropped")
	}
	if r := b.sess.Reason(); r != "disconnected" {
		t.Fatalf("session closed for %q", r)
	}
	apptest.Wait(t, 10*time.Second, "an empty node", func() bool {
		s, p := n.MediaServer().Sessions()
		return s == 0 && p == 0
	})
	apptest.Wait(t, 10*time.Second, "both departures told to the domain", func() bool { return len(rules.leftLog()) == 2 })
	got := strings.Join(rules.leftLog(), ",")
	if !strings.Contains(got, a.u.ID+" left") || !strings.Contains(got, b.u.ID+" disconnected") {
		t.Fatalf("left: %s", got)
	}
	// b comes back, so that its connection counts as it did in the base.
	b2 := n.Dial(t, b.u, nil)
	apptest.Request(t, b2, "presence.set", map[string]string{"status": "active"}, &pong)
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, base %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMediaProtocolErrors: bad requests get stable codes.
func TestMediaProtocolErrors(t *testing.T) {
	rules := &stageRules{}
	n := startMediaNode(t, rules)
	m := connect(t, n, "Prober")
	other := connect(t, n, "Other")
	call := func(c *client.Client, method string, params any) errs.Code {
		err := c.Request(ctx(t), method, params, nil)
		var ce *client.Error
		if err == nil {
			return ""
		}
		if !errors.As(err, &ce) {
			t.Fatalf("%s: %v", method, err)
		}
		return errs.Code(ce.Code)
	}
	for _, tc := range []struct {
		method string
		params any
		code   errs.Code
	}{
		{"media.join", map[string]any{"session": "nope:x"}, errs.NotFound},
		{"media.join", map[string]any{"session": "bad"}, errs.InvalidArgument},
		{"media.join", map[string]any{}, errs.InvalidArgument},
		{"media.answer", map[string]any{"session": "stage:x", "rev": 1, "sdp": "v=0"}, errs.NotFound},
		{"media.candidate", map[string]any{"session": "stage:x", "candidate": map[string]any{"candidate": ""}}, errs.NotFound},
		{"media.leave", map[string]any{"session": "stage:x"}, errs.NotFound},
		{"media.stats", map[string]any{"session": "stage:x"}, errs.NotFound},
		{"call.start", map[string]any{}, errs.InvalidArgument},
		{"call.start", map[string]any{"conversation": "channel:c1"}, errs.NotFound},
		{"call.decline", map[string]any{"call": "room:x"}, errs.InvalidArgument},
	} {
		if got := call(m.c, tc.method, tc.params); got != tc.code {
			t.Errorf("%s %v: %q, want %q", tc.method, tc.params, got, tc.code)
		}
	}
	rules.set(m.u.ID, media.Policy{Muted: true, Version: 666})
	if got := call(m.c, "media.join", map[string]any{"session": "stage:x"}); got != errs.Forbidden {
		t.Errorf("a banned join: %q", got)
	}
	rules.set(m.u.ID, media.Policy{})
	s := m.join(t, "stage:x", cmedia.PeerOptions{})
	// media.max_sessions_per_conn (4): three more sessions, then no more.
	for _, extra := range []string{"stage:x2", "stage:x3", "stage:x4"} {
		es, err := m.mc.Join(ctx(t), m.c, extra, cmedia.Options{PeerOptions: cmedia.PeerOptions{Loopback: true}})
		if err != nil {
			t.Fatalf("join %s: %v", extra, err)
		}
		t.Cleanup(es.Close)
	}
	if got := call(m.c, "media.join", map[string]any{"session": "stage:x5"}); got != errs.LimitExceeded {
		t.Errorf("a fifth session: %q", got)
	}
	// Another connection may not answer for this participant.
	if got := call(other.c, "media.answer", map[string]any{"session": "stage:x", "rev": 1, "sdp": "v=0"}); got != errs.NotFound {
		t.Errorf("answer from a stranger: %q", got)
	}
	if got := call(m.c, "media.answer", map[string]any{"session": "stage:x", "rev": 1, "sdp": "v=0"}); got != errs.Conflict {
		t.Errorf("a second answer: %q", got)
	}
	if got := call(m.c, "media.candidate", map[string]any{"session": "stage:x", "candidate": map[string]any{"candidate": "candidate:garbage"}}); got != errs.InvalidArgument {
		t.Errorf("a bad candidate: %q", got)
	}
	_ = s
}

// TestMediaSpeakersStatsAndMetrics: active speakers reach the session's
// stream; stats are served to participants by the protocol and HTTP, and
// the media counters are on /metrics.
func TestMediaSpeakersStatsAndMetrics(t *testing.T) {
	rules := &stageRules{}
	n := startMediaNode(t, rules)
	const room = "stage:talk"
	sp, l := connect(t, n, "Talker"), connect(t, n, "Watcher")
	if _, err := l.c.Subscribe(ctx(t), room, nil); err != nil {
		t.Fatal(err)
	}
	rules.set(sp.u.ID, media.Policy{CanSend: true})
	sp.join(t, room, cmedia.PeerOptions{Publish: true, Level: 25})
	l.join(t, room, cmedia.PeerOptions{})
	apptest.Wait(t, 10*time.Second, "a speakers event", func() bool { return len(l.ev.Of(room, app.EventMediaSpeakers)) > 0 })
	var d struct {
		Speakers []media.Speaker `json:"speakers"`
	}
	apptest.Data(t, l.ev.Of(room, app.EventMediaSpeakers)[0], &d)
	if len(d.Speakers) != 1 || d.Speakers[0].Participant != media.ParticipantID(sp.u.ID) || d.Speakers[0].Level != 102 {
		t.Fatalf("speakers %+v", d)
	}
	apptest.Wait(t, 10*time.Second, "audio", func() bool { return l.heard(sp) > 20 })

	var res app.MediaStatsResult
	apptest.Request(t, l.c, "media.stats", map[string]string{"session": room}, &res)
	if len(res.Participants) != 2 {
		t.Fatalf("stats %+v", res)
	}
	tok, _ := sp.u.Session.Token(ctx(t))
	req, _ := http.NewRequest("GET", n.URL()+"/v1/media/sessions/"+room+"/stats", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hres app.MediaStatsResult
	if err := json.NewDecoder(resp.Body).Decode(&hres); err != nil || resp.StatusCode != 200 || len(hres.Participants) != 2 {
		t.Fatalf("HTTP stats: %d %v %+v", resp.StatusCode, err, hres)
	}
	resp.Body.Close()
	resp, err = http.Get(n.URL() + "/v1/media/sessions/" + room + "/stats")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("HTTP stats without a token: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	resp, err = http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"parley_media_participants 2", "parley_media_packets_out_total", `parley_media_sender_packets_total{participant="` + sp.u.ID + `",session="stage:talk"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestCallRingJoinDeclineLeave: a call rings every device of its members;
// answering on one device stops the ring on the others; a member declines;
// the two in the call hear each other; the call ends when the last person
// leaves.
func TestCallRingJoinDeclineLeave(t *testing.T) {
	n := startMediaNode(t, &stageRules{})
	alice, bob, carol := connect(t, n, "Alice"), connect(t, n, "Bob"), connect(t, n, "Carol")
	// Bob has a second device.
	bob2ev := &apptest.Events{}
	n.Dial(t, bob.u, bob2ev.Options())

	var start app.CallStartResult
	apptest.Request(t, alice.c, "call.start", map[string]any{"members": []string{bob.u.ID, carol.u.ID}}, &start)
	if !strings.HasPrefix(string(start.Call), "call:") || len(start.Members) != 3 {
		t.Fatalf("start: %+v", start)
	}
	call := string(start.Call)
	ringed := func(ev *apptest.Events, event string) bool {
		for _, p := range ev.Pushes() {
			var r struct {
				Call   string `json:"call"`
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal(p.Data, &r)
			if p.Type == event && r.Call == call {
				return true
			}
		}
		return false
	}
	for name, ev := range map[string]*apptest.Events{"bob": bob.ev, "bob's second device": bob2ev, "carol": carol.ev} {
		apptest.Wait(t, 5*time.Second, name+" ringing", func() bool { return ringed(ev, "call.ring") })
	}
	if ringed(alice.ev, "call.ring") {
		t.Fatal("the caller's own devices ring")
	}
	// Strangers may not watch or join the call.
	eve := connect(t, n, "Eve")
	if _, err := eve.c.Subscribe(ctx(t), call, nil); err == nil {
		t.Fatal("a stranger watches the call")
	}
	if _, err := eve.mc.Join(ctx(t), eve.c, call, cmedia.Options{}); err == nil {
		t.Fatal("a stranger joins the call's audio")
	}
	zero := uint64(0)
	if _, err := alice.c.Subscribe(ctx(t), call, &zero); err != nil {
		t.Fatal(err)
	}

	alice.join(t, call, cmedia.PeerOptions{Publish: true})
	bob.join(t, call, cmedia.PeerOptions{Publish: true})
	apptest.Wait(t, 5*time.Second, "the ring to stop on bob's other device", func() bool { return ringed(bob2ev, "call.ring_ended") })
	apptest.Request(t, carol.c, "call.decline", map[string]string{"call": call}, nil)
	apptest.Wait(t, 10*time.Second, "alice and bob hear each other", func() bool { return alice.heard(bob) > 10 && bob.heard(alice) > 10 })

	if err := alice.sess.Leave(ctx(t)); err != nil {
		t.Fatal(err)
	}
	bob.c.Close() // bob's connection drops: he leaves the call too
	apptest.Wait(t, 10*time.Second, "the call to end", func() bool { return len(alice.ev.Of(call, "call.ended")) == 1 })
	var types []string
	for _, ev := range alice.ev.Of(call) {
		if ev.Seq > 0 { // logged events; media.speakers is ephemeral
			types = append(types, ev.Type)
		}
	}
	want := "call.started call.joined call.joined call.declined call.left call.left call.ended"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("call events: %s, want %s", got, want)
	}
	if _, err := carol.mc.Join(ctx(t), carol.c, call, cmedia.Options{}); err == nil {
		t.Fatal("joined an ended call")
	}
}

// TestMediaICEServersWithTURNSecret: join results hand out STUN as is and
// TURN with per-user credentials of the TURN REST API scheme (coturn's
// use-auth-secret).
func TestMediaICEServersWithTURNSecret(t *testing.T) {
	rules := &stageRules{}
	n := apptest.Start(t,
		apptest.WithConfig(func(c *config.Config) {
			c.Media.ICEURLs = []string{"stun:turn.example.com:3478", "turn:turn.example.com:3478?transport=udp"}
			c.Media.TURNSecret = "s3cret"
			c.Media.TURNTTL = time.Hour
		}),
		func(m *app.Main) { m.RegisterMediaKind("stage", rules, true) })
	m := connect(t, n, "Turner")
	var res app.MediaJoinResult
	apptest.Request(t, m.c, "media.join", map[string]string{"session": "stage:turn"}, &res)
	apptest.Request(t, m.c, "media.leave", map[string]string{"session": "stage:turn"}, nil)
	if len(res.ICEServers) != 2 || res.ICEServers[0].URLs[0] != "stun:turn.example.com:3478" || res.ICEServers[0].Username != "" {
		t.Fatalf("ice servers %+v", res.ICEServers)
	}
	turn := res.ICEServers[1]
	exp, user, ok := strings.Cut(turn.Username, ":")
	if !ok || user != m.u.ID {
		t.Fatalf("TURN user name %q", turn.Username)
	}
	if at, _ := strconv.ParseInt(exp, 10, 64); time.Until(time.Unix(at, 0)) < 59*time.Minute || time.Until(time.Unix(at, 0)) > time.Hour {
		t.Fatalf("TURN credentials expire at %s", exp)
	}
	mac := hmac.New(sha1.New, []byte("s3cret"))
	mac.Write([]byte(turn.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); turn.Credential != want {
		t.Fatalf("TURN credential %q, want %q", turn.Credential, want)
	}
	if res.PublishMid != "0" || res.Offer.Rev != 1 || !strings.Contains(res.Offer.SDP, "a=mid:0") {
		t.Fatalf("join result %+v", res)
	}
}
