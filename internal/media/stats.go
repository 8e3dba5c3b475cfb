package media

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// ParticipantStats describes one participant's media.
type ParticipantStats struct {
	Participant ParticipantID `json:"participant"`
	Policy      Policy        `json:"policy"`
	Connected   bool          `json:"connected"`
	JoinedAt    time.Time     `json:"joined_at"`
	// Up is what the participant sent to the server.
	Up UpStats `json:"up"`
	// Down is what the server sent to the participant, with the loss and
	// jitter the participant reported in its RTCP receiver reports.
	Down DownStats `json:"down"`
}

// UpStats describes a participant's own audio as the server received it.
type UpStats struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Lost is the number of packets expected from the sequence numbers but
	// not received.
	Lost int64 `json:"lost"`
	// Dropped counts packets received but not forwarded (muted or off
	// stage).
	Dropped uint64 `json:"dropped"`
	// JitterMS is the interarrival jitter (RFC 3550).
	JitterMS float64 `json:"jitter_ms"`
	// BitrateBPS is the receive rate over the last interval, in bits/s.
	BitrateBPS uint64 `json:"bitrate_bps"`
}

// DownStats describes the audio the server forwarded to a participant.
type DownStats struct {
	Tracks       int     `json:"tracks"`
	Packets      uint64  `json:"packets"`
	Bytes        uint64  `json:"bytes"`
	BitrateBPS   uint64  `json:"bitrate_bps"`
	Lost         int64   `json:"lost"`          // reported lost, summed over tracks
	JitterMS     float64 `json:"jitter_ms"`     // reported jitter, worst track
	FractionLost float64 `json:"fraction_lost"` // reported over the last report interval, worst track
}

// Totals are the node's media counters since start.
type Totals struct {
	Sessions       int
	Participants   int
	Joins          uint64
	PacketsIn      uint64
	BytesIn        uint64
	PacketsDropped uint64
	PacketsOut     uint64
	BytesOut       uint64
	// Removals counts participants removed, by reason ("left" for Leave).
	Removals map[string]uint64
}

