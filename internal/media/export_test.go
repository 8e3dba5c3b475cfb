package media

import "github.com/pion/rtp"

// Forward runs the forwarding path of sender pid for one packet, as its
// forwarding goroutine does after reading it: policy check, extension
// filter, sequence rewrite, fan-out. It reports whether the packet went out.
func (s *Server) Forward(sid SessionID, pid ParticipantID, pkt *rtp.Packet) bool {
	_, p, err := s.participant(sid, pid)
	if err != nil {
		return false
	}
	out := p.out.Load()
	if !p.forward.Load() || out == nil {
		return false
	}
	keepOnly(&pkt.Header, 1)
	p.fwdMu.Lock()
	p.mung.apply(&pkt.Header, p.joinedAt)
	p.fwdMu.Unlock()
	out.write(pkt)
	return true
}
