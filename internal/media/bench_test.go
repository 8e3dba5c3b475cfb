package media_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"

	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/media"
)

// BenchmarkForwardPacket measures the forwarding path of one packet of a
// speaker to N listeners connected over loopback: the policy check, the
// header rewrite, and for each listener SRTP encryption and a UDP write
// (the listeners, in this process, decrypt what they receive on the same
// cores). ns/op is per packet; ns/receiver-packet divides it by N.
//
//	go test -run XXX -bench ForwardPacket -benchmem ./internal/media/
func BenchmarkForwardPacket(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) { benchForward(b, n) })
	}
}

func benchForward(b *testing.B, n int) {
	srv := newServer(b, func(c *media.Config) { c.FanoutShard = 1000 })
	const sid = "room:bench"
	sp := join(b, srv, sid, "sp", media.Policy{CanSend: true}, cmedia.PeerOptions{Publish: true})
	ls := make([]*peer, n)
	for i := range ls {
		ls[i] = join(b, srv, sid, fmt.Sprintf("l%d", i), media.Policy{}, cmedia.PeerOptions{})
	}
	for _, l := range ls {
		waitFor(b, 30*time.Second, "listeners connected", func() bool { return received(l, "sp") > 0 })
	}
	sp.close() // the benchmark sends instead
	frames, err := cmedia.ToneFrames()
	if err != nil {
		b.Fatal(err)
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: 1}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i) * 960
		pkt.Payload = frames[i%len(frames)]
		pkt.Extension = false
		pkt.Extensions = pkt.Extensions[:0]
		_ = pkt.SetExtension(1, []byte{0x80 | 20})
		if !srv.Forward(sid, "sp", &pkt) {
			b.Fatal("not forwarded")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/receiver-packet")
}
