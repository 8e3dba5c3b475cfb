// Package media is the Go media client of Parley's SDK: it joins an audio
// session (a live room or a call) through the WebSocket protocol, publishes
// a synthetic Opus stream when allowed, and receives the other speakers,
// counting their packets. Parley's tests and load generator use it to drive
// the server's SFU like a real client; it plays no sound.
//
// Peer is the WebRTC side alone (answer the server's offers, send, count),
// usable with any signaling; Client and Session carry the signaling over a
// client.Client connection (media.join, media.answer, media.candidate,
// media.leave, and the media.offer, media.policy and media.closed pushes).
package media

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// PublishMid is the mid of the audio section the server offers for the
// participant's own audio.
const PublishMid = "0"

// ICEServer is a STUN or TURN server.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// PeerOptions configure a Peer.
type PeerOptions struct {
	// Publish makes the peer send its synthetic stream while it may (see
	// SetAllowed).
	Publish bool
	// IgnorePolicy makes a publishing peer send whatever the server says:
	// a misbehaving client, for tests of server-side enforcement.
	IgnorePolicy bool
	// Level is the RFC 6464 level (-dBov, 0 loudest, 127 silence) written in
	// every packet's audio-level extension (default 20).
	Level uint8
	// ICEServers to use (the server hands them out with its first offer).
	ICEServers []ICEServer
	// Loopback announces loopback candidates (default false; tests on one
	// host set it).
	Loopback bool
}

// Peer is one WebRTC connection to Parley's SFU. It is safe for concurrent
// use.
type Peer struct {
	opts PeerOptions
	pc   *webrtc.PeerConnection

	track   *webrtc.TrackLocalStaticRTP
	sender  *webrtc.RTPSender
	levelID atomic.Uint32
	allowed atomic.Bool
	sent    atomic.Uint64

	mu       sync.Mutex
	received map[string]uint64 // packets by sender (the track's stream id)
	first    time.Time
	firstBy  map[string]time.Time
	changed  chan struct{} // closed and replaced on every first packet of a sender

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// NewPeer makes a Peer. Close it when done.
func NewPeer(o PeerOptions) (*Peer, error) {
	if o.Level == 0 {
		o.Level = 20
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(o.Loopback)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	var servers []webrtc.ICEServer
	for _, s := range o.ICEServers {
		servers = append(servers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: servers, BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		return nil, err
	}
	p := &Peer{
		opts:     o,
		pc:       pc,
		received: map[string]uint64{},
		firstBy:  map[string]time.Time{},
		changed:  make(chan struct{}),
		stop:     make(chan struct{}),
	}
	pc.OnTrack(p.onTrack)
	if o.Publish {
		p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "self")
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	return p, nil
}

// PeerConnection returns the underlying connection.
func (p *Peer) PeerConnection() *webrtc.PeerConnection { return p.pc }

// SetAllowed tells a publishing peer whether it may send (the server's
// policy: a sender, not muted). A peer with IgnorePolicy sends anyway.
func (p *Peer) SetAllowed(ok bool) { p.allowed.Store(ok) }

// Answer applies the server's offer and returns the peer's answer. The
// first offer also starts the synthetic stream of a publishing peer.
func (p *Peer) Answer(ctx context.Context, offer string) (string, error) {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("media: set offer: %w", err)
	}
	if p.track != nil && p.sender == nil {
		if err := p.attach(); err != nil {
			return "", err
		}
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("media: create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("media: set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return p.pc.LocalDescription().SDP, nil
}

// attach puts the synthetic track on the section the server offered for
// the peer's own audio, and starts sending.
func (p *Peer) attach() error {
	var tr *webrtc.RTPTransceiver
	for _, t := range p.pc.GetTransceivers() {
		if t.Mid() == PublishMid {
			tr = t
		}
	}
	if tr == nil {
		return errors.New("media: the offer has no section for our audio")
	}
	s, err := p.pc.AddTrack(p.track)
	if err != nil {
		return fmt.Errorf("media: add track: %w", err)
	}
	if tr.Sender() != s {
		return errors.New("media: our track did not land on the publish section")
	}
	p.sender = s
	p.wg.Add(2)
	go p.drainRTCP(s)
	go p.sendLoop()
	return nil
}

func (p *Peer) drainRTCP(s *webrtc.RTPSender) {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

// sendLoop sends the tone, one Opus packet every 20 ms, with the audio level
// extension, while allowed.
func (p *Peer) sendLoop() {
	defer p.wg.Done()
	frames, err := ToneFrames()
	if err != nil {
		return
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var (
		pkt rtp.Packet
		i   int
		seq uint16 = uint16(time.Now().UnixNano())
		ts  uint32 = uint32(time.Now().UnixNano() >> 8)
	)
	pkt.Version = 2
	pkt.PayloadType = 111
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		ts += 960
		if !p.allowed.Load() && !p.opts.IgnorePolicy {
			continue
		}
		id := p.levelID.Load()
		if id == 0 {
			for _, e := range p.sender.GetParameters().HeaderExtensions {
				if e.URI == sdp.AudioLevelURI {
					id = uint32(e.ID)
					p.levelID.Store(id)
				}
			}
		}
		pkt.Extension = false
		pkt.Extensions = pkt.Extensions[:0]
		if id != 0 {
			_ = pkt.SetExtension(uint8(id), []byte{p.opts.Level&0x7f | 0x80})
		}
		seq++
		pkt.SequenceNumber = seq
		pkt.Timestamp = ts
		pkt.Marker = false
		pkt.Payload = frames[i%len(frames)]
		i++
		if err := p.track.WriteRTP(&pkt); err == nil {
			p.sent.Add(1)
		}
	}
}

// Sent returns the number of packets sent.
func (p *Peer) Sent() uint64 { return p.sent.Load() }

func (p *Peer) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	from := t.StreamID()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
			now := time.Now()
			p.mu.Lock()
			p.received[from]++
			if p.first.IsZero() {
				p.first = now
			}
			var wake chan struct{}
			if _, ok := p.firstBy[from]; !ok {
				p.firstBy[from] = now
				wake = p.changed
				p.changed = make(chan struct{})
			}
			p.mu.Unlock()
			if wake != nil {
				close(wake)
			}
		}
	}()
}

// Received returns the packets received so far from each sender.
func (p *Peer) Received() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]uint64, len(p.received))
	for k, v := range p.received {
		out[k] = v
	}
	return out
}

// FirstPacket returns when the first packet from anyone arrived (zero if
// none yet).
func (p *Peer) FirstPacket() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// FirstPacketFrom returns when the first packet from sender arrived.
func (p *Peer) FirstPacketFrom(sender string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.firstBy[sender]
	return t, ok
}

// WaitFirstPacket waits until a packet from sender (any sender if empty)
// has arrived and returns its arrival time.
func (p *Peer) WaitFirstPacket(ctx context.Context, sender string) (time.Time, error) {
	for {
		p.mu.Lock()
		var (
			t  time.Time
			ok bool
		)
		if sender == "" {
			t, ok = p.first, !p.first.IsZero()
		} else {
			t, ok = p.firstBy[sender]
		}
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return t, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// Close closes the connection and waits for the peer's goroutines.
func (p *Peer) Close() error {
	var err error
	p.once.Do(func() {
		close(p.stop)
		err = p.pc.Close()
		p.wg.Wait()
	})
	return err
}
