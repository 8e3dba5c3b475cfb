package media

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/errs"
)

// MaxIDLen bounds session and participant ids.
const MaxIDLen = 128

// Server is the SFU of one node. It is safe for concurrent use.
type Server struct {
	cfg Config
	eng *engine

	mu       sync.Mutex
	sessions map[SessionID]*session
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup // the timer loop and the removal goroutines

	// Node-wide counters for /metrics.
	packetsIn      atomic.Uint64
	bytesIn        atomic.Uint64
	packetsDropped atomic.Uint64 // not forwarded: the sender was muted or off stage
	packetsOut     atomic.Uint64 // forwarded packets, counted once per receiver
	bytesOut       atomic.Uint64
	joins          atomic.Uint64
	removals       sync.Map // reason -> *atomic.Uint64
}

// New starts a Server: it opens the UDP port (with Config.UDPAddr) and the
// timer loop. Close it when done.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	eng, err := newEngine(&cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, eng: eng, sessions: map[SessionID]*session{}, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.loop()
	return s, nil
}

// UDPAddr returns the address of the UDP mux, or nil with a port range.
func (s *Server) UDPAddr() net.Addr { return s.eng.addr }

// ICEServers returns the STUN and TURN servers clients should use.
func (s *Server) ICEServers() []ICEServer { return slices.Clone(s.cfg.ICEServers) }

// Close removes every participant (their Signalers are told
// ReasonServerClosed), stops the timer loop and closes the UDP port.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	for _, ss := range list {
		ss.end(ReasonServerClosed)
	}
	close(s.stop)
	s.wg.Wait()
	s.eng.close()
}

func validID(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

// Join adds participant pid to session sid (creating the session) with
// policy pol, and returns the server's offer, which already carries a track
// for every current sender and a receive-only audio section (mid "0") for
// the participant's own audio. The client answers with Answer. If pid is
// already in the session, the earlier connection is removed (its Signaler
// is told ReasonReplaced).
func (s *Server) Join(ctx context.Context, sid SessionID, pid ParticipantID, pol Policy, sig Signaler) (Offer, error) {
	if !validID(string(sid)) || !validID(string(pid)) {
		return Offer{}, errs.E(errs.InvalidArgument, "session and participant ids are 1-%d characters of [A-Za-z0-9_.:-]", MaxIDLen)
	}
	if sig == nil {
		return Offer{}, errs.E(errs.InvalidArgument, "a signaler is required")
	}
	p, err := s.newParticipant(pid, sig)
	if err != nil {
		return Offer{}, err
	}
	var (
		ss     *session
		old    *participant
		reneg  []*participant
		joined bool
	)
	for !joined {
		ss, err = s.session(sid, true)
		if err != nil {
			p.close()
			return Offer{}, err
		}
		joined, old, reneg, err = ss.add(p, pol)
		if err != nil {
			p.close()
			return Offer{}, err
		}
	}
	if old != nil {
		ss.drop(old, ReasonReplaced, true)
	}
	for _, q := range reneg {
		q.negotiate()
	}
	offer, err := p.firstOffer(ctx)
	if err != nil {
		ss.drop(p, "", false)
		return Offer{}, err
	}
	s.joins.Add(1)
	return offer, nil
}

// session returns the session sid, creating it if asked.
func (s *Server) session(sid SessionID, create bool) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errs.E(errs.Unavailable, "media server closed")
	}
	ss := s.sessions[sid]
	if ss == nil && create {
		ss = &session{id: sid, srv: s, parts: map[ParticipantID]*participant{}}
		s.sessions[sid] = ss
	}
	return ss, nil
}

func (s *Server) participant(sid SessionID, pid ParticipantID) (*session, *participant, error) {
	ss, err := s.session(sid, false)
	if err != nil {
		return nil, nil, err
	}
	if ss != nil {
		ss.mu.Lock()
		p := ss.parts[pid]
		ss.mu.Unlock()
		if p != nil {
			return ss, p, nil
		}
	}
	return nil, nil, errs.E(errs.NotFound, "%s is not in media session %s", pid, sid)
}

// Answer applies the client's answer to offer rev.
func (s *Server) Answer(sid SessionID, pid ParticipantID, rev uint64, sdp string) error {
	_, p, err := s.participant(sid, pid)
	if err != nil {
		return err
	}
	return p.answer(rev, sdp)
}

// AddCandidate adds one of the client's ICE candidates. An empty candidate
// string marks the end of the client's candidates.
func (s *Server) AddCandidate(sid SessionID, pid ParticipantID, c Candidate) error {
	_, p, err := s.participant(sid, pid)
	if err != nil {
		return err
	}
	return p.addCandidate(c)
}

// Leave removes participant pid from session sid. Its Signaler is not
// called. Leaving a session one is not in is not an error.
func (s *Server) Leave(sid SessionID, pid ParticipantID) {
	ss, p, err := s.participant(sid, pid)
	if err != nil {
		return
	}
	ss.drop(p, "", false)
}

// SetPolicy changes what participant pid may do in session sid. Taking the
// right to send or muting stops the forwarding of its packets before
// SetPolicy returns; giving or taking the right to send renegotiates with
// every other participant. A policy with a Version lower than the one in
// force is ignored. It reports whether the participant is in the session.
func (s *Server) SetPolicy(sid SessionID, pid ParticipantID, pol Policy) (bool, error) {
	ss, p, err := s.participant(sid, pid)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return false, nil
		}
		return false, err
	}
	return true, ss.setPolicy(p, pol)
}

// EndSession removes every participant of sid, telling each
// ReasonSessionEnded.
func (s *Server) EndSession(sid SessionID) {
	ss, err := s.session(sid, false)
	if err != nil || ss == nil {
		return
	}
	ss.end(ReasonSessionEnded)
}

// Participants returns the participants of session sid.
func (s *Server) Participants(sid SessionID) []ParticipantID {
	ss, _ := s.session(sid, false)
	if ss == nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]ParticipantID, 0, len(ss.parts))
	for id := range ss.parts {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Sessions returns the number of sessions and of participants.
func (s *Server) Sessions() (sessions, participants int) {
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	for _, ss := range list {
		ss.mu.Lock()
		participants += len(ss.parts)
		ss.mu.Unlock()
	}
	return len(list), participants
}

func (s *Server) countRemoval(reason string) {
	if reason == "" {
		reason = "left"
	}
	v, _ := s.removals.LoadOrStore(reason, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// loop computes active speakers and bitrates and enforces the negotiation
// and connection timeouts, every SpeakerInterval.
func (s *Server) loop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.SpeakerInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.mu.Lock()
			list := make([]*session, 0, len(s.sessions))
			for _, ss := range s.sessions {
				list = append(list, ss)
			}
			s.mu.Unlock()
			for _, ss := range list {
				ss.tick(now)
			}
		}
	}
}

// goRemove removes p on a new goroutine (pion's callbacks must not close
// their own PeerConnection).
func (s *Server) goRemove(ss *session, p *participant, reason string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ss.drop(p, reason, true)
	}()
}

// goPublish runs session.publish for p off the forwarding path.
func (s *Server) goPublish(p *participant) {
	s.mu.Lock()
	if s.closed || p.sess == nil {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		p.sess.publish(p)
	}()
}

// newTrack makes the track that carries participant pid's audio to the
// others.
func newTrack(pid ParticipantID) (*webrtc.TrackLocalStaticRTP, error) {
	return webrtc.NewTrackLocalStaticRTP(opusCodec, string(pid), string(pid))
}
