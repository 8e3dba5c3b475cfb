package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
)

// Load benchmarks of the chat domain over real WebSocket connections on
// loopback, clients and node in one process (so the figures include the
// clients' own work on the same cores):
//
//	go test -run '^$' -bench BenchmarkChatPostToDelivery -benchtime=1x -timeout 20m ./internal/app/
//	go test -run '^$' -bench BenchmarkChatBootStorm -benchtime=1x -timeout 20m ./internal/app/
//
// PARLEY_BENCH_MEMBERS, PARLEY_BENCH_RATE and PARLEY_BENCH_CLIENTS change
// the sizes (1,000 online members, 10 posts a second; 5,000 reconnecting
// clients).

func benchSize(b *testing.B, env string, def int) int {
	if s := os.Getenv(env); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("%s=%q", env, s)
		}
		return v
	}
	return def
}

// bulkBots adds count bot users to ws and #general through the writers
// and the store directly, and returns their tokens: distinct identities
// without signing up count accounts (Argon2 would take minutes here).
func bulkBots(b *testing.B, n *apptest.Node, owner string, ws workspace, count int) []string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tokens := make([]string, count)
	ids := make([]core.UserID, count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Value
	for i := 0; i < count; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			bot := core.UserID(fmt.Sprintf("b_bench%06d", i))
			ids[i] = bot
			data, _ := json.Marshal(chat.AddMember{User: bot, Role: chat.RoleMember, Profile: chat.Profile{Handle: fmt.Sprintf("bot%06d", i), DisplayName: fmt.Sprintf("Bot %d", i)}})
			if _, err := n.Actors().Do(ctx, core.StreamID("workspace:"+ws.ID), actor.Command{Name: chat.CmdBotCreate, Actor: core.UserID(owner), Data: data}); err != nil {
				failed.Store(err)
				return
			}
			secret := fmt.Sprintf("secret-%d", i)
			h := sha256.Sum256([]byte(secret))
			id := fmt.Sprintf("t_bench%06d", i)
			if err := n.ChatStore().PutBotToken(ctx, chat.BotToken{ID: id, Bot: bot, Workspace: chat.WorkspaceID(ws.ID), Hash: h[:], CreatedBy: core.UserID(owner), CreatedAt: time.Now().UTC()}); err != nil {
				failed.Store(err)
				return
			}
			tokens[i] = "pbt_" + id + "." + secret
		}(i)
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < count; i += 1000 {
		var ms []chat.ChannelMember
		for _, u := range ids[i:min(count, i+1000)] {
			ms = append(ms, chat.ChannelMember{User: u})
		}
		data, _ := json.Marshal(chat.ChannelUsers{As: chat.As{System: true}, Users: ms})
		if _, err := n.Actors().Do(ctx, core.StreamID("channel:"+ws.General), actor.Command{Name: chat.CmdChannelInvite, Actor: core.UserID(owner), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	if err := n.ChatCaughtUp(ctx); err != nil {
		b.Fatal(err)
	}
	return tokens
}

func benchConfig(c *config.Config) {
	c.Gateway.RatePerSecond = 1000
	c.Gateway.RateBurst = 2000
	c.Log.Level = "error"
}

// dialAll connects one client per token, spread over loopback addresses,
// with opts from mk.
func dialAll(b *testing.B, n *apptest.Node, tokens []string, mk func(i int) client.Options) []*client.Client {
	b.Helper()
	out := make([]*client.Client, len(tokens))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var failed atomic.Value
	for i, tok := range tokens {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, tok string) {
			defer wg.Done()
			defer func() { <-sem }()
			o := mk(i)
			o.URL, o.Token = n.URL(), client.StaticToken(tok)
			o.LocalAddr = fmt.Sprintf("127.0.0.%d", 2+i%8)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := client.Dial(ctx, o)
			if err != nil {
				failed.Store(err)
				return
			}
			out[i] = c
		}(i, tok)
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, c := range out {
			c.Close()
		}
	})
	return out
}

func percentiles(b *testing.B, lat []time.Duration, unit string) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	scale := float64(time.Millisecond)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / scale }
	b.ReportMetric(p(0.5), "p50-"+unit)
	b.ReportMetric(p(0.99), "p99-"+unit)
	b.ReportMetric(float64(lat[len(lat)-1])/scale, "max-"+unit)
	b.ReportMetric(float64(len(lat)), "samples")
}

