package loadgen

import (
	"strings"
	"testing"
)

// TestRoomScenario runs a small room: 100 listeners, 3 speakers, 10
// comments/s and 100 reactions/s for 3 s. Every listener must get every
// event of the room once and in order, with the comments' latencies, and
// the room's reaction totals must equal the reactions sent.
func TestRoomScenario(t *testing.T) {
	m := startServer(t, nil)
	s, code, stderr := runMain(t,
		"--url", m.URL(), "--scenario", "room",
		"--conns", "100", "--rate", "500", "--sources", "127.0.0.2-127.0.0.3",
		"--room-speakers", "3", "--room-commenters", "15", "--room-comment-rate", "10",
		"--room-reactors", "10", "--room-reaction-rate", "100", "--duration", "3s",
		"--settle", "200ms", "--drain-timeout", "10s")
	checkClean(t, s, code, stderr, 100)
	d := s.Delivery
	if d == nil || d.Published < 25 || d.Published > 30 {
		t.Fatalf("delivery %+v: want about 30 comments", d)
	}
	if d.LatencyCount != uint64(100*d.Published) {
		t.Fatalf("%d comment deliveries measured, want %d", d.LatencyCount, 100*d.Published)
	}
	if uint64(d.Total) < d.LatencyCount || d.Total < d.Expected {
		t.Fatalf("deliveries %d of %d expected", d.Total, d.Expected)
	}
	if !strings.Contains(stderr, "room totals") || !strings.Contains(stderr, "exact") {
		t.Fatalf("no reaction check in stderr:\n%s", stderr)
	}
	if !strings.HasPrefix(s.Stream, "room:r_") {
		t.Fatalf("stream %q", s.Stream)
	}
}
