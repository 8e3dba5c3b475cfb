package auth_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/errs"
)

// benchTokens returns n distinct valid access tokens signed by the service's
// current key, so that each is verified cold the first time.
func benchTokens(b *testing.B, e *env, n int) []string {
	b.Helper()
	tok, err := e.svc.SignUp(context.Background(), auth.SignUpRequest{Email: "bench@example.com", Password: password, Handle: "bench", DisplayName: "Bench"}, "")
	if err != nil {
		b.Fatal(err)
	}
	c, err := e.svc.Verify(tok.AccessToken)
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := e.store.SigningKeys(context.Background())
	var priv ed25519.PrivateKey
	for _, k := range keys {
		if k.ID == c.KeyID {
			priv = k.Private
		}
	}
	now := e.clock.Now()
	out := make([]string, n)
	for i := range out {
		t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
			"iss": e.cfg.Issuer, "aud": e.cfg.Audience, "sub": string(c.UserID), "sid": c.SessionID,
			"jti": fmt.Sprint("t_bench_", i), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
		t.Header["kid"] = c.KeyID
		if out[i], err = t.SignedString(priv); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

func benchEnv(b *testing.B) *env {
	return newEnv(b, func(c *config.AuthConfig) { c.SignInPerAccount, c.SignInPerIP = 1<<30, 1<<30 })
}

// BenchmarkVerifyCold measures a first check of a token: parse, Ed25519
// verification and claim checks.
func BenchmarkVerifyCold(b *testing.B) {
	e := benchEnv(b)
	toks := benchTokens(b, e, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.svc.Verify(toks[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached measures a repeated check of a token: SHA-256 of the
// token, a cache lookup, and the expiry and revocation checks.
func BenchmarkVerifyCached(b *testing.B) {
	e := benchEnv(b)
	tok := benchTokens(b, e, 1)[0]
	if _, err := e.svc.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.svc.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is BenchmarkVerifyCached from all CPUs over
// 1,000 tokens.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	e := benchEnv(b)
	toks := benchTokens(b, e, 1000)
	for _, tok := range toks {
		if _, err := e.svc.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.svc.Verify(toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkEd25519Verify is the floor of a cold check: the signature
// verification alone.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 300)
	sig := ed25519.Sign(priv, msg)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkPasswordHash measures one Argon2id hash (m=19 MiB, t=2, p=1)
// through a sign-in, the cost every sign-in and sign-up pays.
func BenchmarkPasswordHash(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	if _, err := e.svc.SignUp(ctx, auth.SignUpRequest{Email: "h@example.com", Password: password, Handle: "hh", DisplayName: "H"}, ""); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.svc.SignIn(ctx, "h@example.com", "wrong password", ""); !errs.Is(err, errs.BadCredentials) {
			b.Fatalf("sign-in with a wrong password: %v", err)
		}
	}
}
