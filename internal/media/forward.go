package media

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// onTrack starts forwarding the participant's own audio.
func (p *participant) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	if t.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	var levelID uint8
	for _, ext := range r.GetParameters().HeaderExtensions {
		if ext.URI == sdp.AudioLevelURI {
			levelID = uint8(ext.ID)
		}
	}
	p.srv.wg.Add(1)
	go p.forwardLoop(t, levelID)
}

// forwardLoop is the forwarding path: it reads each packet of the
// participant's audio, counts it, and writes it to every other participant
// if, at that packet, the participant's policy allows it. Muted and
// off-stage packets are dropped here, whatever the client does.
func (p *participant) forwardLoop(t *webrtc.TrackRemote, levelID uint8) {
	defer p.srv.wg.Done()
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		now := time.Now()
		p.in.record(&pkt, n, now)
		p.srv.packetsIn.Add(1)
		p.srv.bytesIn.Add(uint64(n))
		out := p.out.Load()
		if out == nil && p.canSend.Load() && p.pubReq.CompareAndSwap(false, true) {
			p.srv.goPublish(p)
		}
		if !p.forward.Load() || out == nil {
			p.in.dropped.Add(1)
			p.srv.packetsDropped.Add(1)
			p.fwdMu.Lock()
			p.mung.gap = true
			p.fwdMu.Unlock()
			continue
		}
		level := 127
		if levelID != 0 {
			if ext := pkt.GetExtension(levelID); len(ext) > 0 {
				level = int(ext[0] & 0x7f)
			}
		}
		p.levels.note(level, p.srv.cfg.SpeakerThreshold)
		keepOnly(&pkt.Header, levelID)
		p.fwdMu.Lock()
		p.mung.apply(&pkt.Header, now)
		p.fwdMu.Unlock()
		out.write(&pkt)
	}
}

// keepOnly strips every header extension but the audio level: the others
// (mid, for one) describe the sender's connection, not the receivers'.
func keepOnly(h *rtp.Header, id uint8) {
	if !h.Extension {
		return
	}
	var payload []byte
	if id != 0 {
		payload = h.GetExtension(id)
		if payload != nil && len(h.Extensions) == 1 {
			return
		}
	}
	h.Extensions = h.Extensions[:0]
	h.Extension = false
	h.ExtensionProfile = 0
	if payload != nil {
		_ = h.SetExtension(id, payload)
	}
}

// munger rewrites sequence numbers and timestamps so that each receiver sees
// one continuous stream per sender: no sequence gap for the packets dropped
// while muted (which receivers would count as lost), and continuity when the
// sender's stream restarts with a new SSRC.
type munger struct {
	started bool
	ssrc    uint32
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  time.Time
	gap     bool // packets were dropped since the last forwarded one
}

func (m *munger) apply(h *rtp.Header, now time.Time) {
	switch {
	case !m.started:
		m.started = true
		m.ssrc = h.SSRC
		m.lastSeq = h.SequenceNumber - 1
		m.lastTS = h.Timestamp
		m.lastAt = now
	case h.SSRC != m.ssrc:
		m.ssrc = h.SSRC
		m.seqOff = h.SequenceNumber - (m.lastSeq + 1)
		elapsed := uint32(now.Sub(m.lastAt) * 48000 / time.Second)
		if elapsed == 0 {
			elapsed = 960
		}
		m.tsOff = h.Timestamp - (m.lastTS + elapsed)
	case m.gap:
		m.seqOff = h.SequenceNumber - (m.lastSeq + 1)
	}
	m.gap = false
	seq := h.SequenceNumber - m.seqOff
	ts := h.Timestamp - m.tsOff
	if int16(seq-m.lastSeq) > 0 {
		m.lastSeq, m.lastTS, m.lastAt = seq, ts, now
	}
	h.SequenceNumber, h.Timestamp = seq, ts
}

// levels accumulates audio levels for speaker detection over one interval.
type levels struct {
	total, speech, loud atomic.Uint32
}

func (l *levels) note(level, threshold int) {
	l.total.Add(1)
	if level <= threshold {
		l.speech.Add(1)
		l.loud.Add(uint32(127 - level))
	}
}

// takeLevels resets the interval's levels and reports p as an active
// speaker if enough of its packets were speech.
func (p *participant) takeLevels(cfg *Config) (Speaker, bool) {
	total := p.levels.total.Swap(0)
	speech := p.levels.speech.Swap(0)
	loud := p.levels.loud.Swap(0)
	if total == 0 || speech == 0 || float64(speech) < cfg.SpeakerMinShare*float64(total) {
		return Speaker{}, false
	}
	return Speaker{Participant: p.id, Level: int(loud / speech)}, true
}
