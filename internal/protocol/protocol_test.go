package protocol

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

func TestDecodeValid(t *testing.T) {
	cases := []struct {
		in   string
		want ClientFrame
	}{
		{`{"type":"auth","token":"t"}`, ClientFrame{Type: TypeAuth, Token: "t"}},
		{`{"type":"auth","token":"t","session":"s_1","resume":{"room:a":4}}`,
			ClientFrame{Type: TypeAuth, Token: "t", Session: "s_1", Resume: map[core.StreamID]uint64{"room:a": 4}}},
		{`{"type":"req","id":7,"method":"subscribe","params":{"stream":"room:a"}}`,
			ClientFrame{Type: TypeRequest, ID: 7, Method: "subscribe", Params: json.RawMessage(`{"stream":"room:a"}`)}},
		{`{"type":"req","id":1,"method":"x"}`, ClientFrame{Type: TypeRequest, ID: 1, Method: "x"}},
		{`  {"type":"pong"}  `, ClientFrame{Type: TypePong}},
		{`{"type":"refresh","id":3,"token":"x"}`, ClientFrame{Type: TypeRefresh, ID: 3, Token: "x"}},
	}
	for _, c := range cases {
		got, err := Decode([]byte(c.in))
		if err != nil {
			t.Fatalf("Decode(%s): %v", c.in, err)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(c.want)
		if !bytes.Equal(gj, wj) {
			t.Fatalf("Decode(%s) = %s, want %s", c.in, gj, wj)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"type":1}`, `{}`, `{"type":"nope"}`,
		`{"type":"auth"}`, `{"type":"auth","token":"t","session":"bad id"}`,
		`{"type":"auth","token":"t","resume":{"nokind":1}}`,
		`{"type":"req","method":"x"}`, `{"type":"req","id":1}`, `{"type":"req","id":1,"method":"x","params":[1]}`,
		`{"type":"req","id":-1,"method":"x"}`, `{"type":"refresh","id":1}`,
		`{"type":"pong"} trailing`,
	} {
		_, err := Decode([]byte(in))
		if errs.CodeOf(err) != errs.BadFrame {
			t.Fatalf("Decode(%q) error = %v, want bad_frame", in, err)
		}
	}
}

func TestEncodeEventMatchesJSON(t *testing.T) {
	ev := eventlog.Event{Stream: "room:r1", Seq: 42, Type: "comment.posted", Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
		Actor: "u_1", Data: json.RawMessage(`{"text":"héllo \"x\""}`)}
	f := EncodeEvent(&ev)
	var got, want map[string]any
	if err := json.Unmarshal(f.Payload(), &got); err != nil {
		t.Fatalf("payload is not JSON: %v: %s", err, f.Payload())
	}
	b, _ := json.Marshal(EventJSON{Type: TypeEvent, Stream: ev.Stream, Seq: ev.Seq, Event: ev.Type, Time: ev.Time, Actor: ev.Actor, Data: ev.Data})
	_ = json.Unmarshal(b, &want)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Fatalf("hand-encoded event %s != json.Marshal %s", gj, wj)
	}
	if f.Seq != 42 {
		t.Fatalf("frame seq %d", f.Seq)
	}
	// Odd strings must still be escaped correctly.
	odd := EncodeEphemeral("room:r1", "ty\"pe\n", ev.Time, "", nil)
	if err := json.Unmarshal(odd.Payload(), &got); err != nil || got["event"] != "ty\"pe\n" {
		t.Fatalf("escaping: %v %v", err, got)
	}
}

func TestFrameHeaders(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		payload := bytes.Repeat([]byte("a"), n)
		f := FromPayload(payload, 0)
		b := f.Bytes()
		if b[0] != 0x81 {
			t.Fatalf("n=%d: first byte %x", n, b[0])
		}
		var length, hdr int
		switch l := int(b[1]); {
		case l < 126:
			length, hdr = l, 2
		case l == 126:
			length, hdr = int(b[2])<<8|int(b[3]), 4
		default:
			length = 0
			for i := 2; i < 10; i++ {
				length = length<<8 | int(b[i])
			}
			hdr = 10
		}
		if length != n || len(b) != hdr+n || f.Len() != len(b) || !bytes.Equal(b[hdr:], payload) {
			t.Fatalf("n=%d: header says %d, frame %d bytes", n, length, len(b))
		}
	}
}

func TestBusPacking(t *testing.T) {
	ev := eventlog.Event{Stream: "topic:x", Seq: 9, Type: "t", Time: time.Unix(1, 0)}
	f := EncodeEvent(&ev)
	g, ok := UnpackBus(PackBus(f))
	if !ok || g.Seq != 9 || !bytes.Equal(g.Bytes(), f.Bytes()) {
		t.Fatalf("bus round trip changed the frame")
	}
	if _, ok := UnpackBus([]byte{1, 2}); ok {
		t.Fatal("short message accepted")
	}
	u, p, ok := UnpackPush(PackPush("u_1", []byte(`{"a":1}`)))
	if !ok || u != "u_1" || string(p) != `{"a":1}` {
		t.Fatalf("push round trip: %v %q %s", ok, u, p)
	}
	for _, bad := range [][]byte{nil, {0}, {5, 'a'}, {1, 'a'}} {
		if _, _, ok := UnpackPush(bad); ok {
			t.Fatalf("bad push %v accepted", bad)
		}
	}
}
