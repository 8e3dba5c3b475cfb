package app

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/webapp"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parleyhq/parley/internal/httpapi"
)

// routes builds the HTTP handler of the node.
func (m *Main) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", m.gw)
	httpapi.RegisterAuth(mux, m.auth, m.Config.HTTP.MaxBodyBytes, m.Config.HTTP.TrustProxy, m.Logger.With("component", "http"))
	m.chatRoutes(mux)
	m.roomsRoutes(mux)
	m.mediaRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "ok", "node": m.node, "version": m.Version})
	})
	mux.HandleFunc("GET /readyz", m.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.metrics.Registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /", webapp.Handler())
	return m.instrument(mux)
}

// ready answers 200 when the store and the bus answer, else 503 with the
// failing part.
func (m *Main) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "bus": "ok"}
	ok := true
	if err := m.pingStore(ctx); err != nil {
		checks["store"] = err.Error()
		ok = false
	}
	if err := m.bus.Ping(ctx); err != nil {
		checks["bus"] = err.Error()
		ok = false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	httpapi.WriteJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

func (m *Main) pingStore(ctx context.Context) error {
	if m.pg != nil {
		return m.pg.Ping(ctx)
	}
	if err := m.sqlEvents.Ping(ctx); err != nil {
		return err
	}
	return m.sqlApp.Ping(ctx)
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and the WebSocket upgrade reach the
// underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument counts requests by route pattern and status class.
func (m *Main) instrument(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := next.Handler(r)
		if pattern == "GET /v1/ws" {
			next.ServeHTTP(w, r) // hijacked: no status to record
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if pattern == "" {
			pattern = "unmatched"
		}
		m.metrics.HTTPRequests.WithLabelValues(pattern, strconv.Itoa(sw.status/100)+"xx").Inc()
		if (sw.status == http.StatusUnauthorized || sw.status == http.StatusTooManyRequests) && strings.HasPrefix(pattern, "POST /v1/auth/") {
			m.metrics.AuthFailures.WithLabelValues("http_" + strconv.Itoa(sw.status)).Inc()
		}
		m.metrics.HTTPSeconds.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}
