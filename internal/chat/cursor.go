package chat

import (
	"encoding/base64"
	"encoding/binary"
	"sort"

	"github.com/parleyhq/parley/internal/errs"
)

// Cursor is an offline-sync position: for each channel of the user, the
// sequence and top-level message count it had, and for each workspace the
// sequence of its stream. Clients hold it as an opaque string.
type Cursor struct {
	Channels   map[ChannelID]Marker
	Workspaces map[WorkspaceID]uint64
}

const cursorVersion = 1

// MaxCursorBytes bounds an encoded cursor accepted from a client.
const MaxCursorBytes = 1 << 20

// Encode returns the cursor as a URL-safe string: a version byte, then
// length-prefixed ids with varint sequences, sorted so that equal cursors
// encode equally.
func (c Cursor) Encode() string {
	b := []byte{cursorVersion}
	b = binary.AppendUvarint(b, uint64(len(c.Workspaces)))
	ws := make([]string, 0, len(c.Workspaces))
	for w := range c.Workspaces {
		ws = append(ws, string(w))
	}
	sort.Strings(ws)
	for _, w := range ws {
		b = appendStr(b, w)
		b = binary.AppendUvarint(b, c.Workspaces[WorkspaceID(w)])
	}
	b = binary.AppendUvarint(b, uint64(len(c.Channels)))
	cs := make([]string, 0, len(c.Channels))
	for ch := range c.Channels {
		cs = append(cs, string(ch))
	}
	sort.Strings(cs)
	for _, ch := range cs {
		m := c.Channels[ChannelID(ch)]
		b = appendStr(b, ch)
		b = binary.AppendUvarint(b, m.Seq)
		b = binary.AppendUvarint(b, uint64(m.Top))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ParseCursor decodes a cursor made by Encode.
func ParseCursor(s string) (Cursor, error) {
	bad := errs.E(errs.InvalidArgument, "malformed sync cursor")
	if len(s) > MaxCursorBytes {
		return Cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 || b[0] != cursorVersion {
		return Cursor{}, bad
	}
	b = b[1:]
	c := Cursor{Channels: map[ChannelID]Marker{}, Workspaces: map[WorkspaceID]uint64{}}
	var ok bool
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			ok = false
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if !ok || n > 128 || uint64(len(b)) < n {
			ok = false
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	ok = true
	nw := uv()
	for i := uint64(0); ok && i < nw; i++ {
		w := WorkspaceID(str())
		c.Workspaces[w] = uv()
		if !w.Valid() {
			ok = false
		}
	}
	nc := uv()
	for i := uint64(0); ok && i < nc; i++ {
		ch := ChannelID(str())
		seq := uv()
		top := uv()
		if !ch.Valid() || top > 1<<32-1 {
			ok = false
		}
		c.Channels[ch] = Marker{Seq: seq, Top: uint32(top)}
	}
	if !ok || len(b) != 0 {
		return Cursor{}, bad
	}
	return c, nil
}
