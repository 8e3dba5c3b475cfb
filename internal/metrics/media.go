package metrics

import "github.com/prometheus/client_golang/prometheus"

// MediaSnapshot is the media server's state at one scrape.
type MediaSnapshot struct {
	Sessions, Participants int
	Joins                  uint64
	PacketsIn, BytesIn     uint64
	PacketsDropped         uint64
	PacketsOut, BytesOut   uint64
	Removals               map[string]uint64
	// Senders has one entry per participant allowed to send: their number
	// is bounded by media.max_senders per session, so per-sender series stay
	// few while listeners are only counted in the totals.
	Senders []MediaSender
}

// MediaSender is one sender's inbound audio.
type MediaSender struct {
	Session, Participant string
	Packets, Bytes       uint64
	Lost                 int64
	Dropped              uint64
	JitterSeconds        float64
	BitrateBPS           uint64
}

// RegisterMedia adds the media collectors, which read snapshot at each
// scrape.
func (m *Metrics) RegisterMedia(snapshot func() MediaSnapshot) {
	m.Registry.MustRegister(&mediaCollector{snap: snapshot})
}

var (
	mediaSessions     = prometheus.NewDesc("parley_media_sessions", "Audio sessions on this node.", nil, nil)
	mediaParticipants = prometheus.NewDesc("parley_media_participants", "Participants connected to this node's media server.", nil, nil)
	mediaJoins        = prometheus.NewDesc("parley_media_joins_total", "Joins to the media server.", nil, nil)
	mediaRemovals     = prometheus.NewDesc("parley_media_removals_total", "Participants removed, by reason (left, replaced, connect_failed, negotiation_timeout, session_ended, server_closed).", []string{"reason"}, nil)
	mediaPacketsIn    = prometheus.NewDesc("parley_media_packets_in_total", "RTP packets received from senders.", nil, nil)
	mediaBytesIn      = prometheus.NewDesc("parley_media_bytes_in_total", "RTP bytes received from senders.", nil, nil)
	mediaDropped      = prometheus.NewDesc("parley_media_packets_dropped_total", "RTP packets received but not forwarded (the sender was muted or off stage).", nil, nil)
	mediaPacketsOut   = prometheus.NewDesc("parley_media_packets_out_total", "RTP packets forwarded, counted once per receiver.", nil, nil)
	mediaBytesOut     = prometheus.NewDesc("parley_media_bytes_out_total", "RTP bytes forwarded.", nil, nil)
	senderLabels      = []string{"session", "participant"}
	senderPackets     = prometheus.NewDesc("parley_media_sender_packets_total", "RTP packets received from a sender.", senderLabels, nil)
	senderBytes       = prometheus.NewDesc("parley_media_sender_bytes_total", "RTP bytes received from a sender.", senderLabels, nil)
	senderLost        = prometheus.NewDesc("parley_media_sender_lost_packets", "Packets of a sender lost on the way to the server.", senderLabels, nil)
	senderDropped     = prometheus.NewDesc("parley_media_sender_dropped_total", "Packets of a sender not forwarded (muted or off stage).", senderLabels, nil)
	senderJitter      = prometheus.NewDesc("parley_media_sender_jitter_seconds", "Interarrival jitter of a sender (RFC 3550).", senderLabels, nil)
	senderBitrate     = prometheus.NewDesc("parley_media_sender_bitrate_bps", "Receive rate of a sender over the last interval.", senderLabels, nil)
)

type mediaCollector struct{ snap func() MediaSnapshot }

func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mediaSessions, mediaParticipants, mediaJoins, mediaRemovals, mediaPacketsIn, mediaBytesIn,
		mediaDropped, mediaPacketsOut, mediaBytesOut, senderPackets, senderBytes, senderLost, senderDropped, senderJitter, senderBitrate} {
		ch <- d
	}
}

func (c *mediaCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge(mediaSessions, float64(s.Sessions))
	gauge(mediaParticipants, float64(s.Participants))
	counter(mediaJoins, float64(s.Joins))
	for reason, n := range s.Removals {
		counter(mediaRemovals, float64(n), reason)
	}
	counter(mediaPacketsIn, float64(s.PacketsIn))
	counter(mediaBytesIn, float64(s.BytesIn))
	counter(mediaDropped, float64(s.PacketsDropped))
	counter(mediaPacketsOut, float64(s.PacketsOut))
	counter(mediaBytesOut, float64(s.BytesOut))
	for _, x := range s.Senders {
		counter(senderPackets, float64(x.Packets), x.Session, x.Participant)
		counter(senderBytes, float64(x.Bytes), x.Session, x.Participant)
		gauge(senderLost, float64(x.Lost), x.Session, x.Participant)
		counter(senderDropped, float64(x.Dropped), x.Session, x.Participant)
		gauge(senderJitter, x.JitterSeconds, x.Session, x.Participant)
		gauge(senderBitrate, float64(x.BitrateBPS), x.Session, x.Participant)
	}
}
