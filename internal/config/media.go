package config

import (
	"net"
	"strings"
	"time"
)

// MediaConfig configures the media server (the audio SFU of live rooms and
// calls) and team calls. Its fields, defaults and checks live in this file.
type MediaConfig struct {
	Enabled            bool          `json:"enabled" help:"serve audio (live rooms' stage, team calls)"`
	UDPAddr            string        `json:"udp_addr" help:"the single UDP address all WebRTC traffic goes through (ICE UDP mux); port 0 picks one; empty uses media.port_min-media.port_max instead"`
	PortMin            int           `json:"port_min" help:"lowest UDP port, one per connection, when media.udp_addr is empty"`
	PortMax            int           `json:"port_max" help:"highest UDP port, when media.udp_addr is empty"`
	PublicIPs          []string      `json:"public_ips" help:"comma-separated IPs announced instead of the host's own (1:1 NAT, such as a cloud VM's public IP)"`
	IncludeLoopback    bool          `json:"include_loopback" help:"announce loopback candidates (automatic when media.udp_addr is a loopback address)"`
	ICEURLs            []string      `json:"ice_urls" help:"comma-separated STUN/TURN URLs handed to clients (stun:host:3478, turn:host:3478?transport=udp, turns:host:5349)"`
	TURNUsername       string        `json:"turn_username" help:"static TURN user name handed to clients (prefer media.turn_secret)"`
	TURNPassword       string        `json:"turn_password" help:"static TURN password handed to clients"`
	TURNSecret         string        `json:"turn_secret" help:"shared secret of the TURN server's REST API (coturn use-auth-secret): clients get credentials valid media.turn_ttl"`
	TURNTTL            time.Duration `json:"turn_ttl" help:"lifetime of TURN credentials made with media.turn_secret"`
	SpeakerInterval    time.Duration `json:"speaker_interval" help:"how often active speakers are computed and, if they changed, sent to the room"`
	SpeakerThreshold   int           `json:"speaker_threshold" help:"RFC 6464 audio level (-dBov, 0-127) at or below which a packet counts as speech"`
	NegotiationTimeout time.Duration `json:"negotiation_timeout" help:"a participant that does not answer an offer within this is removed"`
	ConnectTimeout     time.Duration `json:"connect_timeout" help:"a participant whose connection is not up within this after joining is removed"`
	MaxParticipants    int           `json:"max_participants" help:"most participants in one audio session"`
	MaxSenders         int           `json:"max_senders" help:"most senders (speakers) in one audio session"`
	MaxCandidates      int           `json:"max_candidates" help:"most ICE candidates a client may send per offer"`
	MaxSessionsPerConn int           `json:"max_sessions_per_conn" help:"most audio sessions one WebSocket connection may be in at once"`
	FanoutShard        int           `json:"fanout_shard" help:"most listeners one goroutine forwards a speaker to; more are split into shards forwarded in parallel"`
	CallRingTimeout    time.Duration `json:"call_ring_timeout" help:"how long a call rings before unanswered members are marked missed"`
	CallMaxMembers     int           `json:"call_max_members" help:"most members a team call may ring"`
	TestPage           bool          `json:"test_page" help:"serve the browser test page at /test/media.html (development and browser tests only)"`
}

func defaultMedia() MediaConfig {
	return MediaConfig{
		Enabled:            true,
		UDPAddr:            "0.0.0.0:7882",
		TURNTTL:            12 * time.Hour,
		SpeakerInterval:    300 * time.Millisecond,
		SpeakerThreshold:   50,
		NegotiationTimeout: 10 * time.Second,
		ConnectTimeout:     15 * time.Second,
		MaxParticipants:    10000,
		MaxSenders:         50,
		MaxCandidates:      64,
		MaxSessionsPerConn: 4,
		FanoutShard:        200,
		CallRingTimeout:    45 * time.Second,
		CallMaxMembers:     64,
	}
}

func (c *MediaConfig) validate() error {
	if !c.Enabled {
		return nil
	}
	if c.UDPAddr != "" {
		if _, _, err := net.SplitHostPort(c.UDPAddr); err != nil {
			return bad("media.udp_addr", "%q is not host:port", c.UDPAddr)
		}
	} else if c.PortMin < 1 || c.PortMax > 65535 || c.PortMax < c.PortMin {
		return bad("media.port_min", "with media.udp_addr empty, set 1 <= media.port_min <= media.port_max <= 65535")
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return bad("media.public_ips", "%q is not an IP address", ip)
		}
	}
	for _, u := range c.ICEURLs {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return bad("media.ice_urls", "%q is not a stun:, stuns:, turn: or turns: URL", u)
		}
	}
	if c.TURNSecret != "" && c.TURNTTL < time.Minute {
		return bad("media.turn_ttl", "must be at least 1m")
	}
	switch {
	case c.SpeakerInterval < 50*time.Millisecond:
		return bad("media.speaker_interval", "must be at least 50ms")
	case c.SpeakerThreshold < 0 || c.SpeakerThreshold > 127:
		return bad("media.speaker_threshold", "must be between 0 and 127")
	case c.NegotiationTimeout < time.Second:
		return bad("media.negotiation_timeout", "must be at least 1s")
	case c.ConnectTimeout < time.Second:
		return bad("media.connect_timeout", "must be at least 1s")
	case c.MaxParticipants < 2:
		return bad("media.max_participants", "must be at least 2")
	case c.MaxSenders < 1:
		return bad("media.max_senders", "must be at least 1")
	case c.MaxCandidates < 1:
		return bad("media.max_candidates", "must be at least 1")
	case c.MaxSessionsPerConn < 1:
		return bad("media.max_sessions_per_conn", "must be at least 1")
	case c.FanoutShard < 1:
		return bad("media.fanout_shard", "must be at least 1")
	case c.CallRingTimeout < time.Second:
		return bad("media.call_ring_timeout", "must be at least 1s")
	case c.CallMaxMembers < 2:
		return bad("media.call_max_members", "must be at least 2")
	}
	return nil
}
