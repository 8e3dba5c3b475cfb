package protocol

import (
	"encoding/binary"

	"github.com/parleyhq/parley/internal/core"
)

// maxHeader is the size of the largest unmasked server frame header.
const maxHeader = 10

// Frame is an encoded server frame: a complete unmasked WebSocket text frame
// (header and JSON payload) ready to be written to any connection. A Frame is
// immutable once built and safe to share between goroutines.
type Frame struct {
	buf []byte // buf[off:] is the WebSocket frame
	off int
	// Seq is the event sequence for logged event frames, else 0.
	Seq uint64
}

// finish writes the WebSocket header in front of the payload that starts at
// b[maxHeader:].
func finish(b []byte, seq uint64) *Frame {
	n := len(b) - maxHeader
	var hdr [maxHeader]byte
	hdr[0] = 0x81 // FIN + text
	h := 2
	switch {
	case n < 126:
		hdr[1] = byte(n)
	case n <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	off := maxHeader - h
	copy(b[off:], hdr[:h])
	return &Frame{buf: b, off: off, Seq: seq}
}

// Bytes returns the whole WebSocket frame. The caller must not modify it.
func (f *Frame) Bytes() []byte { return f.buf[f.off:] }

// Payload returns the JSON payload. The caller must not modify it.
func (f *Frame) Payload() []byte { return f.buf[maxHeader:] }

// Len is the number of bytes Bytes returns.
func (f *Frame) Len() int { return len(f.buf) - f.off }

// FromPayload wraps an already encoded JSON payload (for example one received
// from another node) in a Frame.
func FromPayload(payload []byte, seq uint64) *Frame {
	b := make([]byte, maxHeader, maxHeader+len(payload))
	b = append(b, payload...)
	return finish(b, seq)
}

// Bus messages of logged events carry the sequence in front of the frame
// payload so a receiving node can order and de-duplicate without parsing
// JSON: 8 bytes big-endian sequence, then the payload.

// PackBus returns the bus message for an event frame.
func PackBus(f *Frame) []byte {
	p := f.Payload()
	out := make([]byte, 8+len(p))
	binary.BigEndian.PutUint64(out, f.Seq)
	copy(out[8:], p)
	return out
}

// UnpackBus reverses PackBus. ok is false for a message too short to hold a
// sequence.
func UnpackBus(msg []byte) (f *Frame, ok bool) {
	if len(msg) < 9 {
		return nil, false
	}
	seq := binary.BigEndian.Uint64(msg)
	return FromPayload(msg[8:], seq), true
}

// Push messages between nodes carry the target user in front of the frame
// payload: 1 byte length, the user id, then the payload.

// PackPush returns the bus message delivering payload to user's connections
// on a node.
func PackPush(user core.UserID, payload []byte) []byte {
	out := make([]byte, 0, 1+len(user)+len(payload))
	out = append(out, byte(len(user)))
	out = append(out, user...)
	return append(out, payload...)
}

// UnpackPush reverses PackPush.
func UnpackPush(msg []byte) (user core.UserID, payload []byte, ok bool) {
	if len(msg) < 1 {
		return "", nil, false
	}
	n := int(msg[0])
	if n == 0 || len(msg) < 1+n+2 {
		return "", nil, false
	}
	return core.UserID(msg[1 : 1+n]), msg[1+n:], true
}

// RawFrame wraps bytes that already form a complete WebSocket frame (a
// control frame).
func RawFrame(b []byte) *Frame { return &Frame{buf: b} }
