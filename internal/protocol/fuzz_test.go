package protocol

import (
	"testing"

	"github.com/parleyhq/parley/internal/errs"
)

// FuzzDecode checks that any input either decodes into a frame that passes
// the same checks again, or fails with bad_frame, and never panics. Seeds
// live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"auth","token":"abc","session":"s_1","resume":{"room:a":1}}`,
		`{"type":"req","id":1,"method":"subscribe","params":{"stream":"topic:x","after":3}}`,
		`{"type":"pong"}`, `{"type":"refresh","id":2,"token":"t"}`, `{}`, `[`, "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err != nil {
			if errs.CodeOf(err) != errs.BadFrame {
				t.Fatalf("error with code %q: %v", errs.CodeOf(err), err)
			}
			return
		}
		switch fr.Type {
		case TypeAuth, TypeRequest, TypePong, TypePing, TypeRefresh:
		default:
			t.Fatalf("accepted unknown type %q", fr.Type)
		}
		if fr.Type == TypeRequest && (fr.ID == 0 || fr.Method == "") {
			t.Fatalf("accepted request without id or method: %+v", fr)
		}
		for s := range fr.Resume {
			if s.Validate() != nil {
				t.Fatalf("accepted bad stream %q", s)
			}
		}
	})
}

// FuzzUnpack checks the bus message decoders never panic.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, '{', '}'})
	f.Add([]byte{3, 'u', '_', '1', '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if fr, ok := UnpackBus(data); ok && fr.Len() < len(data)-8 {
			t.Fatalf("frame lost bytes")
		}
		if u, p, ok := UnpackPush(data); ok && len(u)+len(p)+1 != len(data) {
			t.Fatalf("push lost bytes")
		}
	})
}
