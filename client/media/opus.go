package media

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// tone.opus is one second of a 440 Hz tone at -12 dBFS, encoded by
// gen_tone.sh (opusenc from opus-tools, 24 kbit/s, 20 ms frames): 51 Opus
// packets of 20 ms (one second and the encoder's pre-skip).
//
//go:embed tone.opus
var toneOgg []byte

var (
	toneOnce   sync.Once
	toneFrames [][]byte
	toneErr    error
)

// ToneFrames returns the Opus packets (20 ms each) of the embedded tone. The
// slices are shared: do not modify them.
func ToneFrames() ([][]byte, error) {
	toneOnce.Do(func() {
		var pkts [][]byte
		pkts, toneErr = OggPackets(toneOgg)
		if toneErr == nil && len(pkts) < 3 {
			toneErr = errors.New("media: tone has no audio packets")
		}
		if toneErr == nil {
			toneFrames = pkts[2:] // OpusHead and OpusTags come first
		}
	})
	return toneFrames, toneErr
}

// OggPackets splits an Ogg stream (RFC 3533) into its packets, in order.
// It reads one logical stream and does not check page checksums.
func OggPackets(b []byte) ([][]byte, error) {
	var (
		out     [][]byte
		partial []byte
	)
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			return nil, fmt.Errorf("media: bad Ogg page at %d bytes from the end", len(b))
		}
		nseg := int(b[26])
		if len(b) < 27+nseg {
			return nil, errors.New("media: truncated Ogg segment table")
		}
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		total := 0
		for _, l := range lacing {
			total += int(l)
		}
		if len(body) < total {
			return nil, errors.New("media: truncated Ogg page")
		}
		_ = binary.LittleEndian.Uint32(b[14:18]) // serial number: one stream expected
		off := 0
		for _, l := range lacing {
			partial = append(partial, body[off:off+int(l)]...)
			off += int(l)
			if l < 255 {
				out = append(out, partial)
				partial = nil
			}
		}
		b = body[total:]
	}
	return out, nil
}
