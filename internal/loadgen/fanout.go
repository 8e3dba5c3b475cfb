package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/core"
)

// fanout subscribes every load connection to one topic stream, and
// publishers (extra connections of the coordinating process) publish to it
// at a steady rate. Each message carries its send time, so every receiver
// measures its delivery latency.
type fanout struct {
	stream     string
	publishers []*client.Client
}

// publisherInFlight bounds the publish requests one publisher has waiting
// for an answer, so that a slow node slows publishing instead of piling up.
const publisherInFlight = 64

func (f *fanout) Prepare(ctx context.Context, env *Env) (Plan, error) {
	o := env.Options
	f.stream = o.Stream
	if f.stream == "" {
		f.stream = "topic:loadgen-" + env.Accounts.runID
	}
	if sid := core.StreamID(f.stream); sid.Validate() != nil || sid.Kind() != "topic" {
		return Plan{}, fmt.Errorf("--stream %q: want topic:<name> with a name of [A-Za-z0-9_-]", f.stream)
	}
	if o.PublishRate <= 0 || o.Publishers == 0 {
		return Plan{Stream: f.stream}, nil // receivers only
	}
	if o.Publishers < 0 {
		return Plan{}, fmt.Errorf("--publishers must not be negative")
	}
	per := o.PublishRate / float64(o.Publishers)
	if lim := env.Limits.RatePerSecond; lim > 0 && per > 0.8*lim {
		return Plan{}, fmt.Errorf("--publish-rate %.0f over %d publishers is %.1f messages/s per connection, above 80%% of the node's gateway.rate_per_second (%.0f): use more --publishers (at least %d)",
			o.PublishRate, o.Publishers, per, lim, int(o.PublishRate/(0.8*lim))+1)
	}
	// The publishers act as the owner, and as more accounts if they are
	// more than one account may connect.
	sessions := []*client.Session{env.Owner}
	if cpu := env.Limits.MaxConnsPerUser; cpu > 0 && o.Publishers > cpu {
		more, err := env.Accounts.signUp(ctx, (o.Publishers+cpu-1)/cpu-1)
		if err != nil {
			return Plan{}, fmt.Errorf("publisher accounts: %w", err)
		}
		for i := range more {
			sessions = append(sessions, client.NewSession(env.APIs.get(i), &more[i]))
		}
	}
	for j := 0; j < o.Publishers; j++ {
		c, err := env.Dial(ctx, sessions[j%len(sessions)], j)
		if err != nil {
			env.Errors.add("publisher", err)
			return Plan{}, fmt.Errorf("publisher %d: %w", j, err)
		}
		f.publishers = append(f.publishers, c)
	}
	return Plan{Stream: f.stream}, nil
}

func (f *fanout) Drive(ctx context.Context, env *Env, d time.Duration) (Outcome, error) {
	o := env.Options
	out := Outcome{Start: time.Now()}
	if len(f.publishers) == 0 {
		return idle{}.Drive(ctx, env, d)
	}
	var (
		maxSeq atomic.Uint64
		sent   atomic.Int64
		wg     sync.WaitGroup
	)
	pad := strings.Repeat("x", max(0, o.Payload-len(`{"lg_t":1700000000000000000,"lg_p":0,"lg_n":0,"pad":""}`)))
	end := out.Start.Add(d)
	p := len(f.publishers)
	for j, c := range f.publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.publish(ctx, env, c, j, p, out.Start, end, pad, &maxSeq, &sent)
		}()
	}
	wg.Wait()
	out.End = time.Now()
	out.Sent = sent.Load()
	out.Final = maxSeq.Load()
	return out, nil
}

// publish sends publisher j's share of the messages, message k at
// start + (k*p+j)/rate, until end.
func (f *fanout) publish(ctx context.Context, env *Env, c *client.Client, j, p int, start, end time.Time, pad string, maxSeq *atomic.Uint64, sent *atomic.Int64) {
	pace(ctx, start, end, env.Options.PublishRate, j, p, func(k int) {
		b := make([]byte, 0, 64+len(pad))
		b = append(b, `{"lg_t":`...)
		b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
		b = append(b, `,"lg_p":`...)
		b = strconv.AppendInt(b, int64(j), 10)
		b = append(b, `,"lg_n":`...)
		b = strconv.AppendInt(b, int64(k), 10)
		b = append(b, `,"pad":"`...)
		b = append(b, pad...)
		b = append(b, `"}`...)
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var res struct {
			Seq uint64 `json:"seq"`
		}
		params := struct {
			Stream string          `json:"stream"`
			Event  string          `json:"event"`
			Data   json.RawMessage `json:"data"`
		}{f.stream, "loadgen", b}
		if err := c.Request(rctx, "topic.publish", params, &res); err != nil {
			env.Errors.add("publish", err)
			return
		}
		sent.Add(1)
		env.Sent.Add(1)
		for {
			cur := maxSeq.Load()
			if cur >= res.Seq || maxSeq.CompareAndSwap(cur, res.Seq) {
				break
			}
		}
	})
}

func (f *fanout) Close() {
	for _, c := range f.publishers {
		_ = c.Close()
	}
}
