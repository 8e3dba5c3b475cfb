package config

import (
	"errors"
	"testing"
	"time"
)

func TestMediaOptions(t *testing.T) {
	cfg, err := load(t, []string{"--media-udp-addr", "127.0.0.1:0", "--media-public-ips", "203.0.113.10, 198.51.100.7",
		"--media-ice-urls", "stun:turn.example.com:3478,turns:turn.example.com:5349?transport=tcp", "--media-turn-secret", "s3cret"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Media
	if m.UDPAddr != "127.0.0.1:0" || len(m.PublicIPs) != 2 || m.PublicIPs[1] != "198.51.100.7" || len(m.ICEURLs) != 2 || m.TURNSecret != "s3cret" || m.TURNTTL != 12*time.Hour {
		t.Fatalf("media config %+v", m)
	}
	for _, tc := range []struct {
		args []string
		key  string
	}{
		{[]string{"--media-udp-addr", "7882"}, "media.udp_addr"},
		{[]string{"--media-udp-addr", "", "--media-port-min", "50000"}, "media.port_min"},
		{[]string{"--media-udp-addr", "", "--media-port-min", "50010", "--media-port-max", "50000"}, "media.port_min"},
		{[]string{"--media-public-ips", "example.com"}, "media.public_ips"},
		{[]string{"--media-ice-urls", "http://turn.example.com"}, "media.ice_urls"},
		{[]string{"--media-turn-secret", "x", "--media-turn-ttl", "10s"}, "media.turn_ttl"},
		{[]string{"--media-speaker-interval", "10ms"}, "media.speaker_interval"},
		{[]string{"--media-speaker-threshold", "128"}, "media.speaker_threshold"},
		{[]string{"--media-negotiation-timeout", "100ms"}, "media.negotiation_timeout"},
		{[]string{"--media-connect-timeout", "0s"}, "media.connect_timeout"},
		{[]string{"--media-max-participants", "1"}, "media.max_participants"},
		{[]string{"--media-max-senders", "0"}, "media.max_senders"},
		{[]string{"--media-max-candidates", "0"}, "media.max_candidates"},
		{[]string{"--media-fanout-shard", "0"}, "media.fanout_shard"},
		{[]string{"--media-max-sessions-per-conn", "0"}, "media.max_sessions_per_conn"},
		{[]string{"--media-call-ring-timeout", "0s"}, "media.call_ring_timeout"},
		{[]string{"--media-call-max-members", "1"}, "media.call_max_members"},
	} {
		_, err := load(t, tc.args, nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.key)
		}
	}
	// A port range instead of the mux, and media off, are valid.
	if _, err := load(t, []string{"--media-udp-addr", "", "--media-port-min", "50000", "--media-port-max", "50999"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, []string{"--media-enabled=false", "--media-udp-addr", "nonsense"}, nil); err != nil {
		t.Fatal(err)
	}
}
