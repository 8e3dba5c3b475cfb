package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/client"
)

// RoomOptions are the flags of the room scenario.
type RoomOptions struct {
	Speakers     int
	CommentRate  float64
	Commenters   int
	ReactionRate float64
	Reactors     int
}

// roomFlags declares the room scenario's flags.
func roomFlags(fs *flag.FlagSet, o *RoomOptions) {
	fs.IntVar(&o.Speakers, "room-speakers", 10, "room: speakers on the stage (extra accounts, joined and invited by the host)")
	fs.Float64Var(&o.CommentRate, "room-comment-rate", 20, "room: comments per second, over all commenters")
	fs.IntVar(&o.Commenters, "room-commenters", 25, "room: commenting participants (keep rate/commenters under the node's rooms.comment_rate)")
	fs.Float64Var(&o.ReactionRate, "room-reaction-rate", 1000, "room: reactions per second, over all reactors")
	fs.IntVar(&o.Reactors, "room-reactors", 100, "room: reacting participants (keep rate/reactors under the node's rooms.reaction_rate)")
}

// roomEmoji are reactions every node accepts by default (rooms.reactions).
var roomEmoji = []string{"👏", "❤️", "🔥", "😂"}

// room is the live-room scenario: one room on the node, every load
// connection joins it as a listener and follows its stream; the host,
// speakers on the stage, commenters and reactors are extra connections of
// this process. Comments carry their send time, so every listener measures
// their delivery; every listener checks the stream's sequence, so a lost
// or duplicated comment (or any event) fails the run. At the end the
// room's reaction totals must equal the reactions sent.
type room struct {
	id         string
	host       *client.Client
	others     []*client.Client
	commenters []*client.Client
	reactors   []*client.Client
	reactions  atomic.Int64
}

func (s *room) Prepare(ctx context.Context, env *Env) (Plan, error) {
	o := env.Options.Room
	if o.Commenters < 1 || o.Reactors < 0 || o.Speakers < 0 || o.CommentRate <= 0 || o.ReactionRate < 0 {
		return Plan{}, fmt.Errorf("room: need --room-commenters >= 1, --room-comment-rate > 0 and no negative counts")
	}
	host, err := env.Dial(ctx, env.Owner, 0)
	if err != nil {
		return Plan{}, fmt.Errorf("room host: %w", err)
	}
	s.host = host
	var created struct {
		Room string `json:"room"`
	}
	if err := host.Request(ctx, "room.create", map[string]any{"title": "loadgen " + env.Accounts.runID, "topics": []string{"load"}}, &created); err != nil {
		return Plan{}, fmt.Errorf("room.create: %w", err)
	}
	s.id = created.Room
	if err := s.join(ctx, host); err != nil {
		return Plan{}, err
	}
	n := o.Speakers + o.Commenters + o.Reactors
	toks, err := env.Accounts.signUp(ctx, n)
	if err != nil {
		return Plan{}, fmt.Errorf("room participants: %w", err)
	}
	for i := range toks {
		c, err := env.Dial(ctx, client.NewSession(env.APIs.get(i), &toks[i]), i+1)
		if err != nil {
			return Plan{}, fmt.Errorf("room participant %d: %w", i, err)
		}
		s.others = append(s.others, c)
		if err := s.join(ctx, c); err != nil {
			return Plan{}, err
		}
		switch {
		case i < o.Speakers:
			if err := host.Request(ctx, "room.role", map[string]any{"room": s.id, "user": toks[i].User.ID, "role": "speaker"}, nil); err != nil {
				return Plan{}, fmt.Errorf("room.role: %w", err)
			}
		case i < o.Speakers+o.Commenters:
			s.commenters = append(s.commenters, c)
		default:
			s.reactors = append(s.reactors, c)
		}
	}
	params, _ := json.Marshal(map[string]string{"room": s.id})
	return Plan{Calls: []Call{{Method: "room.join", Params: params}}, Stream: "room:" + s.id}, nil
}

// join joins the room and watches its stream (a participant counts while
// one of their connections watches).
func (s *room) join(ctx context.Context, c *client.Client) error {
	if err := c.Request(ctx, "room.join", map[string]string{"room": s.id}, nil); err != nil {
		return fmt.Errorf("room.join: %w", err)
	}
	if _, err := c.Subscribe(ctx, "room:"+s.id, nil); err != nil {
		return fmt.Errorf("subscribe to the room: %w", err)
	}
	return nil
}

