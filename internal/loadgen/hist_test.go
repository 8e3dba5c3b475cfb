package loadgen

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// reference returns the value of rank ceil(q*n) of sorted values.
func reference(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func checkQuantiles(t *testing.T, h *Histogram, values []int64) {
	t.Helper()
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	if got := h.Count(); got != uint64(len(values)) {
		t.Fatalf("count = %d, want %d", got, len(values))
	}
	if h.Min() != time.Duration(sorted[0]) || h.Max() != time.Duration(sorted[len(sorted)-1]) {
		t.Fatalf("min/max = %v/%v, want %v/%v", h.Min(), h.Max(), time.Duration(sorted[0]), time.Duration(sorted[len(sorted)-1]))
	}
	for _, q := range []float64{0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1} {
		want := reference(sorted, q)
		got := int64(h.Quantile(q))
		if err := math.Abs(float64(got-want)) / float64(want); err > 0.01 {
			t.Errorf("q%v = %v, want %v within 1%% (off by %.2f%%)", q, time.Duration(got), time.Duration(want), err*100)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		// Log-uniform from 1 µs to 60 s: every decade the histogram covers.
		"log-uniform": func() int64 { return int64(math.Exp(math.Log(1e3) + r.Float64()*(math.Log(60e9)-math.Log(1e3)))) },
		// Typical delivery latencies: a body around 300 µs and a long tail.
		"lognormal": func() int64 { return int64(math.Exp(math.Log(300e3) + r.NormFloat64()*1.2)) },
		"narrow":    func() int64 { return 5_000_000 + r.Int64N(1000) },
	}
	for name, next := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			values := make([]int64, 200_000)
			for i := range values {
				v := max(next(), 1000)
				v = min(v, histMax)
				values[i] = v
				h.Record(time.Duration(v))
			}
			checkQuantiles(t, &h, values)
		})
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < histBuckets; i++ {
		lo, hi := histBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d] after %d", i, lo, hi, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] but index(lo)=%d index(hi)=%d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		if lo >= 1000 && float64(hi-lo+1)/float64(lo) > 0.01 {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1%%", i, lo, hi)
		}
		prevHi = hi
	}
	if prevHi != histMax {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, histMax)
	}
	if histIndex(histMax*10) != histBuckets-1 || histIndex(-5) != 0 {
		t.Fatal("out of range values are not clamped")
	}
}

func TestHistogramMergeAndJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var parts [4]Histogram
	var all []int64
	var wg sync.WaitGroup
	for p := range parts {
		vals := make([]int64, 50_000)
		for i := range vals {
			vals[i] = 1000 + r.Int64N(int64(p+1)*50_000_000)
		}
		all = append(all, vals...)
		wg.Add(1)
		go func() { // concurrent recording into one histogram per part
			defer wg.Done()
			var inner sync.WaitGroup
			for c := range 4 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for i := c; i < len(vals); i += 4 {
						parts[p].Record(time.Duration(vals[i]))
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	var merged Histogram
	for p := range parts {
		b, err := json.Marshal(&parts[p])
		if err != nil {
			t.Fatal(err)
		}
		var back Histogram
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		merged.Merge(&back)
	}
	checkQuantiles(t, &merged, all)
	var sum int64
	for _, v := range all {
		sum += v
	}
	if want := time.Duration(sum / int64(len(all))); merged.Mean() != want {
		t.Fatalf("mean = %v, want %v", merged.Mean(), want)
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram reports values")
	}
	var s shardedHist
	s.Record(3, time.Millisecond)
	s.Record(12, 2*time.Millisecond)
	if m := s.Merged(); m.Count() != 2 || m.Max() != 2*time.Millisecond {
		t.Fatalf("sharded merge: count %d max %v", m.Count(), m.Max())
	}
}
