package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/media"
)

// BenchmarkMediaJoinToFirstAudio measures, for a Go client on loopback, the
// time from sending media.join to receiving the first RTP packet of the
// session's speaker: one join per iteration, over one WebSocket connection
// that stays up. It reports the p50 and p95 of the iterations.
//
//	go test -run XXX -bench MediaJoinToFirstAudio -benchtime 200x ./internal/app/
func BenchmarkMediaJoinToFirstAudio(b *testing.B) {
	rules := &stageRules{}
	// Each join is three requests; lift the per-connection rate limit.
	n := apptest.Start(b, apptest.WithConfig(func(c *config.Config) { c.Gateway.RatePerSecond = 1e6; c.Gateway.RateBurst = 1e6 }),
		func(m *app.Main) { m.RegisterMediaKind("stage", rules, true) })
	took := benchJoins(b, n, rules)
	p := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.95), "p95-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
}

func benchJoins(b *testing.B, n *apptest.Node, rules *stageRules) []time.Duration {
	const room = "stage:bench"
	sp := connect(b, n, "Speaker")
	rules.set(sp.u.ID, media.Policy{CanSend: true})
	sp.join(b, room, cmedia.PeerOptions{Publish: true})
	l := n.SignUp(b, "Joiner")
	mc := cmedia.NewClient()
	c := n.Dial(b, l, &client.Options{OnPush: func(p client.Push) { mc.OnPush(p) }})
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := mc.Join(ctx, c, room, cmedia.Options{PeerOptions: cmedia.PeerOptions{Loopback: true}})
		if err != nil {
			b.Fatal(err)
		}
		first, err := s.Peer().WaitFirstPacket(ctx, sp.u.ID)
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, first.Sub(s.JoinStart))
		if err := s.Leave(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	b.StopTimer()
	slices.Sort(took)
	return took
}
