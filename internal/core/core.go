// Package core holds the identifiers and small primitives that every other
// Parley package shares. It does no I/O.
package core

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// UserID identifies an account.
type UserID string

// SessionID identifies a gateway session: the state a client resumes after a
// reconnection. It is not an authentication credential.
type SessionID string

// ConnID identifies one WebSocket connection on one node.
type ConnID string

// NodeID identifies one running Parley process in a deployment.
type NodeID string

// StreamID names an event stream, as "<kind>:<id>", for example
// "room:r_01h..." or "user:u_01h...". Both parts are limited to the
// characters [A-Za-z0-9_-] so that a stream maps to one NATS subject token
// without escaping.
type StreamID string

// MaxStreamIDLen bounds the length of a stream id.
const MaxStreamIDLen = 128

// NewStreamID joins kind and id into a StreamID. It does not validate.
func NewStreamID(kind, id string) StreamID { return StreamID(kind + ":" + id) }

// Kind returns the part before the colon ("room" for "room:abc").
func (s StreamID) Kind() string {
	k, _, _ := strings.Cut(string(s), ":")
	return k
}

// ID returns the part after the colon ("abc" for "room:abc").
func (s StreamID) ID() string {
	_, id, _ := strings.Cut(string(s), ":")
	return id
}

// ErrBadStreamID is returned by StreamID.Validate.
var ErrBadStreamID = errors.New("stream id must be <kind>:<id> using [A-Za-z0-9_-]")

// Validate reports whether s is well formed.
func (s StreamID) Validate() error {
	if len(s) == 0 || len(s) > MaxStreamIDLen {
		return ErrBadStreamID
	}
	kind, id, ok := strings.Cut(string(s), ":")
	if !ok || !ValidToken(kind) || !ValidToken(id) {
		return ErrBadStreamID
	}
	return nil
}

// ValidToken reports whether s is a non-empty string of [A-Za-z0-9_-], the
// alphabet Parley uses for every identifier that can appear in a NATS subject
// or a KV key.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns prefix + "_" + a 26-character identifier whose first 8 bytes
// are the current time in milliseconds, so identifiers made later sort later,
// followed by 8 random bytes. It is safe for concurrent use.
func NewID(prefix string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli()))
	if _, err := rand.Read(b[8:]); err != nil {
		panic(fmt.Sprintf("core: crypto/rand failed: %v", err))
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// Clock tells the time. Production code uses SystemClock; tests inject their
// own to move time forward without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
