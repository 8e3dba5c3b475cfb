package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/client"
)

// maxRateLimitWait is the longest wait for the node's sign-up rate limit
// that a sign-up retries after; a longer one ends the run with a hint.
const maxRateLimitWait = 10 * time.Second

// apiPool holds one HTTP API client per source address, so that HTTP calls
// are spread over the sources like the connections are.
type apiPool struct {
	apis []*client.API
}

func newAPIPool(base string, sources []string, timeout time.Duration) *apiPool {
	p := &apiPool{}
	for _, src := range sources {
		d := sourceDialer(src, timeout)
		tr := &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}
		p.apis = append(p.apis, &client.API{Base: base, HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}})
	}
	return p
}

// get returns the API client of source i (modulo the number of sources).
func (p *apiPool) get(i int) *client.API { return p.apis[i%len(p.apis)] }

// close drops idle HTTP connections.
func (p *apiPool) close() {
	for _, a := range p.apis {
		a.HTTP.CloseIdleConnections()
	}
}

// accounts creates the accounts of a run: random emails and handles under
// one run id, signed up over every source address, a few at a time.
type accounts struct {
	apis        *apiPool
	runID       string
	concurrency int
	errs        *errorCounts
	next        atomic.Int64
	done        atomic.Int64 // accounts created, for progress
}

func newAccounts(apis *apiPool, concurrency int, errs *errorCounts) *accounts {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &accounts{apis: apis, runID: hex.EncodeToString(b[:]), concurrency: concurrency, errs: errs}
}

// signUp creates n accounts and returns their tokens. It retries sign-ups
// the node rate-limits as long as the node asks for short waits, and fails
// with the node's error otherwise; the error counts say which.
func (a *accounts) signUp(ctx context.Context, n int) ([]client.Tokens, error) {
	out := make([]client.Tokens, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	sem := make(chan struct{}, a.concurrency)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t, err := a.one(ctx)
			if err != nil {
				once.Do(func() { firstErr = err; cancel() })
				return
			}
			out[i] = *t
			a.done.Add(1)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// one signs up one account, retrying short rate-limit waits.
func (a *accounts) one(ctx context.Context) (*client.Tokens, error) {
	for attempt := 0; ; attempt++ {
		k := a.next.Add(1)
		api := a.apis.get(int(k))
		name := fmt.Sprintf("lg-%s-%d", a.runID, k)
		pw := randomPassword()
		t, err := api.SignUp(ctx, name+"@loadgen.parley.test", pw, name, "Load "+name[3:])
		if err == nil {
			return t, nil
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.Code == "rate_limited" && ce.RetryAfter <= maxRateLimitWait && attempt < 100 {
			a.errs.addKey("signup:rate_limited_retried", 1, err.Error())
			select {
			case <-time.After(ce.RetryAfter + 10*time.Millisecond):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if errors.As(err, &ce) && ce.Code == "already_exists" && attempt < 3 {
			continue
		}
		if ctx.Err() == nil {
			a.errs.add("signup", err)
		}
		return nil, fmt.Errorf("sign-up: %w", err)
	}
}

func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "Lg-" + hex.EncodeToString(b[:])
}
