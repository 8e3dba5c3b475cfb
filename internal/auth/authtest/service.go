package authtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/errs"
)

// newService returns a Service on st with a test clock.
func newService(t *testing.T, st auth.Store, clock *Clock) *auth.Service {
	t.Helper()
	svc, err := auth.New(context.Background(), Config(), st, &Sender{}, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// testService runs the main flows of the Service over the store.
func testService(t *testing.T, st auth.Store) {
	ctx := context.Background()
	clock := NewClock(t0)
	svc := newService(t, st, clock)
	tok, err := svc.SignUp(ctx, auth.SignUpRequest{Email: "Ann@Example.com", Password: "correct horse", Handle: "Ann", DisplayName: "Ann"}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignUp(ctx, auth.SignUpRequest{Email: "ann@example.com", Password: "correct horse", Handle: "ann2", DisplayName: "Ann"}, "192.0.2.1"); !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("duplicate sign-up err = %v", err)
	}
	if _, err := svc.SignIn(ctx, "ann@example.com", "wrong password", "192.0.2.1"); !errs.Is(err, errs.BadCredentials) {
		t.Fatalf("wrong password err = %v", err)
	}
	in, err := svc.SignIn(ctx, "ANN@example.com", "correct horse", "192.0.2.1")
	if err != nil || in.User.ID != tok.User.ID {
		t.Fatalf("SignIn = %+v, %v", in.User, err)
	}
	c, err := svc.Verify(in.AccessToken)
	if err != nil || c.UserID != in.User.ID || c.SessionID != in.SessionID {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	clock.Advance(time.Minute)
	next, err := svc.Refresh(ctx, in.RefreshToken)
	if err != nil || next.SessionID != in.SessionID || next.RefreshToken == in.RefreshToken {
		t.Fatalf("Refresh = %+v, %v", next, err)
	}
	if _, err := svc.Refresh(ctx, in.RefreshToken); !errs.Is(err, errs.TokenReused) {
		t.Fatalf("reuse err = %v, want token_reused", err)
	}
	if _, err := svc.Refresh(ctx, next.RefreshToken); !errs.Is(err, errs.Revoked) {
		t.Fatalf("the family's newest token after reuse: err = %v, want revoked", err)
	}
	if _, err := svc.Verify(next.AccessToken); !errs.Is(err, errs.Revoked) {
		t.Fatalf("Verify after reuse: err = %v, want revoked", err)
	}
	// A node started after the revocation knows it too.
	other := newService(t, st, clock)
	if _, err := other.Verify(in.AccessToken); !errs.Is(err, errs.Revoked) {
		t.Fatalf("Verify on a new node: err = %v, want revoked", err)
	}
}

// testTwoNodesRotate starts two nodes on one store and makes them rotate the
// signing key at the same moment: one key must win and both must sign with
// it and accept each other's tokens.
func testTwoNodesRotate(t *testing.T, st auth.Store) {
	ctx := context.Background()
	clock := NewClock(t0)
	a := newService(t, st, clock)
	b := newService(t, st, clock)
	if ka, kb := a.JWKS().Keys, b.JWKS().Keys; len(ka) != 1 || len(kb) != 1 || ka[0].Kid != kb[0].Kid {
		t.Fatalf("two nodes starting on one store made different keys: %v / %v", ka, kb)
	}
	tok, err := a.SignUp(ctx, auth.SignUpRequest{Email: "bo@example.com", Password: "correct horse", Handle: "bo", DisplayName: "Bo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Verify(tok.AccessToken)
	clock.Advance(Config().KeyRotation)
	var wg sync.WaitGroup
	var refreshed [2]auth.Tokens
	var errs2 [2]error
	for i, svc := range []*auth.Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, err := svc.SignIn(ctx, "bo@example.com", "correct horse", "")
			refreshed[i], errs2[i] = in, err
		}()
	}
	wg.Wait()
	for i := range errs2 {
		if errs2[i] != nil {
			t.Fatalf("sign-in on node %d: %v", i, errs2[i])
		}
	}
	ca, err := b.Verify(refreshed[0].AccessToken)
	if err != nil {
		t.Fatalf("node b verifying node a's token: %v", err)
	}
	cb, err := a.Verify(refreshed[1].AccessToken)
	if err != nil {
		t.Fatalf("node a verifying node b's token: %v", err)
	}
	if ca.KeyID != cb.KeyID || ca.KeyID == first.KeyID {
		t.Fatalf("after rotation node a signs with %s and node b with %s (old key %s); want one new key", ca.KeyID, cb.KeyID, first.KeyID)
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("store holds %d keys (%v), want 2", len(keys), err)
	}
}
