package bus

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks run on the embedded server through the in-process
// connection, the default single-binary deployment:
//
//	go test -run '^$' -bench . -benchmem ./internal/bus/

func benchBus(b *testing.B) *Bus {
	b.Helper()
	return openBus(b, Config{StoreDir: b.TempDir(), Name: "bench"})
}

// BenchmarkPubSubRoundTrip publishes one 128-byte event and waits until
// the subscriber has it: the latency of one fan-out hop.
func BenchmarkPubSubRoundTrip(b *testing.B) {
	bus := benchBus(b)
	got := make(chan struct{}, 1)
	sub, err := bus.Subscribe("parley.bench.rt", func(string, []byte) { got <- struct{}{} })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := bus.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 128)
	for b.Loop() {
		if err := bus.Publish("parley.bench.rt", payload); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkPubSubThroughput publishes 128-byte events back to back and
// waits until the subscriber has them all: events per second through one
// subscription.
func BenchmarkPubSubThroughput(b *testing.B) {
	bus := benchBus(b)
	var n atomic.Int64
	done := make(chan struct{})
	want := int64(b.N)
	sub, err := bus.Subscribe("parley.bench.tp", func(string, []byte) {
		if n.Add(1) == want {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := bus.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 128)
	b.ResetTimer()
	for range b.N {
		if err := bus.Publish("parley.bench.tp", payload); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("received %d of %d", n.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRequestReply sends a 128-byte command and waits for the owner's
// reply: the cost of routing a command to a stream's owner.
func BenchmarkRequestReply(b *testing.B) {
	bus := benchBus(b)
	sub, err := bus.Handle("parley.bench.cmd", func(_ context.Context, data []byte) []byte { return data })
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := bus.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 128)
	ctx := context.Background()
	for b.Loop() {
		if _, err := bus.Request(ctx, "parley.bench.cmd", payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKVPutTTL writes a 64-byte value with a 30 s TTL and waits for
// the server's acknowledgement, one at a time and from parallel writers,
// with memory and file storage: the cost of a presence or lease heartbeat.
func BenchmarkKVPutTTL(b *testing.B) {
	for _, st := range []struct {
		name    string
		storage Storage
	}{{"memory", MemoryStorage}, {"file", FileStorage}} {
		for _, parallel := range []bool{false, true} {
			name := st.name
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				bus := benchBus(b)
				ctx := context.Background()
				kv, err := bus.KV(ctx, KVConfig{Name: "bench", Storage: st.storage, LimitMarkerTTL: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				value := make([]byte, 64)
				if !parallel {
					i := 0
					for b.Loop() {
						if _, err := kv.PutTTL(ctx, fmt.Sprintf("user.u%d", i%1000), value, 30*time.Second); err != nil {
							b.Fatal(err)
						}
						i++
					}
					return
				}
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := next.Add(1)
						if _, err := kv.PutTTL(ctx, fmt.Sprintf("user.u%d", i%1000), value, 30*time.Second); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
