// Package media is Parley's selective forwarding unit (SFU) for audio: live
// rooms and team calls. Each participant has one WebRTC PeerConnection to the
// server; speakers publish one Opus track, and the server forwards every
// speaker's packets to every other participant of the session without
// decoding them.
//
// The package knows nothing of rooms, calls or users. A session is a string
// (the app uses the stream id, "room:r_1" or "call:c_1"), a participant is a
// string, and the app tells the server what each participant may do with
// SetPolicy: only participants whose policy says CanSend and not Muted have
// their packets forwarded. The check happens for every packet at the
// forwarding point, so a mute takes effect from the next packet whatever the
// client does.
//
// Signaling is server-driven: Join returns the server's offer, the client
// answers with Answer and trickles its ICE candidates with AddCandidate. When
// the set of senders changes the server renegotiates by sending a new offer
// through the participant's Signaler; offers are serialised (a new one is sent
// only after the previous one was answered), so there is never glare. The
// server gathers its own candidates before it offers (with the UDP mux this
// takes microseconds), so its offers are complete.
//
// All ICE traffic goes through one UDP port (an ICE UDP mux) by default, or a
// port range. Active speakers are computed from the RTP audio-level header
// extension (RFC 6464) and reported at a bounded rate.
package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// SessionID names a media session: everyone in one session hears its
// speakers.
type SessionID string

// ParticipantID names a participant in a session. A participant joins at most
// once per session: joining again replaces the earlier connection.
type ParticipantID string

// Policy is what a participant may do in its session, set by the app from the
// room's or call's state.
type Policy struct {
	// CanSend makes the participant a sender: when its first packet
	// arrives, every other participant gets its track (a renegotiation).
	// Moving a participant off stage (CanSend false) removes the track from
	// everyone (another renegotiation).
	CanSend bool `json:"can_send"`
	// Muted stops forwarding the participant's packets while it stays a
	// sender (no renegotiation).
	Muted bool `json:"muted"`
	// Version orders policies: SetPolicy ignores a policy older than the one
	// in force. The app uses the sequence of the event the policy came from;
	// zero always applies.
	Version uint64 `json:"version,omitempty"`
}

// Forwards reports whether packets of a participant with this policy are
// forwarded.
func (p Policy) Forwards() bool { return p.CanSend && !p.Muted }

// ICEServer is a STUN or TURN server handed to clients.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Offer is an SDP offer from the server. Rev numbers the offers of one
// participant; the answer must carry the same Rev.
type Offer struct {
	Rev uint64 `json:"rev"`
	SDP string `json:"sdp"`
}

// Candidate is an ICE candidate of the client (RTCIceCandidateInit).
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Signaler carries the server's signaling to one participant. The server
// calls it from its own goroutines, never while holding a lock, and calls for
// one participant never overlap; implementations must not block for long
// (queue the message and return).
type Signaler interface {
	// Offer delivers a renegotiation offer; the client answers with
	// Server.Answer.
	Offer(o Offer)
	// Policy tells the participant its policy changed (so that a
	// cooperating client can stop or start capturing).
	Policy(p Policy)
	// Closed tells the participant the server removed it (see the Reason
	// constants). It is not called after Leave.
	Closed(reason string)
}

// Reasons a participant is removed by the server.
const (
	ReasonReplaced           = "replaced"            // the participant joined again elsewhere
	ReasonConnectFailed      = "connect_failed"      // ICE or DTLS never connected, or failed later
	ReasonNegotiationTimeout = "negotiation_timeout" // an offer went unanswered
	ReasonSessionEnded       = "session_ended"       // EndSession
	ReasonServerClosed       = "server_closed"       // the server stopped
)

// Speaker is one active speaker with its loudness, 0 (silence) to 127 (the
// loudest: 127 minus the RFC 6464 level), averaged over the speech packets of
// the last interval.
type Speaker struct {
	Participant ParticipantID `json:"participant"`
	Level       int           `json:"level"`
}

// Config configures a Server.
type Config struct {
	// UDPAddr is the address of the single UDP port all ICE traffic goes
	// through ("0.0.0.0:7882"; port 0 picks one). Empty uses a port per
	// PeerConnection from [PortMin, PortMax] instead.
	UDPAddr          string
	PortMin, PortMax uint16
	// PublicIPs are the addresses announced in place of the host's own in
	// host candidates (a 1:1 NAT, such as a cloud VM's public IP).
	PublicIPs []string
	// ICEServers are handed to clients (STUN, TURN). The server itself
	// needs none.
	ICEServers []ICEServer
	// IncludeLoopback announces loopback candidates (tests and single-host
	// set-ups).
	IncludeLoopback bool
	// SpeakerInterval is how often active speakers are computed and, if
	// they changed, reported (default 300ms). The same loop enforces the
	// timeouts below.
	SpeakerInterval time.Duration
	// SpeakerThreshold is the RFC 6464 level (-dBov, 0 loudest, 127
	// silence) a packet must be at or below to count as speech (default 50,
	// that is -50 dBov).
	SpeakerThreshold int
	// SpeakerMinShare is the share of an interval's packets that must be
	// speech for the participant to be an active speaker (default 0.3).
	SpeakerMinShare float64
	// NegotiationTimeout removes a participant that does not answer an offer
	// in time (default 10s).
	NegotiationTimeout time.Duration
	// ConnectTimeout removes a participant whose connection is not up in
	// time after it joined (default 15s).
	ConnectTimeout time.Duration
	// MaxParticipants bounds the participants of one session (default
	// 10000) and MaxSenders the senders with a track (default 50): the
	// packets of a sender over the limit are dropped.
	MaxParticipants int
	MaxSenders      int
	// MaxCandidates bounds the ICE candidates one participant may add per
	// offer (default 64).
	MaxCandidates int
	// FanoutShard is the most receivers one goroutine writes a sender's
	// packets to; past it, a sender's receivers are split into shards
	// written in parallel (default 200).
	FanoutShard int
	// OnSpeakers, if set, is called from the server's timer goroutine with
	// a session's active speakers, loudest first, when they change and at
	// most once per SpeakerInterval. It must not block.
	OnSpeakers func(s SessionID, speakers []Speaker)
	// OnSessionEmpty, if set, is called when the last participant of a
	// session left or was removed.
	OnSessionEmpty func(s SessionID)
	Logger         *slog.Logger
}

func (c *Config) setDefaults() {
	if c.SpeakerInterval <= 0 {
		c.SpeakerInterval = 300 * time.Millisecond
	}
	if c.SpeakerThreshold <= 0 {
		c.SpeakerThreshold = 50
	}
	if c.SpeakerMinShare <= 0 {
		c.SpeakerMinShare = 0.3
	}
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 15 * time.Second
	}
	if c.MaxParticipants <= 0 {
		c.MaxParticipants = 10000
	}
	if c.MaxSenders <= 0 {
		c.MaxSenders = 50
	}
	if c.MaxCandidates <= 0 {
		c.MaxCandidates = 64
	}
	if c.FanoutShard <= 0 {
		c.FanoutShard = 200
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) check() error {
	if c.UDPAddr != "" {
		if _, _, err := net.SplitHostPort(c.UDPAddr); err != nil {
			return fmt.Errorf("media: UDP address %q: %w", c.UDPAddr, err)
		}
	} else if c.PortMin == 0 || c.PortMax < c.PortMin {
		return errors.New("media: set a UDP address or a port range")
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("media: public IP %q is not an IP address", ip)
		}
	}
	return nil
}
