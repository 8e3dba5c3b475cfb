package media

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// OpusPayloadType is the payload type the server offers for Opus.
const OpusPayloadType = 111

// opusCodec is the one codec the server negotiates.
var opusCodec = webrtc.RTPCodecCapability{
	MimeType:    webrtc.MimeTypeOpus,
	ClockRate:   48000,
	Channels:    2,
	SDPFmtpLine: "minptime=10;useinbandfec=1",
}

// newMediaEngine registers Opus and the audio-level header extension.
func newMediaEngine() (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: opusCodec, PayloadType: OpusPayloadType}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	return me, nil
}

// engine holds what every PeerConnection of the server shares: the media
// engine, the setting engine with the UDP mux, and one DTLS certificate.
type engine struct {
	me   *webrtc.MediaEngine
	se   webrtc.SettingEngine
	cert webrtc.Certificate
	mux  ice.UDPMux
	addr net.Addr // the mux's address, nil with a port range
}

func newEngine(cfg *Config) (*engine, error) {
	me, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	e := &engine{me: me}
	se := webrtc.SettingEngine{LoggerFactory: slogFactory{cfg.Logger}}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	if cfg.UDPAddr != "" {
		addr, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
		if err != nil {
			return nil, fmt.Errorf("media: UDP address: %w", err)
		}
		if addr.IP != nil && addr.IP.To4() == nil {
			networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP6}
		}
		conn, err := net.ListenUDP("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("media: listen on UDP %s: %w", cfg.UDPAddr, err)
		}
		// Bigger socket buffers absorb bursts of many small packets.
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		e.mux = webrtc.NewICEUDPMux(slogFactory{cfg.Logger}.NewLogger("udpmux"), conn)
		e.addr = conn.LocalAddr()
		se.SetICEUDPMux(e.mux)
	} else {
		if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
			return nil, fmt.Errorf("media: port range: %w", err)
		}
	}
	se.SetNetworkTypes(networks)
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			e.close()
			return nil, fmt.Errorf("media: public IPs: %w", err)
		}
	}
	e.se = se
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.close()
		return nil, err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		e.close()
		return nil, err
	}
	e.cert = *cert
	return e, nil
}

// newPeerConnection builds one participant's PeerConnection. Each gets its
// own interceptor chain so that its counters are its own.
func (e *engine) newPeerConnection(counters *linkCounters) (*webrtc.API, *webrtc.PeerConnection, error) {
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, nil, err
	}
	reg.Add(&countingFactory{c: counters})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(e.me), webrtc.WithSettingEngine(e.se), webrtc.WithInterceptorRegistry(reg))
	pc, err := api.NewPeerConnection(webrtc.Configuration{
		Certificates:  []webrtc.Certificate{e.cert},
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	return api, pc, err
}

func (e *engine) close() {
	if e.mux != nil {
		_ = e.mux.Close()
	}
}

// slogFactory routes pion's logs to slog: pion's errors and warnings at
// debug level (a client's bad packet is not the server's problem), the rest
// dropped.
type slogFactory struct{ l *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{l: f.l.With("pion", scope)}
}

type pionLogger struct{ l *slog.Logger }

func (p pionLogger) log(format string, args ...any) {
	if !p.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	p.l.Debug(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (pionLogger) Trace(string)          {}
func (pionLogger) Tracef(string, ...any) {}
func (pionLogger) Debug(string)          {}
func (pionLogger) Debugf(string, ...any) {}
func (pionLogger) Info(string)           {}
func (pionLogger) Infof(string, ...any)  {}
func (p pionLogger) Warn(msg string)     { p.log("%s", msg) }
func (p pionLogger) Warnf(f string, a ...any) {
	p.log(f, a...)
}
func (p pionLogger) Error(msg string) { p.log("%s", msg) }
func (p pionLogger) Errorf(f string, a ...any) {
	p.log(f, a...)
}
