package chattest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// The read-model benchmarks every adapter runs:
//
//	go test -run '^$' -bench BenchmarkChatProject -benchtime=20000x ./internal/sqlite/ ./internal/postgres/
//	go test -run '^$' -bench BenchmarkChatSearch -benchtime=1x -timeout 2h ./internal/sqlite/ ./internal/postgres/
//
// BenchmarkChatSearch builds a corpus of PARLEY_BENCH_SEARCH_MESSAGES
// messages (1,000,000 by default) by projecting generated events in bulk,
// then runs 1,000 searches (whatever b.N is: run it with -benchtime=1x)
// over half of its 100 channels and reports the p50 and p99 latency of
// one search.

// vocabulary is a deterministic list of pronounceable words; word i is
// used with a frequency proportional to 1/(i+1) (Zipf), as in text.
var vocabulary = func() []string {
	cons, vows := "bcdfghjklmnprstvwz", "aeiou"
	seen := map[string]bool{}
	r := rand.New(rand.NewPCG(7, 7))
	var out []string
	for len(out) < 20000 {
		n := 2 + r.IntN(3)
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(cons[r.IntN(len(cons))])
			b.WriteByte(vows[r.IntN(len(vows))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}()

// zipf draws word ranks with exponent 1 over the vocabulary.
type zipf struct {
	r   *rand.Rand
	cdf []float64
}

func newZipf(seed uint64) *zipf {
	z := &zipf{r: rand.New(rand.NewPCG(seed, seed+1)), cdf: make([]float64, len(vocabulary))}
	sum := 0.0
	for i := range z.cdf {
		sum += 1 / float64(i+1)
		z.cdf[i] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
	return z
}

func (z *zipf) word() string {
	return vocabulary[sort.SearchFloat64s(z.cdf, z.r.Float64())]
}

// BenchChannels is the number of channels of the benchmark corpus.
const BenchChannels = 100

// CorpusEvents calls fn with batches of the events of a corpus of n
// messages over BenchChannels channels of workspace w_bench: each batch
// holds consecutive events of one channel.
func CorpusEvents(n int, batch int, fn func([]eventlog.Event) error) error {
	z := newZipf(11)
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	seqs := make([]uint64, BenchChannels)
	tops := make([]uint32, BenchChannels)
	var evs []eventlog.Event
	flush := func() error {
		if len(evs) == 0 {
			return nil
		}
		err := fn(evs)
		evs = nil
		return err
	}
	for c := 0; c < BenchChannels; c++ {
		st := BenchChannel(c).Stream()
		seqs[c] = 2
		opened, _ := json.Marshal(chat.ChannelOpened{Workspace: "w_bench", Kind: chat.Public, Name: fmt.Sprint("c", c)})
		joined, _ := json.Marshal(chat.MemberJoined{User: "u_bench"})
		evs = append(evs,
			eventlog.Event{Stream: st, Seq: 1, Type: chat.EvChannelOpened, Time: start, Actor: "u_bench", Data: opened},
			eventlog.Event{Stream: st, Seq: 2, Type: chat.EvMemberJoined, Time: start, Actor: "u_bench", Data: joined})
		if err := flush(); err != nil {
			return err
		}
	}
	per := max(1, batch)
	for done := 0; done < n; {
		c := (done / per) % BenchChannels
		st := BenchChannel(c).Stream()
		for k := 0; k < per && done < n; k++ {
			words := make([]string, 6+z.r.IntN(15))
			for i := range words {
				words[i] = z.word()
			}
			seqs[c]++
			tops[c]++
			data, _ := json.Marshal(chat.MessagePosted{ID: chat.MessageIDOf(tops[c]), Top: tops[c], Text: strings.Join(words, " ")})
			at := start.Add(time.Duration(done) * time.Second)
			evs = append(evs, eventlog.Event{Stream: st, Seq: seqs[c], Type: chat.EvMessagePosted, Time: at,
				Actor: core.UserID(fmt.Sprintf("u_%d", done%500)), Data: data})
			done++
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return flush()
}

// BenchChannel is the id of the benchmark corpus's channel c.
func BenchChannel(c int) chat.ChannelID { return chat.ChannelID(fmt.Sprintf("c_bench%03d", c)) }

// BenchProject measures projecting new messages, in batches of 128 over
// the corpus's channels.
func BenchProject(b *testing.B, st chat.Projector) {
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	err := CorpusEvents(b.N, 128, func(evs []eventlog.Event) error {
		_, err := st.ApplyBatch(context.Background(), evs)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "messages/s")
}

// BenchSearch builds the corpus into st and measures 1,000 searches.
func BenchSearch(b *testing.B, st chat.Store) {
	n := 1_000_000
	if s := os.Getenv("PARLEY_BENCH_SEARCH_MESSAGES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("PARLEY_BENCH_SEARCH_MESSAGES=%q: want a number >= 1000", s)
		}
		n = v
	}
	ctx := context.Background()
	{
		start := time.Now()
		err := CorpusEvents(n, 2000, func(evs []eventlog.Event) error {
			_, err := st.ApplyBatch(ctx, evs)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("corpus of %d messages projected in %s (%.0f messages/s)", n, time.Since(start).Round(time.Second), float64(n)/time.Since(start).Seconds())
		if a, ok := st.(interface{ Analyze(context.Context) error }); ok {
			if err := a.Analyze(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	var scope []chat.ChannelID
	for c := 0; c < BenchChannels; c += 2 {
		scope = append(scope, BenchChannel(c))
	}
	// Queries: one word of any frequency (log-uniform rank), two words, a
	// phrase of two frequent words, and a word with from: and after:.
	r := rand.New(rand.NewPCG(5, 6))
	word := func() string {
		return vocabulary[int(math.Exp(r.Float64()*math.Log(float64(len(vocabulary)))))-1]
	}
	reqs := make([]chat.SearchRequest, 1000)
	for i := range reqs {
		q := chat.SearchRequest{Channels: scope, Limit: 20}
		switch i % 5 {
		case 0, 1:
			q.Terms = []string{word()}
		case 2:
			q.Terms = []string{word(), word()}
		case 3:
			q.Phrases = [][]string{{vocabulary[r.IntN(50)], vocabulary[r.IntN(50)]}}
		case 4:
			q.Terms, q.Author = []string{word()}, core.UserID(fmt.Sprintf("u_%d", r.IntN(500)))
			q.After = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(n)) * time.Second)
		}
		reqs[i] = q
	}
	lat := make([]time.Duration, 0, len(reqs))
	hits := 0
	b.ResetTimer()
	for i := range reqs {
		start := time.Now()
		res, err := st.Search(ctx, reqs[i])
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		hits += len(res.Hits)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(hits)/float64(len(reqs)), "hits/search")
}
