// Package errs defines Parley's one error type. Every error that reaches a
// client carries a stable Code; this package is the only place that maps codes
// to HTTP statuses and to WebSocket close codes.
package errs

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a stable, documented, machine-readable error code. Codes never
// change meaning once published; see docs/protocol.md.
type Code string

// The error codes. Adding one means adding it to the tables below and to
// docs/protocol.md.
const (
	Internal         Code = "internal"             // a bug or an unexpected failure
	Unavailable      Code = "unavailable"          // a dependency is down; retry later
	InvalidArgument  Code = "invalid_argument"     // the request is well formed but a value is wrong
	BadFrame         Code = "bad_frame"            // the frame is not valid protocol JSON
	FrameTooLarge    Code = "frame_too_large"      // a frame or body exceeds the configured size
	UnknownMethod    Code = "unknown_method"       // the request names no known method
	NotFound         Code = "not_found"            // the thing does not exist, or the caller may not know it does
	Conflict         Code = "conflict"             // a concurrent change won: expected sequence, unique handle...
	AlreadyExists    Code = "already_exists"       // a unique value is taken
	Unauthenticated  Code = "unauthenticated"      // no or bad credentials
	BadCredentials   Code = "bad_credentials"      // email/password or one-time code wrong
	TokenInvalid     Code = "token_invalid"        // a token is malformed, forged or revoked
	TokenExpired     Code = "token_expired"        // a token was valid but has expired
	TokenReused      Code = "token_reused"         // a spent refresh token was presented: its family is revoked
	AuthTimeout      Code = "auth_timeout"         // no auth frame within the configured time
	Forbidden        Code = "forbidden"            // authenticated, but not allowed
	OriginForbidden  Code = "origin_forbidden"     // the Origin header is not on the allowlist
	RateLimited      Code = "rate_limited"         // too many requests; RetryAfter says when to retry
	TooManyConns     Code = "too_many_connections" // the user holds the maximum number of connections
	SlowConsumer     Code = "slow_consumer"        // the client did not read fast enough; reconnect and resume
	ShuttingDown     Code = "shutting_down"        // the node is draining; reconnect elsewhere
	HeartbeatTimeout Code = "heartbeat_timeout"    // the peer stopped answering heartbeats
	SessionReplaced  Code = "session_replaced"     // another connection resumed this session
	Revoked          Code = "revoked"              // the sign-in session was revoked (logout)
	Closed           Code = "closed"               // the thing is closed (room ended, channel archived...)
	LimitExceeded    Code = "limit_exceeded"       // a configured quota is exhausted (length, count...)
)

// Error is the error type used across Parley. Code is stable; Message is for
// humans and may change; Err is the wrapped cause, never shown to clients.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // set with RateLimited
	Err        error
}

// Error implements the error interface.
func (e *Error) Error() string {
	switch {
	case e.Err != nil && e.Message != "":
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	case e.Err != nil:
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	case e.Message != "":
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return string(e.Code)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, errs.E(errs.NotFound, "")) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// E returns a new *Error with code and a message formatted like fmt.Sprintf.
func E(code Code, format string, args ...any) *Error {
	if len(args) > 0 {
		format = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: format}
}

// Wrap returns a new *Error with code that wraps cause. A nil cause returns nil.
func Wrap(code Code, cause error, message string) error {
	if cause == nil {
		return nil
	}
	return &Error{Code: code, Message: message, Err: cause}
}

// RateLimit returns a RateLimited error that tells the client when to retry.
func RateLimit(retryAfter time.Duration, format string, args ...any) *Error {
	e := E(RateLimited, format, args...)
	e.RetryAfter = retryAfter
	return e
}

// CodeOf returns the Code of the first *Error in err's chain, Internal for any
// other non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// Public returns the code and the message that may be shown to a client.
// Internal errors never expose their cause.
func Public(err error) (Code, string) {
	var e *Error
	if errors.As(err, &e) && e.Code != Internal {
		msg := e.Message
		if msg == "" {
			msg = string(e.Code)
		}
		return e.Code, msg
	}
	return Internal, "internal error"
}

// RetryAfterOf returns the RetryAfter of the first *Error in err's chain.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// HTTPStatus maps a code to an HTTP status.
func HTTPStatus(c Code) int {
	switch c {
	case "":
		return http.StatusOK
	case InvalidArgument, BadFrame, UnknownMethod:
		return http.StatusBadRequest
	case FrameTooLarge:
		return http.StatusRequestEntityTooLarge
	case NotFound:
		return http.StatusNotFound
	case Conflict, AlreadyExists:
		return http.StatusConflict
	case Unauthenticated, BadCredentials, TokenInvalid, TokenExpired, TokenReused, AuthTimeout, Revoked:
		return http.StatusUnauthorized
	case Forbidden, OriginForbidden:
		return http.StatusForbidden
	case RateLimited, TooManyConns, LimitExceeded:
		return http.StatusTooManyRequests
	case Closed:
		return http.StatusGone
	case Unavailable, ShuttingDown:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WebSocket close codes used by the gateway. 1000-1015 are RFC 6455 codes;
// 4000-4999 are Parley's own and documented in docs/protocol.md.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseTooBig          = 1009
	CloseInternal        = 1011
	CloseBadFrame        = 4400
	CloseUnauthenticated = 4401
	CloseTokenExpired    = 4402
	CloseForbidden       = 4403
	CloseAuthTimeout     = 4408
	CloseSessionReplaced = 4409
	CloseTooManyConns    = 4429
	CloseRateLimited     = 4430
	CloseSlowConsumer    = 4431
	CloseHeartbeat       = 4432
	CloseRevoked         = 4433
	CloseShuttingDown    = 4503
)

// CloseCode maps the code of an error that ends a connection to the
// WebSocket close code sent with the close frame.
func CloseCode(c Code) int {
	switch c {
	case "":
		return CloseNormal
	case BadFrame, UnknownMethod, InvalidArgument:
		return CloseBadFrame
	case FrameTooLarge:
		return CloseTooBig
	case Unauthenticated, TokenInvalid, BadCredentials, TokenReused:
		return CloseUnauthenticated
	case TokenExpired:
		return CloseTokenExpired
	case Forbidden, OriginForbidden:
		return CloseForbidden
	case AuthTimeout:
		return CloseAuthTimeout
	case SessionReplaced:
		return CloseSessionReplaced
	case TooManyConns:
		return CloseTooManyConns
	case RateLimited:
		return CloseRateLimited
	case SlowConsumer:
		return CloseSlowConsumer
	case HeartbeatTimeout:
		return CloseHeartbeat
	case Revoked:
		return CloseRevoked
	case ShuttingDown:
		return CloseShuttingDown
	}
	return CloseInternal
}

// AllCodes lists every code, for documentation tests.
var AllCodes = []Code{
	Internal, Unavailable, InvalidArgument, BadFrame, FrameTooLarge, UnknownMethod, NotFound,
	Conflict, AlreadyExists, Unauthenticated, BadCredentials, TokenInvalid, TokenExpired,
	TokenReused, AuthTimeout, Forbidden, OriginForbidden, RateLimited, TooManyConns,
	SlowConsumer, ShuttingDown, HeartbeatTimeout, SessionReplaced, Revoked, Closed, LimitExceeded,
}
