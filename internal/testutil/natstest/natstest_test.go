package natstest

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// info dials the server's client port and returns its INFO line.
func info(t *testing.T, url string) string {
	t.Helper()
	addr := strings.TrimPrefix(url, "nats://")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read INFO from %s: %v", addr, err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first line from %s is not INFO: %q", addr, line)
	}
	return line
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

// eventually polls cond every 20 ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerStartStopRestart(t *testing.T) {
	s := Start(t)
	url := s.URL()
	if strings.HasSuffix(url, ":4222") || strings.HasSuffix(url, ":-1") {
		t.Fatalf("unexpected URL %s", url)
	}
	line := info(t, url)
	if !strings.Contains(line, `"jetstream":true`) {
		t.Fatalf("JetStream is off: %s", line)
	}
	var varz struct {
		Version string `json:"version"`
	}
	getJSON(t, s.MonitorURL()+"/varz", &varz)
	if varz.Version < "2.11" {
		t.Fatalf("nats-server %s is too old for per-message TTL", varz.Version)
	}

	s.Stop()
	if s.Running() {
		t.Fatal("still running after Stop")
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err == nil {
		c.Close()
		t.Fatal("port still accepts connections after Stop")
	}
	s.Restart(t)
	if s.URL() != url {
		t.Fatalf("restart moved the server from %s to %s", url, s.URL())
	}
	info(t, url)

	s.Kill()
	if s.Running() {
		t.Fatal("still running after Kill")
	}
	s.Restart(t)
	info(t, url)
}

func TestCluster(t *testing.T) {
	c := StartCluster(t)
	if len(c.Servers) != ClusterSize {
		t.Fatalf("got %d servers", len(c.Servers))
	}
	if n := strings.Count(c.URL(), ","); n != ClusterSize-1 {
		t.Fatalf("URL %q lists %d servers", c.URL(), n+1)
	}
	for _, s := range c.Servers {
		info(t, s.URL())
		eventually(t, 15*time.Second, s.Name+" routed to every peer", func() bool {
			var r struct {
				NumRoutes int `json:"num_routes"`
				Routes    []struct {
					RemoteName string `json:"remote_name"`
				} `json:"routes"`
			}
			getJSON(t, s.MonitorURL()+"/routez", &r)
			peers := map[string]bool{}
			for _, rt := range r.Routes {
				peers[rt.RemoteName] = true
			}
			return len(peers) == ClusterSize-1
		})
		var jsz struct {
			Meta struct {
				Leader string `json:"leader"`
				Size   int    `json:"cluster_size"`
			} `json:"meta_cluster"`
		}
		getJSON(t, s.MonitorURL()+"/jsz", &jsz)
		if jsz.Meta.Leader == "" || jsz.Meta.Size != ClusterSize {
			t.Fatalf("%s: meta cluster %+v, want a leader and size %d", s.Name, jsz.Meta, ClusterSize)
		}
	}

	// A node that crashes comes back with its identity and rejoins.
	victim := c.Servers[1]
	victim.Kill()
	victim.Restart(t)
	info(t, victim.URL())
}
