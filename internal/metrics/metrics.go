// Package metrics defines every Prometheus collector Parley exports on
// /metrics, in one place, registered on one registry. Packages receive the
// *Metrics and update its fields; all collectors are safe for concurrent use.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds Parley's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	Connections     prometheus.Gauge
	ConnectsTotal   prometheus.Counter
	FramesIn        prometheus.Counter
	FramesOut       prometheus.Counter
	BytesOut        prometheus.Counter
	SendQueueDrops  prometheus.Counter
	Closes          *prometheus.CounterVec // by close reason code
	AuthFailures    *prometheus.CounterVec // by reason code
	Subscriptions   prometheus.Gauge
	Hubs            prometheus.Gauge
	Requests        *prometheus.CounterVec // by method and result code
	RequestSeconds  *prometheus.HistogramVec
	AppendSeconds   prometheus.Histogram
	AppendBatch     prometheus.Histogram
	AppendedEvents  prometheus.Counter
	BusRTTSeconds   prometheus.Histogram
	BusDeliverySecs prometheus.Histogram
	GapFills        prometheus.Counter
	Resets          prometheus.Counter
	WorkQueueDepth  *prometheus.GaugeVec // by queue
	WorkQueueDead   *prometheus.GaugeVec // by queue
	PresenceOnline  prometheus.Gauge
	HTTPRequests    *prometheus.CounterVec // by route pattern and status class
	HTTPSeconds     *prometheus.HistogramVec
}

// New creates the collectors and registers them, with the Go runtime and
// process collectors (resident memory, open descriptors), on a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	lat := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m := &Metrics{
		Registry:        r,
		Connections:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_gateway_connections", Help: "Open authenticated WebSocket connections."}),
		ConnectsTotal:   prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_connects_total", Help: "WebSocket connections authenticated."}),
		FramesIn:        prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_frames_in_total", Help: "Frames received from clients."}),
		FramesOut:       prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_frames_out_total", Help: "Frames written to clients."}),
		BytesOut:        prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_bytes_out_total", Help: "Bytes written to clients."}),
		SendQueueDrops:  prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_send_queue_drops_total", Help: "Connections closed because their send queue was full (slow consumers)."}),
		Closes:          prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_gateway_closes_total", Help: "Connections closed by the server, by reason code."}, []string{"code"}),
		AuthFailures:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_auth_failures_total", Help: "Failed authentications (WebSocket and HTTP), by reason code."}, []string{"code"}),
		Subscriptions:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_gateway_subscriptions", Help: "Active stream subscriptions."}),
		Hubs:            prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_gateway_streams_watched", Help: "Streams this node receives from the bus for its connections."}),
		Requests:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_gateway_requests_total", Help: "Protocol requests, by method and result code."}, []string{"method", "code"}),
		RequestSeconds:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "parley_gateway_request_seconds", Help: "Protocol request handling time.", Buckets: lat}, []string{"method"}),
		AppendSeconds:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_eventlog_commit_seconds", Help: "Time of one group commit.", Buckets: lat}),
		AppendBatch:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_eventlog_commit_requests", Help: "Append requests per group commit.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048}}),
		AppendedEvents:  prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_eventlog_appended_events_total", Help: "Events appended to the log."}),
		BusRTTSeconds:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_bus_rtt_seconds", Help: "Round trip to the NATS server, probed periodically.", Buckets: lat}),
		BusDeliverySecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "parley_bus_delivery_seconds", Help: "Time from an event's commit to its arrival at this node's fan-out.", Buckets: lat}),
		GapFills:        prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_gap_fills_total", Help: "Gaps in a stream's bus delivery filled from the log."}),
		Resets:          prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_gateway_resets_total", Help: "Reset frames sent because a resume gap exceeded what can be replayed."}),
		WorkQueueDepth:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_workqueue_depth", Help: "Jobs waiting in a work queue."}, []string{"queue"}),
		WorkQueueDead:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "parley_workqueue_dead_letters", Help: "Jobs in a work queue's dead-letter stream."}, []string{"queue"}),
		PresenceOnline:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "parley_presence_online_users", Help: "Users with at least one connection anywhere in the deployment."}),
		HTTPRequests:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parley_http_requests_total", Help: "HTTP API requests, by route and status class."}, []string{"route", "status"}),
		HTTPSeconds:     prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "parley_http_request_seconds", Help: "HTTP API request time.", Buckets: lat}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.Connections, m.ConnectsTotal, m.FramesIn, m.FramesOut, m.BytesOut,
		m.SendQueueDrops, m.Closes, m.AuthFailures, m.Subscriptions, m.Hubs, m.Requests, m.RequestSeconds,
		m.AppendSeconds, m.AppendBatch, m.AppendedEvents, m.BusRTTSeconds, m.BusDeliverySecs, m.GapFills, m.Resets,
		m.WorkQueueDepth, m.WorkQueueDead, m.PresenceOnline, m.HTTPRequests, m.HTTPSeconds} {
		f(c)
	}
	// Known label values start at zero so dashboards and alerts see the
	// series before the first failure.
	for _, code := range []string{"unauthenticated", "token_invalid", "token_expired", "revoked", "auth_timeout",
		"origin_forbidden", "http_401", "http_429"} {
		m.AuthFailures.WithLabelValues(code)
	}
	for _, code := range []string{"slow_consumer", "rate_limited", "frame_too_large", "bad_frame", "heartbeat_timeout", "token_expired"} {
		m.Closes.WithLabelValues(code)
	}
	return m
}
