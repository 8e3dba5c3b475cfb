package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/parleyhq/parley/client"
)

// errorCounts counts errors by "phase:code" and keeps one message of each
// for the report. It is safe for concurrent use.
type errorCounts struct {
	mu      sync.Mutex
	counts  map[string]int64
	samples map[string]string
}

// add counts err under phase and returns its key.
func (e *errorCounts) add(phase string, err error) string {
	key := phase + ":" + errorCode(err)
	e.addKey(key, 1, err.Error())
	return key
}

// addKey counts n errors under key, with sample as an example message.
func (e *errorCounts) addKey(key string, n int64, sample string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts = map[string]int64{}
		e.samples = map[string]string{}
	}
	e.counts[key] += n
	if _, ok := e.samples[key]; !ok && sample != "" {
		if len(sample) > 300 {
			sample = sample[:300] + "…"
		}
		e.samples[key] = sample
	}
}

// merge adds the counts and samples of another process's report.
func (e *errorCounts) merge(counts map[string]int64, samples map[string]string) {
	for k, n := range counts {
		e.addKey(k, n, samples[k])
	}
}

// snapshot returns copies of the counts and samples.
func (e *errorCounts) snapshot() (map[string]int64, map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := make(map[string]int64, len(e.counts))
	s := make(map[string]string, len(e.samples))
	for k, v := range e.counts {
		c[k] = v
	}
	for k, v := range e.samples {
		s[k] = v
	}
	return c, s
}

// total returns the number of errors counted, leaving out the keys for
// which skip returns true.
func (e *errorCounts) total(skip func(key string) bool) int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for k, v := range e.counts {
		if skip == nil || !skip(k) {
			n += v
		}
	}
	return n
}

// errorCode names an error by a stable code: the server's code when it
// answered one, else the kind of network or local failure.
func errorCode(err error) string {
	var ce *client.Error
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_open_files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "address_not_available"
	case errors.Is(err, syscall.EADDRINUSE):
		return "address_in_use"
	case errors.Is(err, client.ErrDisconnected):
		return "disconnected"
	case errors.Is(err, client.ErrClosed):
		return "closed"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "eof"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if code := client.CloseCode(err); code != 0 {
		return "closed_" + strconv.Itoa(code)
	}
	return "other"
}

// hints tell the operator what to change for the errors seen.
func hints(counts map[string]int64) []string {
	has := func(suffix string) bool {
		for k, n := range counts {
			if n > 0 && strings.HasSuffix(k, ":"+suffix) {
				return true
			}
		}
		return false
	}
	hasKey := func(key string) bool { return counts[key] > 0 }
	var out []string
	if hasKey("signup:rate_limited") || hasKey("signup:rate_limited_retried") {
		out = append(out, "sign-ups were rate limited by the node: raise auth.signin_per_ip on the server (PARLEY_AUTH_SIGNIN_PER_IP or --auth-signin-per-ip; 60 per minute by default), or give loadgen more --sources")
	}
	if has("too_many_connections") {
		out = append(out, "the node refused connections over gateway.max_conns_per_user: raise it on the server (PARLEY_GATEWAY_MAX_CONNS_PER_USER), or pass a smaller --conns-per-user or more --users")
	}
	if hasKey("publish:rate_limited") || hasKey("disconnect:rate_limited") {
		out = append(out, "publishers hit gateway.rate_per_second: use more --publishers or raise the limit on the server (PARLEY_GATEWAY_RATE_PER_SECOND)")
	}
	if has("too_many_open_files") {
		out = append(out, "a process ran out of open files: spread the connections over more --procs (or raise the server's limit if the server refused them)")
	}
	if has("address_not_available") || has("address_in_use") {
		out = append(out, "the source addresses ran out of ephemeral ports: give more --sources")
	}
	if has("slow_consumer") {
		out = append(out, "the node dropped slow consumers: the load generator could not keep up; use more --procs or a lower --publish-rate")
	}
	if has("connection_refused") {
		out = append(out, "the node refused TCP connections: is it running at --url, and is its listen backlog large enough (net.core.somaxconn)?")
	}
	sort.Strings(out)
	return out
}
