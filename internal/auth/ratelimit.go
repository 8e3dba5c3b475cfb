package auth

import (
	"hash/maphash"
	"sync"
	"time"
)

const limiterShards = 16

// limiter allows n events per window and key, with bursts of up to n. It is
// the generic cell rate algorithm: each key keeps one time, the theoretical
// arrival time (tat) of its next event, which every allowed event pushes
// window/n further; an event is refused while tat would be more than window
// ahead of now. A key whose tat is in the past holds no state worth keeping
// (it is as if it had never been seen): sweep drops those, and a full shard
// evicts the key closest to idle among a sample, so memory stays bounded by
// maxKeys. It is safe for concurrent use.
type limiter struct {
	step     time.Duration // window / n
	window   time.Duration
	perShard int
	seed     maphash.Seed
	shards   [limiterShards]limiterShard
}

type limiterShard struct {
	mu  sync.Mutex
	tat map[string]time.Time
}

func newLimiter(n int, window time.Duration, maxKeys int) *limiter {
	l := &limiter{
		step:     window / time.Duration(n),
		window:   window,
		perShard: max(1, maxKeys/limiterShards),
		seed:     maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]time.Time)
	}
	return l
}

// allow counts one event for key at now. If the event is over the limit it
// counts nothing and returns false and how long to wait before the next event
// would be allowed.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	sh := &l.shards[maphash.String(l.seed, key)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	tat, ok := sh.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	next := tat.Add(l.step)
	if ahead := next.Sub(now); ahead > l.window {
		return false, ahead - l.window
	}
	if !ok && len(sh.tat) >= l.perShard {
		sh.evict()
	}
	sh.tat[key] = next
	return true, 0
}

// evict makes room in a full shard in constant time: among a random sample
// of keys it drops the one closest to idle (an idle one if there is any).
// Maintain sweeps idle keys out regularly, so a full shard is one under
// attack, where forgetting the least limited key is the cheapest loss.
func (sh *limiterShard) evict() {
	var victim string
	var oldest time.Time
	i := 0
	for k, t := range sh.tat { // map order is random: a random sample
		if i == 0 || t.Before(oldest) {
			victim, oldest = k, t
		}
		if i++; i == 8 {
			break
		}
	}
	delete(sh.tat, victim)
}

// sweep drops idle keys.
func (l *limiter) sweep(now time.Time) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for k, t := range sh.tat {
			if !t.After(now) {
				delete(sh.tat, k)
			}
		}
		sh.mu.Unlock()
	}
}

// size returns the number of keys held.
func (l *limiter) size() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.tat)
		sh.mu.Unlock()
	}
	return n
}
