package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/metrics"
	"github.com/parleyhq/parley/internal/protocol"
)

// The fakes below stand in for the small interfaces the gateway declares,
// so the benchmark measures the gateway alone.

type benchVerifier struct{}

func (benchVerifier) Verify(tok string) (auth.Claims, error) {
	return auth.Claims{UserID: core.UserID(tok), SessionID: "sid", ExpiresAt: time.Now().Add(time.Hour)}, nil
}

type emptyLog struct{}

func (emptyLog) Read(context.Context, core.StreamID, uint64, int) ([]eventlog.Event, error) {
	return nil, nil
}
func (emptyLog) Bounds(context.Context, core.StreamID) (uint64, uint64, error) { return 0, 0, nil }

type captureBroker struct {
	mu  sync.Mutex
	fns map[core.StreamID]func([]byte)
}

type nopUnsub struct{}

func (nopUnsub) Unsubscribe() error { return nil }

func (b *captureBroker) SubscribeEvents(s core.StreamID, fn func([]byte)) (Unsubscriber, error) {
	b.mu.Lock()
	b.fns[s] = fn
	b.mu.Unlock()
	return nopUnsub{}, nil
}
func (b *captureBroker) SubscribeEphemeral(core.StreamID, func([]byte)) (Unsubscriber, error) {
	return nopUnsub{}, nil
}
func (b *captureBroker) SubscribeNode(core.NodeID, func([]byte)) (Unsubscriber, error) {
	return nopUnsub{}, nil
}

// BenchmarkFanout measures delivering one stream's events to N subscribers
// over real loopback TCP connections: the hub's ordering and queueing, the
// per-connection writes, and the clients' reads. It reports deliveries per
// second.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	br := &captureBroker{fns: map[core.StreamID]func([]byte){}}
	s := New(Options{Verifier: benchVerifier{}, Events: emptyLog{}, Broker: br, Metrics: metrics.New(), Config: Config{
		Node: "n1", MaxFrameBytes: 65536, RatePerSecond: 1000, RateBurst: 1000, MaxConnsPerUser: 1 << 20,
		AuthTimeout: 5 * time.Second, HeartbeatInterval: time.Minute, SendQueueFrames: 1 << 16, SendQueueBytes: 64 << 20,
		WriteTimeout: 10 * time.Second, MaxSubscriptions: 10, ResumeMaxEvents: 100, RecentEvents: 64,
	}})
	s.RegisterKind("topic", Kind{Authorize: func(context.Context, core.UserID, core.StreamID) error { return nil }})
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	defer s.Close()
	url := strings.Replace(srv.URL, "http://", "ws://", 1)
	var received atomic.Int64
	conns := make([]net.Conn, n)
	for i := range conns {
		nc, _, _, err := ws.Dial(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = nc
		send := func(p string) {
			_ = ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(p))))
		}
		send(fmt.Sprintf(`{"type":"auth","token":"u_%d"}`, i))
		send(`{"type":"req","id":1,"method":"subscribe","params":{"stream":"topic:bench"}}`)
		go func() {
			var hdr [ws.MaxHeaderSize]byte
			buf := make([]byte, 4096)
			for {
				h, err := ws.ReadHeaderBuffer(nc, hdr[:2:len(hdr)])
				if err != nil {
					return
				}
				if _, err := io.ReadFull(nc, buf[:h.Length]); err != nil {
					return
				}
				if h.Length > 20 && string(buf[9:14]) == "event" {
					received.Add(1)
				}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for s.m != nil && countSubs(s) < n {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d subscribed", countSubs(s), n)
		}
		time.Sleep(time.Millisecond)
	}
	br.mu.Lock()
	deliver := br.fns["topic:bench"]
	br.mu.Unlock()
	msgs := make([][]byte, b.N)
	for i := range msgs {
		ev := eventlog.Event{Stream: "topic:bench", Seq: uint64(i + 1), Type: "topic.published", Time: time.Now(), Actor: "u_1",
			Data: []byte(`{"event":"message","data":{"text":"hello, this is a typical chat message"}}`)}
		msgs[i] = protocol.PackBus(protocol.EncodeEvent(&ev))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range msgs {
		deliver(msgs[i])
	}
	want := int64(n) * int64(b.N)
	for received.Load() < want {
		if time.Since(start) > 60*time.Second {
			b.Fatalf("received %d of %d", received.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(want)/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(want), "ns/delivery")
}

func countSubs(s *Server) int {
	s.mu.Lock()
	h := s.hubs["topic:bench"]
	s.mu.Unlock()
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// BenchmarkEncodeEvent measures turning a logged event into its shared
// WebSocket frame (done once per event per node).
func BenchmarkEncodeEvent(b *testing.B) {
	ev := eventlog.Event{Stream: "room:r_01jbench", Seq: 12345, Type: "comment.posted", Time: time.Now(), Actor: "u_01jbench",
		Data: []byte(`{"id":"m_1","text":"hello, this is a typical chat message"}`)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = protocol.EncodeEvent(&ev)
	}
}
