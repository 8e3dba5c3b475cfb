package media

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/parleyhq/parley/internal/errs"
)

// participant is one PeerConnection: the participant's own audio coming in
// (when it sends) and a track per other sender going out.
type participant struct {
	id       ParticipantID
	srv      *Server
	sess     *session // set by session.add
	sig      Signaler
	api      *webrtc.API
	pc       *webrtc.PeerConnection
	joinedAt time.Time

	policy  Policy                 // guarded by sess.mu
	forward atomic.Bool            // policy.Forwards(), read per packet
	canSend atomic.Bool            // policy.CanSend, read per packet
	pubReq  atomic.Bool            // a track was asked for (publish), not yet made or refused
	out     atomic.Pointer[fanout] // the track to the others, while a sender with one

	connected atomic.Bool
	link      linkCounters // what the server sent to this participant
	in        inbound      // what it sent to the server
	down      downstream   // what it reports receiving (RTCP receiver reports)
	levels    levels       // speech detection, reset every interval

	fwdMu sync.Mutex // serialises forwarding state if the client ever sends two streams
	mung  munger

	mu         sync.Mutex // guards the fields below and negotiation
	downtracks map[ParticipantID]*downtrack
	free       []*webrtc.RTPTransceiver // transceivers of removed tracks, reused
	rev        uint64
	awaiting   bool // an offer is out; further changes wait for its answer
	since      time.Time
	dirty      bool // changes happened while awaiting
	candidates int
	closed     bool
}

// downtrack is another sender's track in this participant's PeerConnection.
type downtrack struct {
	from   ParticipantID
	sender *webrtc.RTPSender
	tr     *webrtc.RTPTransceiver
	shard  *shard
}

func (s *Server) newParticipant(pid ParticipantID, sig Signaler) (*participant, error) {
	p := &participant{
		id:         pid,
		srv:        s,
		sig:        sig,
		joinedAt:   time.Now(),
		downtracks: map[ParticipantID]*downtrack{},
		awaiting:   true, // the first offer is being made
	}
	p.since = p.joinedAt
	p.link.srv = s
	p.down.reports = map[uint32]rrState{}
	api, pc, err := s.eng.newPeerConnection(&p.link)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "media: new peer connection")
	}
	p.api, p.pc = api, pc
	// The participant's own audio: receive-only from the server's side, so
	// the first m-line (mid 0) is always the one the client publishes on.
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		_ = pc.Close()
		return nil, errs.Wrap(errs.Internal, err, "media: add transceiver")
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			p.connected.Store(true)
		case webrtc.PeerConnectionStateFailed:
			if p.sess != nil {
				s.goRemove(p.sess, p, ReasonConnectFailed)
			}
		}
	})
	return p, nil
}

// firstOffer makes the join offer, waiting until the server's candidates
// are gathered so that the offer carries them.
func (p *participant) firstOffer(ctx context.Context) (Offer, error) {
	gathered := webrtc.GatheringCompletePromise(p.pc)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return Offer{}, errs.E(errs.Closed, "participant removed while joining")
	}
	o, err := p.offerLocked()
	p.mu.Unlock()
	if err != nil {
		return Offer{}, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return Offer{}, errs.Wrap(errs.Unavailable, ctx.Err(), "media: gathering ICE candidates")
	}
	if ld := p.pc.LocalDescription(); ld != nil {
		o.SDP = ld.SDP
	}
	return o, nil
}

// offerLocked creates and applies a new offer. p.mu is held.
func (p *participant) offerLocked() (Offer, error) {
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return Offer{}, errs.Wrap(errs.Internal, err, "media: create offer")
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return Offer{}, errs.Wrap(errs.Internal, err, "media: set local description")
	}
	p.rev++
	p.awaiting = true
	p.dirty = false
	p.since = time.Now()
	p.candidates = 0
	sdpText := offer.SDP
	if ld := p.pc.LocalDescription(); ld != nil {
		sdpText = ld.SDP
	}
	return Offer{Rev: p.rev, SDP: sdpText}, nil
}

// negotiate sends a new offer now, or after the outstanding one is
// answered.
func (p *participant) negotiate() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.awaiting {
		p.dirty = true
		p.mu.Unlock()
		return
	}
	o, err := p.offerLocked()
	p.mu.Unlock()
	if err != nil {
		p.srv.cfg.Logger.Warn("media: renegotiation failed", "session", p.sess.id, "participant", p.id, "err", err)
		p.srv.goRemove(p.sess, p, ReasonConnectFailed)
		return
	}
	p.sig.Offer(o)
}

func (p *participant) answer(rev uint64, sdpText string) error {
	if sdpText == "" {
		return errs.E(errs.InvalidArgument, "sdp is required")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errs.E(errs.NotFound, "%s left the media session", p.id)
	}
	if !p.awaiting || rev != p.rev {
		cur := p.rev
		p.mu.Unlock()
		return errs.E(errs.Conflict, "no offer %d awaits an answer (the last offer is %d)", rev, cur)
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(sdpText); err != nil {
		p.mu.Unlock()
		return errs.E(errs.InvalidArgument, "bad answer SDP: %v", err)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdpText}); err != nil {
		p.mu.Unlock()
		return errs.E(errs.InvalidArgument, "answer refused: %v", err)
	}
	p.awaiting = false
	var (
		next Offer
		err  error
	)
	again := p.dirty
	if again {
		next, err = p.offerLocked()
	}
	p.mu.Unlock()
	if err != nil {
		p.srv.goRemove(p.sess, p, ReasonConnectFailed)
		return err
	}
	if again {
		p.sig.Offer(next)
	}
	return nil
}

