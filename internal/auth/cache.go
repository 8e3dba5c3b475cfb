package auth

import (
	"sync"
	"sync/atomic"
	"time"
)

const cacheShards = 32

// tokenCache remembers the claims of access tokens whose signature and claims
// were verified, keyed by the SHA-256 of the whole token, so that a token is
// never accepted from the cache unless it is byte for byte one that was
// verified. Entries are only an optimisation: callers still check expiry and
// revocation on every hit. Memory is bounded: each of 32 shards holds at most
// size/32 entries; a full shard first drops its expired entries, then a
// random eighth of the others. It is safe for concurrent use.
type tokenCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]Claims
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{perShard: max(8, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]Claims)
	}
	return c
}

func (c *tokenCache) get(key *[32]byte) (Claims, bool) {
	sh := &c.shards[key[0]%cacheShards]
	sh.mu.RLock()
	cl, ok := sh.m[*key]
	sh.mu.RUnlock()
	return cl, ok
}

func (c *tokenCache) put(key *[32]byte, cl Claims, now time.Time) {
	sh := &c.shards[key[0]%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[*key]; !ok && len(sh.m) >= c.perShard {
		for k, v := range sh.m {
			if !now.Before(v.ExpiresAt) {
				delete(sh.m, k)
			}
		}
		if n := len(sh.m) - c.perShard*7/8; n > 0 {
			for k := range sh.m { // map order is random
				delete(sh.m, k)
				if n--; n == 0 {
					break
				}
			}
		}
	}
	sh.m[*key] = cl
}

// len returns the number of entries.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// revokedSet holds the ids of revoked sessions until their access tokens
// would have expired. Lookups cost one atomic load while the set is empty,
// the common case. It is safe for concurrent use.
type revokedSet struct {
	n         atomic.Int64
	mu        sync.RWMutex
	until     map[string]time.Time
	nextSweep int
}

func newRevokedSet() *revokedSet {
	return &revokedSet{until: make(map[string]time.Time), nextSweep: 1024}
}

func (r *revokedSet) add(sid string, until, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u, ok := r.until[sid]; ok && u.After(until) {
		return
	}
	r.until[sid] = until
	if len(r.until) >= r.nextSweep {
		r.sweepLocked(now)
		r.nextSweep = max(1024, 2*len(r.until))
	}
	r.n.Store(int64(len(r.until)))
}

func (r *revokedSet) has(sid string, now time.Time) bool {
	if r.n.Load() == 0 {
		return false
	}
	r.mu.RLock()
	u, ok := r.until[sid]
	r.mu.RUnlock()
	return ok && now.Before(u)
}

func (r *revokedSet) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
	r.n.Store(int64(len(r.until)))
}

func (r *revokedSet) sweepLocked(now time.Time) {
	for sid, u := range r.until {
		if !now.Before(u) {
			delete(r.until, sid)
		}
	}
}
