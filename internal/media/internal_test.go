package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestReflexiveTwin(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host generation 0 ufrag x", "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ prflx"},
		{"candidate:1 1 UDP 2130706431 10.0.0.2 5000 typ host", "candidate:1 1 UDP 2130706431 10.0.0.2 5000 typ prflx"},
		{"candidate:1 1 tcp 2130706431 10.0.0.2 9 typ host tcptype active", ""},
		{"candidate:1 1 udp 1 203.0.113.1 5000 typ srflx raddr 10.0.0.2 rport 5000", ""},
		{"candidate:garbage", ""},
		{"", ""},
	} {
		got, ok := reflexiveTwin(tc.in)
		if got != tc.out || ok != (tc.out != "") {
			t.Errorf("%q: %q %v, want %q", tc.in, got, ok, tc.out)
		}
	}
}

// TestMungerContinuity: receivers see one gapless stream per sender across
// mutes (dropped packets) and a new SSRC.
func TestMungerContinuity(t *testing.T) {
	var m munger
	now := time.Unix(0, 0)
	out := func(seq uint16, ts uint32, ssrc uint32) (uint16, uint32) {
		h := rtp.Header{SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
		m.apply(&h, now)
		now = now.Add(20 * time.Millisecond)
		return h.SequenceNumber, h.Timestamp
	}
	s0, t0 := out(100, 1000, 1)
	if s0 != 100 || t0 != 1000 {
		t.Fatalf("first packet rewritten: %d %d", s0, t0)
	}
	out(101, 1960, 1)
	// Packets 102-110 were dropped while muted.
	m.gap = true
	if s, ts := out(111, 1960+960*10, 1); s != 102 || ts != 1960+960*10 {
		t.Fatalf("after a mute: seq %d ts %d, want 102 and the sender's timestamp", s, ts)
	}
	// The sender restarts with a new SSRC and random numbering.
	if s, ts := out(40000, 7, 2); s != 103 || ts != 1960+960*10+960 {
		t.Fatalf("new SSRC: seq %d ts %d", s, ts)
	}
	if s, _ := out(40001, 967, 2); s != 104 {
		t.Fatalf("then seq %d", s)
	}
	// Reordered packets keep their places.
	if s, _ := out(40003, 2887, 2); s != 106 {
		t.Fatalf("seq %d, want 106", s)
	}
	if s, _ := out(40002, 1927, 2); s != 105 {
		t.Fatalf("reordered packet: seq %d, want 105", s)
	}
}
