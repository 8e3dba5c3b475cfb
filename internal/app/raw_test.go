package app_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// raw is a hand-driven WebSocket client, for tests that must send what the
// SDK never would, or stop reading on purpose.
type raw struct {
	t  testing.TB
	nc net.Conn
	r  io.Reader
}

func dialRaw(t testing.TB, base string, header http.Header) *raw {
	t.Helper()
	d := ws.Dialer{Timeout: 5 * time.Second}
	if header != nil {
		d.Header = ws.HandshakeHeaderHTTP(header)
	}
	nc, br, _, err := d.Dial(context.Background(), strings.Replace(base, "http://", "ws://", 1)+"/v1/ws")
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &raw{t: t, nc: nc, r: nc}
	if br != nil && br.Buffered() > 0 {
		r.r = io.MultiReader(br, nc)
	}
	return r
}

func (r *raw) sendFrame(op ws.OpCode, payload []byte) {
	r.t.Helper()
	f := ws.MaskFrameInPlace(ws.NewFrame(op, true, payload))
	_ = r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteFrame(r.nc, f); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

// trySend writes v and reports whether the write succeeded (the server may
// already have closed the connection).
func (r *raw) trySend(v any) bool {
	b, _ := json.Marshal(v)
	_ = r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return ws.WriteFrame(r.nc, ws.MaskFrameInPlace(ws.NewFrame(ws.OpText, true, b))) == nil
}

func (r *raw) send(v any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatal(err)
	}
	r.sendFrame(ws.OpText, b)
}

// next returns the next data message as a map, or the close code.
func (r *raw) next(timeout time.Duration) (map[string]any, int) {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		h, err := ws.ReadHeader(r.r)
		if err != nil {
			r.t.Fatalf("raw read: %v", err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r.r, p); err != nil {
			r.t.Fatalf("raw read payload: %v", err)
		}
		switch h.OpCode {
		case ws.OpClose:
			if len(p) < 2 {
				return nil, 1005
			}
			return nil, int(binary.BigEndian.Uint16(p))
		case ws.OpPing, ws.OpPong:
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			r.t.Fatalf("raw: bad frame %q: %v", p, err)
		}
		return m, 0
	}
}

// auth sends an auth frame and returns hello.
func (r *raw) auth(token string) map[string]any {
	r.t.Helper()
	r.send(map[string]any{"type": "auth", "token": token})
	m, code := r.next(5 * time.Second)
	if code != 0 || m["type"] != "hello" {
		r.t.Fatalf("expected hello, got %v (close %d)", m, code)
	}
	return m
}

// expectClose reads until the connection closes and checks that the last
// error frame had code and the close frame closeCode. It returns the frames
// read before the error.
func (r *raw) expectClose(code string, closeCode int) []map[string]any {
	r.t.Helper()
	var frames []map[string]any
	var lastErr string
	for {
		m, cc := r.next(10 * time.Second)
		if cc != 0 {
			if lastErr != code || cc != closeCode {
				r.t.Fatalf("closed with error %q and code %d; want %q and %d", lastErr, cc, code, closeCode)
			}
			return frames
		}
		if m["type"] == "error" {
			lastErr, _ = m["code"].(string)
			continue
		}
		frames = append(frames, m)
	}
}
