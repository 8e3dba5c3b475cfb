// Package protocol defines Parley's WebSocket protocol, version 1: the JSON
// frames a client and the server exchange on /v1/ws, their decoding and
// their encoding. docs/protocol.md is its reference.
//
// Every server frame is encoded once into a *Frame that already holds the
// WebSocket header, so an event fanned out to ten thousand connections is
// marshalled once and each connection only writes shared bytes.
package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Version is the protocol version sent in hello.
const Version = 1

// Client frame types.
const (
	TypeAuth    = "auth"    // first frame: token, optional session and resume positions
	TypeRequest = "req"     // a request with an id, a method and params
	TypePong    = "pong"    // answer to a server ping
	TypePing    = "ping"    // a client may ping too; the server answers pong
	TypeRefresh = "refresh" // a new access token for the live connection
)

// Server frame types.
const (
	TypeHello        = "hello"
	TypeResponse     = "res"
	TypeEvent        = "event"
	TypeReset        = "reset"
	TypeUnsubscribed = "unsubscribed"
	TypeError        = "error"
	TypeReconnect    = "reconnect"
	TypePush         = "push"
)

// ClientFrame is any frame a client sends. Which fields matter depends on
// Type; Decode checks that the ones required are present.
type ClientFrame struct {
	Type string `json:"type"`
	// ID correlates a request (and a refresh) with its response.
	ID uint64 `json:"id,omitempty"`
	// Method and Params of a request.
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	// Token of auth and refresh frames.
	Token string `json:"token,omitempty"`
	// Session to resume (auth frame), as received in an earlier hello.
	Session core.SessionID `json:"session,omitempty"`
	// Resume maps each stream the client was subscribed to onto the last
	// sequence it processed (auth frame).
	Resume map[core.StreamID]uint64 `json:"resume,omitempty"`
}

// MaxMethodLen bounds a method name.
const MaxMethodLen = 64

// MaxResume bounds the number of streams in a resume map.
const MaxResume = 10000

