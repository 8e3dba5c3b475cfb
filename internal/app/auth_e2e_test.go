package app_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
)

// counter reads a counter or gauge without labels from /metrics.
func counter(t testing.TB, n *apptest.Node, name string) float64 {
	t.Helper()
	resp, err := http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, name)), 64)
			return v
		}
	}
	return 0
}

// skewClock runs behind the wall clock so that tokens it stamps expire a
// few seconds after they are issued, in real time.
type skewClock struct {
	mu   sync.Mutex
	skew time.Duration
}

func (c *skewClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(-c.skew)
}

// TestTokenExpiryAndRefresh: a connection that never refreshes is closed
// with token_expired; one whose client refreshes stays up across expiries.
func TestTokenExpiryAndRefresh(t *testing.T) {
	// Access tokens live 15 minutes; a clock 14m57s behind makes them expire
	// three real seconds after issue.
	clk := &skewClock{skew: 15*time.Minute - 3*time.Second}
	n := apptest.Start(t, apptest.WithClock(clk), apptest.WithConfig(func(c *config.Config) {
		c.Gateway.HeartbeatInterval = time.Second
	}))
	u := n.SignUp(t, "Tia")
	stale, err := client.Dial(ctx(t), client.Options{URL: n.URL(), Token: client.StaticToken(accessToken(t, u)), Reconnect: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	defer stale.Close()
	// The stale client cannot refresh: the watchdog's refresh sends the same
	// expiring token, and the node closes it when the token expires.
	fresh := n.Dial(t, u, nil)
	first := fresh.Hello().ExpiresAt
	select {
	case <-stale.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection with an expired token stayed open")
	}
	var ce *client.Error
	if !asErr(stale.Err(), &ce) || ce.Code != "token_expired" || ce.CloseCode != 4402 {
		t.Fatalf("stale connection ended with %v", stale.Err())
	}
	// The refreshing client outlives two token lifetimes on one connection.
	time.Sleep(4 * time.Second)
	if !fresh.Connected() || fresh.Stats().Connects != 1 {
		t.Fatalf("refreshing client: connected=%v %+v", fresh.Connected(), fresh.Stats())
	}
	exp, err := fresh.Refresh(ctx(t))
	if err != nil || !exp.After(first) {
		t.Fatalf("refresh: %v %v (first expiry %v)", exp, err, first)
	}
	// A refresh frame with another user's token is refused, without closing.
	other := n.SignUp(t, "Oz")
	fr := dialRaw(t, n.URL(), nil)
	fr.auth(accessToken(t, u))
	fr.send(map[string]any{"type": "refresh", "id": 5, "token": accessToken(t, other)})
	m, _ := fr.next(5 * time.Second)
	if e, _ := m["error"].(map[string]any); m["type"] != "res" || e["code"] != "forbidden" {
		t.Fatalf("refresh with another user's token: %v", m)
	}
}

// TestRefreshReuseRevokesFamily: presenting a spent refresh token revokes
// the whole sign-in session, its refresh tokens and its live connections.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	n := apptest.Start(t)
	u := n.SignUp(t, "Rex")
	t0 := u.Session.Tokens()
	c, err := client.Dial(ctx(t), client.Options{URL: n.URL(), Token: client.StaticToken(t0.AccessToken), Reconnect: new(bool)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t1, err := n.API.Refresh(ctx(t), t0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if t1.RefreshToken == t0.RefreshToken {
		t.Fatal("refresh token did not rotate")
	}
	_, err = n.API.Refresh(ctx(t), t0.RefreshToken)
	var ce *client.Error
	if !asErr(err, &ce) || ce.Code != "token_reused" {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := n.API.Refresh(ctx(t), t1.RefreshToken); !asErr(err, &ce) {
		t.Fatalf("the family's newest token still works after reuse: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("live connection of the revoked family stayed open")
	}
	if !asErr(c.Err(), &ce) || ce.Code != "revoked" || ce.CloseCode != 4433 {
		t.Fatalf("connection ended with %v", c.Err())
	}
	// A new connection with the family's access token is refused too.
	_, err = client.Dial(ctx(t), client.Options{URL: n.URL(), Token: client.StaticToken(t1.AccessToken)})
	if !asErr(err, &ce) || ce.Code != "revoked" {
		t.Fatalf("dial with a revoked token: %v", err)
	}
}

// TestLogoutClosesConnections: logout revokes the session everywhere, but
// not the user's other sessions.
func TestLogoutClosesConnections(t *testing.T) {
	n := apptest.Start(t)
	u := n.SignUp(t, "Lou")
	other, err := n.API.SignIn(ctx(t), u.Email, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	c := n.Dial(t, u, &client.Options{Reconnect: &off})
	keep := n.Dial(t, &apptest.User{Session: client.NewSession(n.API, other)}, nil)
	if err := n.API.Logout(ctx(t), u.Session.Tokens().RefreshToken); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection stayed open after logout")
	}
	if _, err := n.API.Refresh(ctx(t), u.Session.Tokens().RefreshToken); err == nil {
		t.Fatal("refresh after logout worked")
	}
	time.Sleep(200 * time.Millisecond)
	if !keep.Connected() {
		t.Fatal("logout closed another session's connection")
	}
}
