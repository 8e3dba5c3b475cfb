package gateway

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/metrics"
)

// testConn returns a conn reading raw bytes from data, with a 1 KiB frame
// limit, and a function that stops it.
func testConn(t testing.TB, data []byte) (*conn, func()) {
	t.Helper()
	s := New(Options{Metrics: metrics.New(), Config: Config{
		MaxFrameBytes: 1024, SendQueueFrames: 64, SendQueueBytes: 1 << 20, WriteTimeout: time.Second,
		RatePerSecond: 10, RateBurst: 10,
	}})
	srv, cli := net.Pipe()
	// The whole input is preloaded; closing the client end makes a read past
	// it (and any pong the reader writes) fail at once.
	cli.Close()
	c := newConn(s, srv, data)
	return c, func() { srv.Close() }
}

func frame(op ws.OpCode, fin, masked bool, payload []byte) []byte {
	var b bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Masked: masked, Length: int64(len(payload))}
	if masked {
		h.Mask = [4]byte{1, 2, 3, 4}
	}
	_ = ws.WriteHeader(&b, h)
	p := append([]byte(nil), payload...)
	if masked {
		ws.Cipher(p, h.Mask, 0)
	}
	b.Write(p)
	return b.Bytes()
}

func TestReadMessage(t *testing.T) {
	msg := []byte(`{"type":"pong"}`)
	cases := []struct {
		name string
		in   []byte
		want []byte
		code errs.Code
	}{
		{"text", frame(ws.OpText, true, true, msg), msg, ""},
		{"fragments", append(frame(ws.OpText, false, true, msg[:5]), frame(ws.OpContinuation, true, true, msg[5:])...), msg, ""},
		{"ping between fragments", append(append(frame(ws.OpText, false, true, msg[:5]), frame(ws.OpPing, true, true, []byte("hi"))...),
			frame(ws.OpContinuation, true, true, msg[5:])...), msg, ""},
		{"unmasked", frame(ws.OpText, true, false, msg), nil, errs.BadFrame},
		{"too large", frame(ws.OpText, true, true, make([]byte, 1025)), nil, errs.FrameTooLarge},
		{"too large in fragments", append(frame(ws.OpText, false, true, make([]byte, 600)), frame(ws.OpContinuation, true, true, make([]byte, 600))...), nil, errs.FrameTooLarge},
		{"orphan continuation", frame(ws.OpContinuation, true, true, msg), nil, errs.BadFrame},
		{"interleaved message", append(frame(ws.OpText, false, true, msg), frame(ws.OpText, true, true, msg)...), nil, errs.BadFrame},
		{"long control", frame(ws.OpPing, true, true, make([]byte, 126)), nil, errs.BadFrame},
		{"reserved opcode", frame(ws.OpCode(3), true, true, msg), nil, errs.BadFrame},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, stop := testConn(t, tc.in)
			defer stop()
			got, err := c.readMessage()
			if tc.code != "" {
				if errs.CodeOf(err) != tc.code {
					t.Fatalf("error %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	t.Run("close", func(t *testing.T) {
		c, stop := testConn(t, frame(ws.OpClose, true, true, []byte{3, 232}))
		defer stop()
		if _, err := c.readMessage(); !errors.Is(err, io.EOF) {
			t.Fatalf("close frame gave %v", err)
		}
	})
}

// FuzzReadMessage feeds arbitrary bytes to the WebSocket frame reader: it
// must return messages within the size limit or an error, never panic or
// hang. Seeds live in testdata/fuzz/FuzzReadMessage.
func FuzzReadMessage(f *testing.F) {
	f.Add(frame(ws.OpText, true, true, []byte(`{"type":"pong"}`)))
	f.Add(append(frame(ws.OpText, false, true, []byte(`{"ty`)), frame(ws.OpContinuation, true, true, []byte(`pe":"pong"}`))...))
	f.Add(frame(ws.OpPing, true, true, []byte("x")))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0})
	big := make([]byte, 10)
	big[0], big[1] = 0x82, 0xff
	binary.BigEndian.PutUint64(big[2:], 1<<40)
	f.Add(big)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, stop := testConn(t, data)
		defer stop()
		for i := 0; i < 100; i++ {
			msg, err := c.readMessage()
			if err != nil {
				var e *errs.Error
				if errors.As(err, &e) && e.Code != errs.BadFrame && e.Code != errs.FrameTooLarge {
					t.Fatalf("unexpected code %s", e.Code)
				}
				return
			}
			if len(msg) > 1024 {
				t.Fatalf("message of %d bytes passed a 1024-byte limit", len(msg))
			}
		}
	})
}
