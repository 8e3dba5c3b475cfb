package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/errs"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLimiterAllowsNPerWindow(t *testing.T) {
	l := newLimiter(3, time.Minute, 1000)
	now := epoch
	for i := range 3 {
		if ok, _ := l.allow("k", now); !ok {
			t.Fatalf("event %d refused", i+1)
		}
	}
	ok, wait := l.allow("k", now)
	if ok || wait != 20*time.Second {
		t.Fatalf("fourth event: ok=%v wait=%v, want refused for 20s", ok, wait)
	}
	// A refused event does not count.
	if ok, wait := l.allow("k", now.Add(5*time.Second)); ok || wait != 15*time.Second {
		t.Fatalf("ok=%v wait=%v, want refused for 15s", ok, wait)
	}
	if ok, _ := l.allow("k", now.Add(20*time.Second)); !ok {
		t.Fatal("refused after the wait")
	}
	if ok, _ := l.allow("k", now.Add(20*time.Second)); ok {
		t.Fatal("allowed two events after one step")
	}
	// A key idle for a window has its full burst again.
	later := now.Add(2 * time.Minute)
	for i := range 3 {
		if ok, _ := l.allow("k", later); !ok {
			t.Fatalf("after idling: event %d refused", i+1)
		}
	}
	if ok, _ := l.allow("other", now); !ok {
		t.Fatal("keys are not independent")
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(5, time.Minute, 1600)
	for i := range 20_000 {
		l.allow(fmt.Sprint("ip-", i), epoch)
	}
	if n := l.size(); n > 1600 {
		t.Fatalf("limiter holds %d keys, cap 1600", n)
	}
	l.sweep(epoch.Add(time.Minute))
	if n := l.size(); n != 0 {
		t.Fatalf("%d keys left after every key went idle", n)
	}
}

func TestTokenCacheIsBounded(t *testing.T) {
	c := newTokenCache(1024)
	for i := range 10_000 {
		var k [32]byte
		copy(k[:], fmt.Sprintf("%032d", i))
		k[0] = byte(i)
		c.put(&k, Claims{ExpiresAt: epoch.Add(time.Hour)}, epoch)
	}
	if n := c.len(); n > 1024 {
		t.Fatalf("cache holds %d entries, cap 1024", n)
	}
	// Expired entries go first.
	c = newTokenCache(64)
	var keep [32]byte
	keep[0] = 1
	for i := range 64 {
		var k [32]byte
		k[0], k[1] = byte(i), 0xff
		c.put(&k, Claims{ExpiresAt: epoch}, epoch) // expired at once
	}
	c.put(&keep, Claims{ExpiresAt: epoch.Add(time.Hour)}, epoch)
	if _, ok := c.get(&keep); !ok {
		t.Fatal("a live entry was not stored")
	}
}

func TestRevokedSet(t *testing.T) {
	r := newRevokedSet()
	if r.has("s1", epoch) {
		t.Fatal("empty set has s1")
	}
	r.add("s1", epoch.Add(time.Minute), epoch)
	r.add("s1", epoch.Add(time.Second), epoch) // never shortens
	if !r.has("s1", epoch.Add(59*time.Second)) || r.has("s2", epoch) {
		t.Fatal("membership wrong")
	}
	if r.has("s1", epoch.Add(time.Minute)) {
		t.Fatal("still revoked after until")
	}
	for i := range 5000 {
		r.add(fmt.Sprint("s", i), epoch.Add(time.Second), epoch)
	}
	r.add("late", epoch.Add(time.Hour), epoch.Add(2*time.Second))
	r.sweep(epoch.Add(2 * time.Second))
	if r.n.Load() != 2 || !r.has("late", epoch.Add(2*time.Second)) || !r.has("s1", epoch.Add(2*time.Second)) {
		t.Fatalf("after sweep %d entries", r.n.Load())
	}
}

func TestParsePHCRejectsDamagedHashes(t *testing.T) {
	h := newHasher(1)
	good, err := h.hash(context.Background(), "password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.verify(context.Background(), "password", good); !ok || err != nil {
		t.Fatalf("verify = %v, %v", ok, err)
	}
	if ok, err := h.verify(context.Background(), "Password", good); ok || err != nil {
		t.Fatalf("verify of a wrong password = %v, %v", ok, err)
	}
	parts := strings.Split(good, "$")
	for name, bad := range map[string]string{
		"bcrypt":      "$2a$10$abcdefghijklmnopqrstuu5Xq8l5JwXW4z6uYQ8R1l4uTzq3b7e1W",
		"argon2i":     strings.Replace(good, "argon2id", "argon2i", 1),
		"version":     strings.Replace(good, "v=19", "v=16", 1),
		"huge memory": strings.Replace(good, "m=19456", "m=4194304", 1),
		"zero time":   strings.Replace(good, "t=2", "t=0", 1),
		"short salt":  strings.Join(append(parts[:4:4], "AAAA", parts[5]), "$"),
		"short key":   strings.Join(append(parts[:5:5], "AAAA"), "$"),
		"empty":       "",
	} {
		if _, err := parsePHC(bad); err == nil {
			t.Errorf("%s: parsed %q", name, bad)
		}
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	h := newHasher(1)
	h.sem <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.hash(ctx, "password"); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("hash with no free slot: err = %v, want unavailable after the context ends", err)
	}
	h.release()
	if _, err := h.hash(context.Background(), "password"); err != nil {
		t.Fatal(err)
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := newCode(6)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 6 || strings.Trim(c, "0123456789") != "" {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
	}
	if len(seen) < 190 {
		t.Fatalf("only %d distinct codes of 200", len(seen))
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"not an ip":            "not an ip",
	} {
		if got := ipKey(in); got != want {
			t.Errorf("ipKey(%q) = %q, want %q", in, got, want)
		}
	}
}
