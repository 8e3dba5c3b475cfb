package browser

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/app/apptest"
)

// TestAppShell signs up in the real app in Chromium, sees the shell,
// reloads (still signed in), signs out and in again, opens the drawer at
// phone width, sees "Reconnecting…" while the network between the browser
// and the node is cut and "Connected" after, and goes "away" for another
// user after the (shortened) idle timeout.
func TestAppShell(t *testing.T) {
	n := apptest.Start(t)
	p := startCutProxy(t, n.URL())
	runApp(t, n, "app_shell.mjs", map[string]any{"url": p.url, "control": p.control}, 3*time.Minute)
}

// TestAppShellHome checks the home screen: the first-run guide of a new
// account, then live and upcoming rooms with Join links, channels with
// unread messages and mentions, and the unread count in the title.
func TestAppShellHome(t *testing.T) {
	n := apptest.Start(t)
	runApp(t, n, "app_shell_home.mjs", nil, 3*time.Minute)
}

// cutProxy is a TCP proxy in front of a node that the browser test can cut:
// POST {control}/down closes every proxied connection and refuses new ones
// (the browser sees its WebSocket drop, as when a network goes away);
// POST {control}/up accepts connections again.
type cutProxy struct {
	url     string
	control string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{url: "http://" + ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, u.Host)
		}
	}()
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		switch r.URL.Path {
		case "/down":
			p.setDown(true)
		case "/up":
			p.setDown(false)
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	p.control = ctl.URL
	t.Cleanup(func() {
		ctl.Close()
		ln.Close()
		p.setDown(true)
	})
	return p
}

func (p *cutProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// track adds c to the open connections, or answers false while down.
func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *cutProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *cutProxy) serve(c net.Conn, target string) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	s, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(s) {
		s.Close()
		return
	}
	defer p.untrack(s)
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
}
