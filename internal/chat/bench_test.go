package chat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// The benchmarks of the chat domain's per-message and per-request paths:
//
//	go test -run '^$' -bench . -benchtime=2s ./internal/chat/
//
// BenchmarkAutocomplete50k also reports the p50/p99 latency of one lookup
// in a workspace of 50,000 members.

// names makes a pseudo-random first and last name.
var syllables = []string{"an", "be", "ca", "do", "el", "fa", "gi", "ho", "ir", "ja", "ka", "lo", "mi", "no", "or", "pa", "qu", "ra", "si", "to", "ul", "vi", "wa", "xe", "ya", "zo"}

func fakeName(r *rand.Rand) string {
	w := func() string {
		s := ""
		for i := 0; i < 2+r.IntN(2); i++ {
			s += syllables[r.IntN(len(syllables))]
		}
		return s
	}
	return w() + " " + w()
}

// bigView returns a view of one workspace with members people, all in one
// channel.
func bigView(tb testing.TB, members int) (*View, WorkspaceID, ChannelID) {
	tb.Helper()
	v := NewView(0)
	ws, ch := WorkspaceID("w1"), ChannelID("c1")
	r := rand.New(rand.NewPCG(1, 2))
	seq := uint64(0)
	apply := func(s core.StreamID, typ string, data any) {
		raw, _ := json.Marshal(data)
		if s == ws.Stream() {
			seq++
		}
		ev := eventlog.Event{Stream: s, Type: typ, Data: raw, Time: time.Unix(1, 0)}
		ev.Seq = v.Seq(s) + 1
		if _, gap := v.Apply(&ev); gap {
			tb.Fatal("gap")
		}
	}
	apply(ws.Stream(), EvWorkspaceCreated, WorkspaceCreated{Workspace: ws, Name: "big"})
	apply(ch.Stream(), EvChannelOpened, ChannelOpened{Workspace: ws, Kind: Public, Name: "general"})
	for i := 0; i < members; i++ {
		u := core.UserID(fmt.Sprintf("u%06d", i))
		name := fakeName(r)
		p := Profile{Handle: fmt.Sprintf("%s%d", name[:3], i), DisplayName: name}
		apply(ws.Stream(), EvMemberJoined, MemberJoined{User: u, Role: RoleMember, Profile: &p})
		apply(ch.Stream(), EvMemberJoined, MemberJoined{User: u})
	}
	return v, ws, ch
}

func BenchmarkAutocomplete50k(b *testing.B) {
	v, ws, ch := bigView(b, 50000)
	// Prefixes of 1-4 letters of members' names and handles, as typed.
	r := rand.New(rand.NewPCG(3, 4))
	names := rand.New(rand.NewPCG(1, 2))
	prefixes := make([]string, 4096)
	for i := range prefixes {
		name := fakeName(names)
		prefixes[i] = name[:1+r.IntN(4)]
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out, err := v.Autocomplete("u000001", ws, ch, prefixes[i%len(prefixes)], 10)
		lat = append(lat, time.Since(start))
		if err != nil || len(out) == 0 {
			b.Fatalf("%q: %d %v", prefixes[i%len(prefixes)], len(out), err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(p(0.5), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// BenchmarkChannelDecidePost is the writer's work per post in a channel
// with 1,000 members and 10,000 messages: decide and apply.
func BenchmarkChannelDecidePost(b *testing.B) {
	c := NewChannel(DefaultLimits())("channel:c1").(*Channel)
	ev := eventlog.Event{Stream: "channel:c1", Seq: 1, Type: EvChannelOpened, Data: []byte(`{"workspace":"w1","kind":"public","name":"g"}`)}
	c.Apply(&ev)
	for i := 0; i < 1000; i++ {
		ev.Seq++
		ev.Type, ev.Data = EvMemberJoined, []byte(fmt.Sprintf(`{"user":"u%d"}`, i))
		c.Apply(&ev)
	}
	data, _ := json.Marshal(PostMessage{MessagePosted: MessagePosted{Text: "hello there, how are things going today?", Mentions: []core.UserID{"u7"}}})
	cmd := actor.Command{Name: CmdPost, Actor: "u1", Data: data, Time: time.Unix(1, 0)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := c.Decide(&cmd)
		if err != nil {
			b.Fatal(err)
		}
		ev.Seq++
		ev.Type, ev.Data, ev.Actor = d.Events[0].Type, d.Events[0].Data, "u1"
		c.Apply(&ev)
	}
}

// BenchmarkViewApplyPost is every node's View work per post in a channel
// with 1,000 members.
func BenchmarkViewApplyPost(b *testing.B) {
	v, _, ch := bigView(b, 1000)
	data, _ := json.Marshal(MessagePosted{Text: "hello", Top: 1})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := eventlog.Event{Stream: ch.Stream(), Seq: v.Seq(ch.Stream()) + 1, Type: EvMessagePosted, Actor: "u000001", Data: data}
		var p MessagePosted
		_ = json.Unmarshal(data, &p)
		if _, gap := v.Apply(&ev); gap {
			b.Fatal("gap")
		}
	}
}

// BenchmarkBootCached is a boot served from the cache; BenchmarkBootBuild
// rebuilds it each time (a user in 50 channels of a 10,000-member
// workspace).
func BenchmarkBootCached(b *testing.B) { benchBoot(b, true) }
func BenchmarkBootBuild(b *testing.B)  { benchBoot(b, false) }

func benchBoot(b *testing.B, cached bool) {
	v, ws, _ := bigView(b, 10000)
	for i := 0; i < 50; i++ {
		ch := ChannelID(fmt.Sprintf("c_x%d", i))
		for _, e := range []struct {
			typ  string
			data any
		}{{EvChannelOpened, ChannelOpened{Workspace: ws, Kind: Public, Name: fmt.Sprint("x", i)}}, {EvMemberJoined, MemberJoined{User: "u000001"}}} {
			raw, _ := json.Marshal(e.data)
			ev := eventlog.Event{Stream: ch.Stream(), Seq: v.Seq(ch.Stream()) + 1, Type: e.typ, Data: raw}
			v.Apply(&ev)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !cached {
			v.mu.Lock()
			delete(v.boots, "u000001")
			v.mu.Unlock()
		}
		if _, _, err := v.BootJSON("u000001", ws, 50); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMentions(b *testing.B) {
	text := "hey @ann.smith and @bob, can you look at this before @here standup? mail me at x@example.com"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ParseMentions(text)
	}
}