func (s *room) Drive(ctx context.Context, env *Env, d time.Duration) (Outcome, error) {
	o := env.Options.Room
	out := Outcome{Start: time.Now()}
	cpu0, cpuErr := nodeCPU(ctx, env.Options.MetricsURL)
	end := out.Start.Add(d)
	var (
		maxSeq atomic.Uint64
		sent   atomic.Int64
		wg     sync.WaitGroup
	)
	for j, c := range s.commenters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pace(ctx, out.Start, end, o.CommentRate, j, len(s.commenters), func(k int) {
				b := make([]byte, 0, 96)
				b = append(b, `{"lg_t":`...)
				b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
				b = append(b, `,"lg_p":`...)
				b = strconv.AppendInt(b, int64(j), 10)
				b = append(b, `,"lg_n":`...)
				b = strconv.AppendInt(b, int64(k), 10)
				b = append(b, '}')
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				var res struct {
					Seq uint64 `json:"seq"`
				}
				err := c.Request(rctx, "room.comment", map[string]any{"room": s.id, "text": fmt.Sprintf("comment %d/%d", j, k), "meta": json.RawMessage(b)}, &res)
				if err != nil {
					env.Errors.add("comment", err)
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
		}()
	}
	if o.ReactionRate > 0 {
		for j, c := range s.reactors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pace(ctx, out.Start, end, o.ReactionRate, j, len(s.reactors), func(k int) {
					rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					if err := c.Request(rctx, "room.react", map[string]any{"room": s.id, "emoji": roomEmoji[(j+k)%len(roomEmoji)]}, nil); err != nil {
						env.Errors.add("react", err)
						return
					}
					s.reactions.Add(1)
				})
			}()
		}
	}
	wg.Wait()
	out.End = time.Now()
	out.Sent, out.Final = sent.Load(), maxSeq.Load()
	if cpu1, err := nodeCPU(ctx, env.Options.MetricsURL); err == nil && cpuErr == nil {
		fmt.Fprintf(env.Notes, "room: node CPU %.0f%% of one core during the traffic (%.1f s over %.1f s)\n",
			100*(cpu1-cpu0)/out.End.Sub(out.Start).Seconds(), cpu1-cpu0, out.End.Sub(out.Start).Seconds())
	}
	s.checkReactions(ctx, env)
	return out, nil
}

// checkReactions waits for the room's totals to settle (they are logged
// per tick) and compares them with the reactions the node accepted.
func (s *room) checkReactions(ctx context.Context, env *Env) {
	want := s.reactions.Load()
	var got int64
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var snap struct {
			Reactions map[string]int64 `json:"reactions"`
		}
		if err := s.host.Request(ctx, "room.get", map[string]string{"room": s.id}, &snap); err != nil {
			env.Errors.add("room.get", err)
			return
		}
		got = 0
		for _, n := range snap.Reactions {
			got += n
		}
		if got == want {
			fmt.Fprintf(env.Notes, "room: %d reactions sent, room totals %d: exact\n", want, got)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	env.Errors.addKey("reactions:mismatch", 1, fmt.Sprintf("sent %d reactions, the room counted %d", want, got))
}

func (s *room) Close() {
	if s.host != nil && s.id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.host.Request(ctx, "room.end", map[string]string{"room": s.id}, nil)
		cancel()
	}
	for _, c := range append(s.others, s.host) {
		if c != nil {
			_ = c.Close()
		}
	}
}

// pace calls fn(k) for sender j of p at start + (k*p+j)/rate until end, at
// most publisherInFlight calls at a time.
func pace(ctx context.Context, start, end time.Time, rate float64, j, p int, fn func(k int)) {
	sem := make(chan struct{}, publisherInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := 0; ; k++ {
		due := start.Add(time.Duration(float64(k*p+j) / rate * float64(time.Second)))
		if !due.Before(end) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			defer func() { <-sem }()
			fn(k)
		}(k)
	}
}

// nodeCPU reads the node's process_cpu_seconds_total.
func nodeCPU(ctx context.Context, url string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no process_cpu_seconds_total at %s", url)
}
