// Package httpapi serves Parley's HTTP JSON API under /v1/. Every error is
// written by WriteError, which maps its errs.Code to a status through
// errs.HTTPStatus, so all endpoints answer errors the same way:
//
//	{"error": {"code": "rate_limited", "message": "...", "retry_after_ms": 1200}}
package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/errs"
)

// ErrorBody is the JSON shape of an error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries a stable code and a human message.
type ErrorDetail struct {
	Code         errs.Code `json:"code"`
	Message      string    `json:"message"`
	RetryAfterMS int64     `json:"retry_after_ms,omitempty"`
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// WriteError writes err as an ErrorBody. Internal errors are logged with the
// request path and shown to the client without their cause.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code, msg := errs.Public(err)
	if code == errs.Internal && log != nil {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	body := ErrorBody{Error: ErrorDetail{Code: code, Message: msg}}
	if ra := errs.RetryAfterOf(err); ra > 0 {
		body.Error.RetryAfterMS = ra.Milliseconds()
		secs := int64((ra + 999e6) / 1e9)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	WriteJSON(w, errs.HTTPStatus(code), body)
}

// DecodeJSON reads r's body, at most maxBytes, into v. Unknown fields and
// trailing data are rejected with errs.InvalidArgument; an oversized body
// with errs.FrameTooLarge.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errs.E(errs.InvalidArgument, "Content-Type must be application/json")
	}
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return errs.E(errs.FrameTooLarge, "request body larger than %d bytes", maxBytes)
		case errors.Is(err, io.EOF):
			return errs.E(errs.InvalidArgument, "request body is empty")
		}
		return errs.E(errs.InvalidArgument, "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return errs.E(errs.InvalidArgument, "request body has data after the JSON value")
	}
	return nil
}

// ClientIP returns the IP of the client: the first X-Forwarded-For hop when
// trustProxy is set, else the connection's remote address.
func ClientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// BearerToken returns the token of an "Authorization: Bearer <token>" header.
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		return "", errs.E(errs.Unauthenticated, "missing Authorization: Bearer token")
	}
	return strings.TrimSpace(tok), nil
}