func (p *participant) addCandidate(c Candidate) error {
	if len(c.Candidate) > 512 {
		return errs.E(errs.InvalidArgument, "candidate longer than 512 bytes")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errs.E(errs.NotFound, "%s left the media session", p.id)
	}
	if p.pc.RemoteDescription() == nil {
		p.mu.Unlock()
		return errs.E(errs.Conflict, "send the answer before candidates")
	}
	if p.candidates >= p.srv.cfg.MaxCandidates {
		p.mu.Unlock()
		return errs.E(errs.LimitExceeded, "at most %d candidates per offer", p.srv.cfg.MaxCandidates)
	}
	p.candidates++
	p.mu.Unlock()
	err := p.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate:        c.Candidate,
		SDPMid:           c.SDPMid,
		SDPMLineIndex:    c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	})
	if err != nil {
		return errs.E(errs.InvalidArgument, "bad candidate: %v", err)
	}
	p.nudge(c)
	return nil
}

// nudge makes the server's ICE agent nominate a pair soon after a trickled
// candidate checked out. The agent (controlling, as the offerer) nominates a
// checked pair only on its next 200 ms check tick, or when a new remote
// candidate arrives; pion/webrtc v4.2.20 does not let the tick be
// shortened. A browser whose own check got there first sends no other, so
// its join waited for the tick about half the time. Adding the same address
// again as a peer-reflexive candidate (a new candidate to the agent, the
// same path on the wire) 10 and 30 ms later starts the nomination as soon
// as the check succeeded.
func (p *participant) nudge(c Candidate) {
	prflx, ok := reflexiveTwin(c.Candidate)
	if !ok {
		return
	}
	for _, d := range []time.Duration{10 * time.Millisecond, 30 * time.Millisecond} {
		time.AfterFunc(d, func() {
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if !closed && !p.connected.Load() {
				_ = p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: prflx, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
			}
		})
	}
}

// reflexiveTwin returns a UDP host candidate's address as a peer-reflexive
// candidate, or false for any other candidate.
func reflexiveTwin(cand string) (string, bool) {
	f := strings.Fields(cand)
	// candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
	if len(f) < 8 || f[6] != "typ" || f[7] != "host" || !strings.EqualFold(f[2], "udp") {
		return "", false
	}
	return strings.Join(append(append([]string{}, f[:7]...), "prflx"), " "), true
}

// addDowntrack adds sender from's track t to p's connection, reusing the
// transceiver of a removed track when there is one so that the SDP does
// not grow with every stage change. The caller renegotiates.
func (p *participant) addDowntrack(from ParticipantID, sh *shard) error {
	t := sh.track
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	if _, ok := p.downtracks[from]; ok {
		return nil
	}
	var (
		sender *webrtc.RTPSender
		tr     *webrtc.RTPTransceiver
	)
	for len(p.free) > 0 && sender == nil {
		tr = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		s, err := p.api.NewRTPSender(t, p.pc.SCTP().Transport())
		if err != nil {
			return err
		}
		if err := tr.SetSender(s, t); err != nil {
			_ = s.Stop()
			continue
		}
		sender = s
	}
	if sender == nil {
		var err error
		tr, err = p.pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		sender = tr.Sender()
	}
	d := &downtrack{from: from, sender: sender, tr: tr, shard: sh}
	p.downtracks[from] = d
	p.srv.wg.Add(1)
	go p.readRTCP(sender)
	return nil
}

// removeDowntrack removes sender from's track; it reports whether there was
// one (and so a renegotiation is due).
func (p *participant) removeDowntrack(from ParticipantID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.downtracks[from]
	if !ok || p.closed {
		return false
	}
	delete(p.downtracks, from)
	if err := p.pc.RemoveTrack(d.sender); err != nil {
		return true
	}
	p.free = append(p.free, d.tr)
	return true
}

// shards returns the shards p receives from, by sender.
func (p *participant) shards() map[ParticipantID]*shard {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[ParticipantID]*shard, len(p.downtracks))
	for from, d := range p.downtracks {
		out[from] = d.shard
	}
	return out
}

// readRTCP reads what the participant reports about one incoming track
// (receiver reports). Reading also runs the RTCP interceptors.
func (p *participant) readRTCP(s *webrtc.RTPSender) {
	defer p.srv.wg.Done()
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if rr, ok := pkt.(*rtcp.ReceiverReport); ok {
				p.down.onReports(rr.Reports)
			}
		}
	}
}

// close closes the connection once; it reports whether this call did.
func (p *participant) close() bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.closed = true
	p.mu.Unlock()
	p.forward.Store(false)
	_ = p.pc.Close()
	return true
}

// timedOut reports why p should be removed now, if it should.
func (p *participant) timedOut(now time.Time, cfg *Config) string {
	p.mu.Lock()
	awaiting, since := p.awaiting, p.since
	p.mu.Unlock()
	if awaiting && now.Sub(since) > cfg.NegotiationTimeout {
		return ReasonNegotiationTimeout
	}
	if !p.connected.Load() && now.Sub(p.joinedAt) > cfg.ConnectTimeout {
		return ReasonConnectFailed
	}
	return ""
}
