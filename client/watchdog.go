package client

import (
	"net"
	"sync"
	"time"
)

// watchdogs is the one goroutine that watches every connected Client of the
// process: it closes a connection whose server has been silent for two
// heartbeat intervals (the client then reconnects) and refreshes access
// tokens before they expire. It runs only while some client is connected,
// so a program with thousands of clients pays one goroutine, not thousands.
var watchdogs = &watchdog{clients: map[*Client]*watched{}}

type watched struct {
	nc        net.Conn
	hb        time.Duration
	expires   time.Time
	refreshAt time.Time
	busy      bool // a refresh is running
}

type watchdog struct {
	mu      sync.Mutex
	clients map[*Client]*watched
	running bool
}

const watchTick = 100 * time.Millisecond

func (w *watchdog) add(c *Client, nc net.Conn) {
	c.mu.Lock()
	hb := time.Duration(c.hello.HeartbeatMS) * time.Millisecond
	expires := c.hello.ExpiresAt
	c.mu.Unlock()
	if hb <= 0 {
		hb = 25 * time.Second
	}
	w.mu.Lock()
	w.clients[c] = &watched{nc: nc, hb: hb, expires: expires, refreshAt: refreshTime(expires)}
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
}

func (w *watchdog) remove(c *Client) {
	w.mu.Lock()
	delete(w.clients, c)
	w.mu.Unlock()
}

func (w *watchdog) loop() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for now := range t.C {
		w.mu.Lock()
		if len(w.clients) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		for c, s := range w.clients {
			if now.UnixNano()-c.lastRecv.Load() > int64(2*s.hb) {
				c.log.Debug("server silent for two heartbeats; reconnecting")
				s.nc.Close()
				delete(w.clients, c)
				continue
			}
			if !s.expires.IsZero() && !s.busy && now.After(s.refreshAt) {
				s.busy = true
				go w.refresh(c, s)
			}
		}
		w.mu.Unlock()
	}
}

// refresh sends a fresh token on c's live connection and schedules the next
// refresh.
func (w *watchdog) refresh(c *Client, s *watched) {
	exp, err := c.refresh()
	w.mu.Lock()
	defer w.mu.Unlock()
	s.busy = false
	if err != nil {
		s.refreshAt = time.Now().Add(time.Second)
		return
	}
	s.expires = exp
	s.refreshAt = refreshTime(exp)
}