// Totals returns the node's counters.
func (s *Server) Totals() Totals {
	t := Totals{
		Joins:          s.joins.Load(),
		PacketsIn:      s.packetsIn.Load(),
		BytesIn:        s.bytesIn.Load(),
		PacketsDropped: s.packetsDropped.Load(),
		PacketsOut:     s.packetsOut.Load(),
		BytesOut:       s.bytesOut.Load(),
		Removals:       map[string]uint64{},
	}
	t.Sessions, t.Participants = s.Sessions()
	s.removals.Range(func(k, v any) bool {
		t.Removals[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return t
}

// Stats returns the stats of every participant of session sid, sorted by
// participant; ok is false if there is no such session.
func (s *Server) Stats(sid SessionID) (out []ParticipantStats, ok bool) {
	ss, _ := s.session(sid, false)
	if ss == nil {
		return nil, false
	}
	ss.mu.Lock()
	list := make([]*participant, 0, len(ss.parts))
	pols := make([]Policy, 0, len(ss.parts))
	for _, p := range ss.parts {
		list = append(list, p)
		pols = append(pols, p.policy)
	}
	ss.mu.Unlock()
	for i, p := range list {
		out = append(out, p.stats(pols[i]))
	}
	slices.SortFunc(out, func(a, b ParticipantStats) int {
		switch {
		case a.Participant < b.Participant:
			return -1
		case a.Participant > b.Participant:
			return 1
		}
		return 0
	})
	return out, true
}

func (p *participant) stats(pol Policy) ParticipantStats {
	p.mu.Lock()
	tracks := len(p.downtracks)
	p.mu.Unlock()
	st := ParticipantStats{
		Participant: p.id,
		Policy:      pol,
		Connected:   p.connected.Load(),
		JoinedAt:    p.joinedAt.UTC(),
		Up: UpStats{
			Packets:    p.in.packets.Load(),
			Bytes:      p.in.bytes.Load(),
			Lost:       p.in.lost.Load(),
			Dropped:    p.in.dropped.Load(),
			JitterMS:   float64(p.in.jitter.Load()) / 16 / 48,
			BitrateBPS: p.in.rate.Load(),
		},
		Down: DownStats{
			Tracks:     tracks,
			Packets:    p.link.packets.Load(),
			Bytes:      p.link.bytes.Load(),
			BitrateBPS: p.link.rate.Load(),
		},
	}
	st.Down.Lost, st.Down.JitterMS, st.Down.FractionLost = p.down.summary()
	return st
}

// updateRates computes the bitrates over the last interval.
func (p *participant) updateRates(now time.Time) {
	p.in.rate.Store(p.in.meter.update(p.in.bytes.Load(), now))
	p.link.rate.Store(p.link.meter.update(p.link.bytes.Load(), now))
}

// meter turns a byte counter into a bit rate; used by the timer loop only.
type meter struct {
	last uint64
	at   time.Time
}

func (m *meter) update(total uint64, now time.Time) uint64 {
	var rate uint64
	if !m.at.IsZero() {
		if d := now.Sub(m.at); d > 0 {
			rate = uint64(float64(total-m.last) * 8 / d.Seconds())
		}
	}
	m.last, m.at = total, now
	return rate
}

// inbound counts a participant's own audio. record runs on the forwarding
// goroutine only; the atomics are read by Stats.
type inbound struct {
	packets, bytes, dropped atomic.Uint64
	lost                    atomic.Int64
	jitter                  atomic.Uint32 // RFC 3550 jitter in 1/48000 s, times 16
	rate                    atomic.Uint64
	meter                   meter // timer loop only

	started  bool
	ssrc     uint32
	base     uint32 // first extended sequence number
	maxSeq   uint32 // highest extended sequence number
	received uint64
	transit  int64
	jit      uint32
	start    time.Time
}

func (in *inbound) record(pkt *rtp.Packet, n int, now time.Time) {
	in.packets.Add(1)
	in.bytes.Add(uint64(n))
	seq := uint32(pkt.SequenceNumber)
	if !in.started || pkt.SSRC != in.ssrc {
		in.started = true
		in.ssrc = pkt.SSRC
		in.base, in.maxSeq = seq, seq
		in.received = 0
		in.transit = 0
		in.start = now
	} else {
		// Extend the 16-bit sequence number around the highest one seen.
		ext := in.maxSeq&^0xffff | seq
		if d := int32(ext - in.maxSeq); d < -0x8000 {
			ext += 0x10000
		} else if d > 0x8000 {
			ext -= 0x10000
		}
		if int32(ext-in.maxSeq) > 0 {
			in.maxSeq = ext
		}
	}
	in.received++
	expected := int64(in.maxSeq-in.base) + 1
	in.lost.Store(max(0, expected-int64(in.received)))
	// Interarrival jitter, in RTP timestamp units (48 kHz for Opus).
	arrival := int64(now.Sub(in.start) * 48000 / time.Second)
	transit := arrival - int64(pkt.Timestamp)
	if in.transit != 0 {
		d := transit - in.transit
		if d < 0 {
			d = -d
		}
		// J += (|D| - J) / 16, kept times 16.
		in.jit += uint32(d) - (in.jit+8)>>4
		in.jitter.Store(in.jit)
	}
	in.transit = transit
}

// downstream keeps the last receiver report block per track.
type downstream struct {
	mu      sync.Mutex
	reports map[uint32]rrState
}

type rrState struct {
	lost     int32
	fraction uint8
	jitter   uint32
}

func (d *downstream) onReports(blocks []rtcp.ReceptionReport) {
	d.mu.Lock()
	for _, b := range blocks {
		if len(d.reports) >= 1024 {
			break
		}
		d.reports[b.SSRC] = rrState{lost: int32(b.TotalLost<<8) >> 8, fraction: b.FractionLost, jitter: b.Jitter}
	}
	d.mu.Unlock()
}

func (d *downstream) summary() (lost int64, jitterMS, fraction float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.reports {
		lost += int64(r.lost)
		jitterMS = max(jitterMS, float64(r.jitter)/48)
		fraction = max(fraction, float64(r.fraction)/256)
	}
	return
}

// linkCounters counts the packets the server wrote to one participant.
type linkCounters struct {
	srv            *Server
	packets, bytes atomic.Uint64
	rate           atomic.Uint64
	meter          meter // timer loop only
}

// countingFactory makes the interceptor that counts a connection's outgoing
// packets.
type countingFactory struct{ c *linkCounters }

func (f *countingFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &countingInterceptor{c: f.c}, nil
}

type countingInterceptor struct {
	interceptor.NoOp
	c *linkCounters
}

func (i *countingInterceptor) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	c := i.c
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		n := uint64(h.MarshalSize() + len(payload))
		c.packets.Add(1)
		c.bytes.Add(n)
		c.srv.packetsOut.Add(1)
		c.srv.bytesOut.Add(n)
		return w.Write(h, payload, a)
	})
}

// SenderStats is one sender's stats with its session.
type SenderStats struct {
	Session SessionID
	ParticipantStats
}

// SenderStats returns the stats of every participant allowed to send, in
// every session.
func (s *Server) SenderStats() []SenderStats {
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	var out []SenderStats
	for _, ss := range list {
		ss.mu.Lock()
		var ps []*participant
		var pols []Policy
		for _, p := range ss.parts {
			if p.policy.CanSend {
				ps = append(ps, p)
				pols = append(pols, p.policy)
			}
		}
		ss.mu.Unlock()
		for i, p := range ps {
			out = append(out, SenderStats{Session: ss.id, ParticipantStats: p.stats(pols[i])})
		}
	}
	return out
}
