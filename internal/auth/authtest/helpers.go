// Package authtest holds the contract test suite that every implementation
// of auth.Store must pass, and the small test helpers the auth tests share:
// a clock that only moves when told to and a Sender that keeps messages.
package authtest

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
)

// Clock is a core.Clock that moves only when Advance or Set is called. It is
// safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Sender is an auth.Sender that keeps every message. It is safe for
// concurrent use.
type Sender struct {
	mu   sync.Mutex
	msgs []auth.Message
}

// Send keeps m.
func (s *Sender) Send(_ context.Context, m auth.Message) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	return nil
}

// Messages returns the messages kept so far.
func (s *Sender) Messages() []auth.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]auth.Message(nil), s.msgs...)
}

var digits = regexp.MustCompile(`\b[0-9]{6,12}\b`)

// WaitCode waits up to 10 seconds for the n-th message (counting from 1) to
// arrive, checks that it went to "to", and returns the code in it. Code
// delivery happens in the background, so tests poll for it.
func (s *Sender) WaitCode(t testing.TB, n int, to string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := s.Messages()
		if len(msgs) >= n {
			m := msgs[n-1]
			if m.To != to {
				t.Fatalf("message %d went to %q, want %q", n, m.To, to)
			}
			code := digits.FindString(m.Body)
			if code == "" {
				t.Fatalf("message %d has no code: %q", n, m.Body)
			}
			return code
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message %d after 10s (have %d)", n, len(msgs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Config returns the default auth configuration with rate limits high enough
// not to get in the way of tests that do not test them.
func Config() config.AuthConfig {
	c := config.Default().Auth
	c.SignInPerAccount = 1000
	c.SignInPerIP = 1000
	return c
}

// Epoch is a fixed start time for test clocks.
var Epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