// Decode parses one client frame. Any malformed input gives an
// errs.BadFrame error; Decode never panics.
func Decode(data []byte) (ClientFrame, error) {
	var f ClientFrame
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return f, errs.E(errs.BadFrame, "a frame must be a JSON object")
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return ClientFrame{}, errs.E(errs.BadFrame, "frame is not valid JSON: %v", err)
	}
	switch f.Type {
	case TypeAuth:
		if f.Token == "" {
			return ClientFrame{}, errs.E(errs.BadFrame, "auth frame needs a token")
		}
		if f.Session != "" && !core.ValidToken(string(f.Session)) {
			return ClientFrame{}, errs.E(errs.BadFrame, "bad session id")
		}
		if len(f.Resume) > MaxResume {
			return ClientFrame{}, errs.E(errs.BadFrame, "resume lists more than %d streams", MaxResume)
		}
		for s := range f.Resume {
			if err := s.Validate(); err != nil {
				return ClientFrame{}, errs.E(errs.BadFrame, "resume: %q: %v", s, err)
			}
		}
	case TypeRequest:
		if f.ID == 0 {
			return ClientFrame{}, errs.E(errs.BadFrame, "request needs a non-zero id")
		}
		if f.Method == "" || len(f.Method) > MaxMethodLen {
			return ClientFrame{}, errs.E(errs.BadFrame, "request needs a method of 1-%d bytes", MaxMethodLen)
		}
		if len(f.Params) > 0 && f.Params[0] != '{' && !bytes.Equal(f.Params, []byte("null")) {
			return ClientFrame{}, errs.E(errs.BadFrame, "params must be a JSON object")
		}
	case TypeRefresh:
		if f.Token == "" {
			return ClientFrame{}, errs.E(errs.BadFrame, "refresh frame needs a token")
		}
	case TypePong, TypePing:
	case "":
		return ClientFrame{}, errs.E(errs.BadFrame, "frame has no type")
	default:
		return ClientFrame{}, errs.E(errs.BadFrame, "unknown frame type %q", truncate(f.Type, 32))
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Hello is the server's answer to a valid auth frame.
type Hello struct {
	Type        string         `json:"type"`
	V           int            `json:"v"`
	Session     core.SessionID `json:"session"`
	Resumed     bool           `json:"resumed"`
	User        core.UserID    `json:"user"`
	Node        core.NodeID    `json:"node"`
	HeartbeatMS int64          `json:"heartbeat_ms"`
	ExpiresAt   time.Time      `json:"expires_at"`
	Limits      Limits         `json:"limits"`
}

// Limits tells the client the limits it must respect.
type Limits struct {
	MaxFrameBytes    int     `json:"max_frame_bytes"`
	RatePerSecond    float64 `json:"rate_per_second"`
	RateBurst        int     `json:"rate_burst"`
	MaxSubscriptions int     `json:"max_subscriptions"`
	MaxConnsPerUser  int     `json:"max_conns_per_user"`
}

// ErrorBody is the error object of responses and error frames.
type ErrorBody struct {
	Code         errs.Code `json:"code"`
	Message      string    `json:"message"`
	RetryAfterMS int64     `json:"retry_after_ms,omitempty"`
}

// ErrorOf builds the public ErrorBody of err.
func ErrorOf(err error) *ErrorBody {
	code, msg := errs.Public(err)
	return &ErrorBody{Code: code, Message: msg, RetryAfterMS: errs.RetryAfterOf(err).Milliseconds()}
}

// Response answers a request or a refresh frame.
type Response struct {
	Type   string     `json:"type"`
	ID     uint64     `json:"id"`
	Result any        `json:"result,omitempty"`
	Error  *ErrorBody `json:"error,omitempty"`
}

// ErrorFrame reports a violation that ends the connection; a close frame
// with the matching close code follows it.
type ErrorFrame struct {
	Type string `json:"type"`
	ErrorBody
}

// Reset tells the client that it missed more of a stream than can be
// replayed: it must reload the stream's state, then continue after Seq.
type Reset struct {
	Type   string        `json:"type"`
	Stream core.StreamID `json:"stream"`
	Seq    uint64        `json:"seq"`
	Reason string        `json:"reason"`
}

// Unsubscribed tells the client a subscription ended, with the reason.
type Unsubscribed struct {
	Type   string        `json:"type"`
	Stream core.StreamID `json:"stream"`
	Error  *ErrorBody    `json:"error,omitempty"`
}

// Reconnect asks the client to reconnect (to any node) and resume.
type Reconnect struct {
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	RetryMS int64  `json:"retry_ms"`
}

// EventJSON is the JSON shape of an event frame. Seq is 0 (omitted) for an
// ephemeral event, which is never logged and never replayed.
type EventJSON struct {
	Type   string          `json:"type"`
	Stream core.StreamID   `json:"stream"`
	Seq    uint64          `json:"seq,omitempty"`
	Event  string          `json:"event"`
	Time   time.Time       `json:"time"`
	Actor  core.UserID     `json:"actor,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Push is a frame delivered to a user on all their connections, outside any
// stream (a ring, a mention, a notice).
type Push struct {
	Type  string          `json:"type"`
	Event string          `json:"event"`
	Time  time.Time       `json:"time"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// EncodeEvent returns the event frame of a logged event.
func EncodeEvent(e *eventlog.Event) *Frame {
	return encodeEvent(e.Stream, e.Seq, e.Type, e.Time, e.Actor, e.Data)
}

// EncodeEphemeral returns the frame of an event that is not logged.
func EncodeEphemeral(stream core.StreamID, typ string, t time.Time, actor core.UserID, data json.RawMessage) *Frame {
	return encodeEvent(stream, 0, typ, t, actor, data)
}

// encodeEvent writes the frame by hand: it is on the fan-out path and this
// avoids reflection; the output is the same as json.Marshal(EventJSON).
func encodeEvent(stream core.StreamID, seq uint64, typ string, t time.Time, actor core.UserID, data json.RawMessage) *Frame {
	b := make([]byte, maxHeader, maxHeader+96+len(stream)+len(typ)+len(actor)+len(data))
	b = append(b, `{"type":"event","stream":`...)
	b = appendString(b, string(stream))
	if seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, seq, 10)
	}
	b = append(b, `,"event":`...)
	b = appendString(b, typ)
	b = append(b, `,"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if actor != "" {
		b = append(b, `,"actor":`...)
		b = appendString(b, string(actor))
	}
	if len(data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	b = append(b, '}')
	return finish(b, seq)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	safe := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			safe = false
			break
		}
	}
	if safe {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// Encode marshals any server frame value.
func Encode(v any) (*Frame, error) {
	var buf bytes.Buffer
	buf.Write(make([]byte, maxHeader))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // drop the encoder's newline
	return finish(b, 0), nil
}

// MustEncode is Encode for values that always marshal.
func MustEncode(v any) *Frame {
	f, err := Encode(v)
	if err != nil {
		panic(err)
	}
	return f
}