// BenchmarkChatPostToDelivery posts 200 messages to #general at a steady
// rate while every member is online and subscribed, and measures, for each
// message and each member, the time from the poster's send to the event's
// arrival at the member's client.
func BenchmarkChatPostToDelivery(b *testing.B) {
	members := benchSize(b, "PARLEY_BENCH_MEMBERS", 1000)
	n := apptest.Start(b, apptest.WithConfig(benchConfig))
	ann := n.SignUp(b, "Ann")
	annC := n.Dial(b, ann, nil)
	var ws workspace
	var res struct {
		Workspace struct {
			ID string `json:"id"`
		} `json:"workspace"`
		General string `json:"general"`
	}
	apptest.Request(b, annC, "chat.workspace.create", map[string]any{"name": "Bench"}, &res)
	ws = workspace{ID: res.Workspace.ID, General: res.General}
	tokens := bulkBots(b, n, ann.ID, ws, members)

	const posts = 200
	var sent [posts]atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, posts*members)
	var got atomic.Int64
	marker := []byte(`bench-`)
	stream := "channel:" + ws.General
	clients := dialAll(b, n, tokens, func(int) client.Options {
		return client.Options{OnEvent: func(e client.Event) {
			now := time.Now().UnixNano()
			if e.Type != chat.EvMessagePosted {
				return
			}
			i := bytes.Index(e.Data, marker)
			if i < 0 {
				return
			}
			j := i + len(marker)
			k := j
			for k < len(e.Data) && e.Data[k] >= '0' && e.Data[k] <= '9' {
				k++
			}
			idx, _ := strconv.Atoi(string(e.Data[j:k]))
			d := time.Duration(now - sent[idx].Load())
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
			got.Add(1)
		}}
	})
	for _, c := range clients {
		if _, err := c.Subscribe(context.Background(), stream, nil); err != nil {
			b.Fatal(err)
		}
	}
	rate := benchSize(b, "PARLEY_BENCH_RATE", 10) // posts a second
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := 0; i < posts; i++ {
		<-tick.C
		sent[i].Store(time.Now().UnixNano())
		var pr postResult
		if err := annC.Request(context.Background(), "chat.post", map[string]any{"channel": ws.General, "text": fmt.Sprintf("bench-%d hello everyone", i)}, &pr); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for got.Load() < int64(posts*members) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	if got.Load() != int64(posts*members) {
		b.Fatalf("%d of %d deliveries", got.Load(), posts*members)
	}
	b.ReportMetric(float64(posts*members)/took.Seconds(), "deliveries/s")
	b.ReportMetric(histP99(b, n, "parley_bus_delivery_seconds", "")*1000, "commit-to-fanout-p99-ms")
	mu.Lock()
	percentiles(b, lat, "ms")
	mu.Unlock()
}

// BenchmarkChatBootStorm connects clients (distinct bot users in a
// workspace of that many members), boots each once, then drops every
// connection at once: each client reconnects (full-jitter backoff up to
// 250 ms) and boots again. It reports the boot latency percentiles during
// the storm and how long the whole storm took.
func BenchmarkChatBootStorm(b *testing.B) {
	count := benchSize(b, "PARLEY_BENCH_CLIENTS", 5000)
	n := apptest.Start(b, apptest.WithConfig(benchConfig), apptest.WithConfig(func(c *config.Config) {
		c.Gateway.HeartbeatInterval = time.Minute
	}))
	ann := n.SignUp(b, "Ann")
	annC := n.Dial(b, ann, nil)
	var res struct {
		Workspace struct {
			ID string `json:"id"`
		} `json:"workspace"`
		General string `json:"general"`
	}
	apptest.Request(b, annC, "chat.workspace.create", map[string]any{"name": "Bench"}, &res)
	ws := workspace{ID: res.Workspace.ID, General: res.General}
	for i := 0; i < 10; i++ { // a few more channels with traffic in everyone's boot
		var ch struct {
			ID string `json:"id"`
		}
		apptest.Request(b, annC, "chat.channel.create", map[string]any{"workspace": ws.ID, "name": fmt.Sprint("team-", i)}, &ch)
		apptest.Request(b, annC, "chat.post", map[string]any{"channel": ch.ID, "text": "hello"}, nil)
	}
	tokens := bulkBots(b, n, ann.ID, ws, count)
	apptest.Request(b, annC, "chat.post", map[string]any{"channel": ws.General, "text": "welcome, bots"}, nil)

	var storm atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	var booted atomic.Int64
	var clients []*client.Client
	boot := func(c *client.Client) {
		start := time.Now()
		var raw json.RawMessage
		if err := c.Request(context.Background(), "chat.boot", map[string]any{"workspace": ws.ID}, &raw); err != nil {
			return
		}
		d := time.Since(start)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		booted.Add(1)
	}
	clients = dialAll(b, n, tokens, func(i int) client.Options {
		return client.Options{BackoffMin: 250 * time.Millisecond, BackoffMax: 250 * time.Millisecond, OnState: func(up bool, _ error) {
			if up && storm.Load() {
				go boot(clients[i])
			}
		}}
	})
	for _, c := range clients { // the first boot of each user warms its cache entry
		boot(c)
	}
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	booted.Store(0)
	hitsBefore := n.ChatView().BootCacheHits()
	b.ResetTimer()
	storm.Store(true)
	start := time.Now()
	for _, c := range clients {
		c.Drop()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for booted.Load() < int64(count) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	if booted.Load() < int64(count) {
		b.Fatalf("%d of %d clients booted again", booted.Load(), count)
	}
	b.ReportMetric(took.Seconds(), "storm-s")
	b.ReportMetric(float64(n.ChatView().BootCacheHits()-hitsBefore)/float64(count), "cache-hit-ratio")
	b.ReportMetric(histP99(b, n, "parley_gateway_request_seconds", "chat.boot")*1000, "server-p99-ms")
	mu.Lock()
	percentiles(b, lat, "ms")
	mu.Unlock()
}

// histP99 returns the upper bound of the bucket holding the 99th
// percentile of a histogram of the node (with a method label equal to
// method, if set), in seconds.
func histP99(b *testing.B, n *apptest.Node, name, method string) float64 {
	fams, err := n.Metrics().Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := method == ""
			for _, l := range m.GetLabel() {
				match = match || l.GetName() == "method" && l.GetValue() == method
			}
			{
				if match {
					h := m.GetHistogram()
					total := float64(h.GetSampleCount())
					for _, bk := range h.GetBucket() {
						if float64(bk.GetCumulativeCount()) >= 0.99*total {
							return bk.GetUpperBound()
						}
					}
				}
			}
		}
	}
	return -1
}
