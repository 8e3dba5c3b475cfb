package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear: values below 2^histSubBits nanoseconds have a
// bucket each; above, every power of two is cut into histSub equal buckets,
// so a bucket is at most 1/histSub (0.78%) of its values wide and its midpoint
// is within 0.4% of any value in it. Values up to histMax (about 68 s) are
// kept; larger ones count in the last bucket.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128 buckets per power of two
	histMaxBits = 36               // 2^36 ns is about 68.7 s
	histBuckets = (histMaxBits-histSubBits)*histSub + histSub
	histMax     = int64(1)<<histMaxBits - 1
)

// histIndex returns the bucket of v (nanoseconds, at least 0).
func histIndex(v int64) int {
	if v < 0 {
		v = 0
	}
	if v > histMax {
		v = histMax
	}
	shift := bits.Len64(uint64(v)) - (histSubBits + 1)
	if shift <= 0 {
		return int(v)
	}
	return shift*histSub + int(v>>uint(shift))
}

// histBounds returns the smallest and largest value of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < 2*histSub {
		return int64(i), int64(i)
	}
	shift := i/histSub - 1
	m := int64(i - shift*histSub)
	return m << uint(shift), (m+1)<<uint(shift) - 1
}

// Histogram records durations with about 1% precision from 1 µs to a
// minute, in a fixed array of counters. Record is lock-free and safe for
// concurrent use; histograms of several connections, shards or processes
// merge exactly by adding counts. The zero value is ready to use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64
	min    atomic.Int64 // stored as min+1 so that zero means unset
	max    atomic.Int64
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		cur := h.min.Load()
		if cur != 0 && cur-1 <= v || h.min.CompareAndSwap(cur, v+1) {
			break
		}
	}
	for {
		cur := h.max.Load()
		if cur >= v || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max returns the largest recorded value, or 0.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Min returns the smallest recorded value, or 0.
func (h *Histogram) Min() time.Duration {
	if m := h.min.Load(); m > 0 {
		return time.Duration(m - 1)
	}
	return 0
}

// Mean returns the average of the recorded values, or 0.
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / int64(n))
}

// Quantile returns the value below which a fraction q (0 to 1) of the
// recorded values fall: the midpoint of the bucket holding the value of rank
// ceil(q*count), kept within the recorded minimum and maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= n {
		return h.Max()
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := histBounds(i)
			v := lo + (hi-lo)/2
			return time.Duration(min(max(v, int64(h.Min())), int64(h.Max())))
		}
	}
	return h.Max()
}

// Merge adds the values of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n.Load() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.min.Load(); m != 0 {
		for {
			cur := h.min.Load()
			if cur != 0 && cur <= m || h.min.CompareAndSwap(cur, m) {
				break
			}
		}
	}
	if m := o.max.Load(); m != 0 {
		for {
			cur := h.max.Load()
			if cur >= m || h.max.CompareAndSwap(cur, m) {
				break
			}
		}
	}
}

// histJSON is the wire form of a Histogram: only the buckets in use, as
// [index, count] pairs, so that workers can send theirs to the parent.
type histJSON struct {
	Buckets [][2]uint64 `json:"buckets"`
	Sum     int64       `json:"sum"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
}

// MarshalJSON encodes the histogram sparsely.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	var j histJSON
	j.Buckets = [][2]uint64{}
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
		}
	}
	j.Sum, j.Min, j.Max = h.sum.Load(), h.min.Load(), h.max.Load()
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON wrote into an empty histogram.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var n uint64
	for _, p := range j.Buckets {
		if p[0] >= histBuckets {
			return fmt.Errorf("loadgen: histogram bucket %d out of range", p[0])
		}
		h.counts[p[0]].Store(p[1])
		n += p[1]
	}
	h.n.Store(n)
	h.sum.Store(j.Sum)
	h.min.Store(j.Min)
	h.max.Store(j.Max)
	return nil
}

// shardedHist spreads recording over several histograms so that thousands
// of connections recording at once do not all contend on the same counters.
// Each connection records into the shard of its index.
type shardedHist struct {
	shards [histShards]Histogram
}

const histShards = 8

// Record adds d to the shard of key.
func (s *shardedHist) Record(key int, d time.Duration) { s.shards[key%histShards].Record(d) }

// Merged returns one histogram holding every shard's values.
func (s *shardedHist) Merged() *Histogram {
	var h Histogram
	for i := range s.shards {
		h.Merge(&s.shards[i])
	}
	return &h
}
