package media

import (
	"bytes"
	"testing"
)

func TestToneFrames(t *testing.T) {
	frames, err := ToneFrames()
	if err != nil {
		t.Fatal(err)
	}
	// One second of 20 ms frames, and one more for the encoder's pre-skip.
	if len(frames) != 51 {
		t.Fatalf("%d frames, want 51", len(frames))
	}
	for i, f := range frames {
		// RFC 6716 TOC byte: frame count code 0 (one frame), and a
		// configuration whose frame size is 20 ms.
		toc := f[0]
		config := toc >> 3
		if toc&3 != 0 || len(f) < 2 {
			t.Fatalf("frame %d: TOC %08b, %d bytes", i, toc, len(f))
		}
		if size := config % 4; !(config >= 16 && size == 3) && !(config < 12 && size == 1) && !(config >= 12 && config < 16 && size == 1) {
			t.Fatalf("frame %d: configuration %d is not 20 ms", i, config)
		}
	}
}

func TestOggPackets(t *testing.T) {
	page := func(segments []byte, body []byte) []byte {
		h := make([]byte, 27)
		copy(h, "OggS")
		h[26] = byte(len(segments))
		return append(append(h, segments...), body...)
	}
	// A 300-byte packet spans two lacing values (255 + 45) and continues
	// nothing; a 2-byte packet follows.
	big := bytes.Repeat([]byte{7}, 300)
	b := page([]byte{255, 45, 2}, append(append([]byte{}, big...), 1, 2))
	pkts, err := OggPackets(b)
	if err != nil || len(pkts) != 2 || len(pkts[0]) != 300 || !bytes.Equal(pkts[1], []byte{1, 2}) {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
	for _, bad := range [][]byte{[]byte("OggX"), page([]byte{10}, []byte{1}), b[:30]} {
		if _, err := OggPackets(bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}
