package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// signingKey returns the stored key that signed tok.
func (e *env) signingKey(t *testing.T, kid string) auth.SigningKey {
	t.Helper()
	keys, err := e.store.SigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == kid {
			return k
		}
	}
	t.Fatalf("no stored key %s", kid)
	return auth.SigningKey{}
}

// forge signs claims with method and key, with header kid.
func forge(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejectsBadTokens(t *testing.T) {
	e := newEnv(t, nil)
	good := e.signUp(t, "ann@example.com", "ann")
	c, err := e.svc.Verify(good.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	key := e.signingKey(t, c.KeyID)
	now := e.clock.Now()
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": e.cfg.Issuer, "aud": e.cfg.Audience, "sub": string(c.UserID), "sid": c.SessionID,
			"jti": core.NewID("t"), "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		}
	}
	with := func(k string, v any) jwt.MapClaims { m := claims(); m[k] = v; return m }
	without := func(k string) jwt.MapClaims { m := claims(); delete(m, k); return m }

	// A token forged the right way verifies: the cases below fail for the
	// one reason they name.
	if _, err := e.svc.Verify(forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, claims())); err != nil {
		t.Fatalf("a well-formed token: %v", err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pub := key.Private.Public().(ed25519.PublicKey)
	parts := strings.Split(good.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var pm map[string]any
	_ = json.Unmarshal(payload, &pm)
	pm["sub"] = "u_someone_else"
	tampered, _ := json.Marshal(pm)
	noneToken := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, key.ID, claims())

	for name, tc := range map[string]struct {
		token string
		code  errs.Code
	}{
		"expired":                             {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with("exp", now.Add(-time.Second).Unix())), errs.TokenExpired},
		"wrong audience":                      {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with("aud", "someone-else")), errs.TokenInvalid},
		"no audience":                         {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without("aud")), errs.TokenInvalid},
		"wrong issuer":                        {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with("iss", "evil")), errs.TokenInvalid},
		"no issuer":                           {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without("iss")), errs.TokenInvalid},
		"no exp":                              {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without("exp")), errs.TokenInvalid},
		"no sub":                              {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without("sub")), errs.TokenInvalid},
		"no sid":                              {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without("sid")), errs.TokenInvalid},
		"no jti":                              {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, without("jti")), errs.TokenInvalid},
		"expired and forged":                  {forge(t, jwt.SigningMethodEdDSA, otherKey, key.ID, with("exp", now.Add(-time.Second).Unix())), errs.TokenInvalid},
		"expired, wrong aud":                  {forge(t, jwt.SigningMethodEdDSA, key.Private, key.ID, with("aud", "x")), errs.TokenInvalid},
		"alg none":                            {noneToken, errs.TokenInvalid},
		"alg none, no sig":                    {strings.TrimSuffix(noneToken, "."), errs.TokenInvalid},
		"HS256 with the public key as secret": {forge(t, jwt.SigningMethodHS256, []byte(pub), key.ID, claims()), errs.TokenInvalid},
		"HS256 with the encoded public key":   {forge(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), key.ID, claims()), errs.TokenInvalid},
		"unknown kid":                         {forge(t, jwt.SigningMethodEdDSA, key.Private, "k_unknown", claims()), errs.TokenInvalid},
		"expired, unknown kid":                {forge(t, jwt.SigningMethodEdDSA, otherKey, "k_retired", with("exp", now.Add(-time.Second).Unix())), errs.TokenExpired},
		"no kid":                              {forge(t, jwt.SigningMethodEdDSA, key.Private, "", claims()), errs.TokenInvalid},
		"another key":                         {forge(t, jwt.SigningMethodEdDSA, otherKey, key.ID, claims()), errs.TokenInvalid},
		"tampered payload":                    {parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2], errs.TokenInvalid},
		"tampered signature":                  {parts[0] + "." + parts[1] + "." + flip(parts[2]), errs.TokenInvalid},
		"garbage":                             {"not a token", errs.TokenInvalid},
		"empty":                               {"", errs.TokenInvalid},
		"four parts":                          {good.AccessToken + ".x", errs.TokenInvalid},
	} {
		_, err := e.svc.Verify(tc.token)
		if !errs.Is(err, tc.code) {
			t.Errorf("%s: err = %v, want %s", name, err, tc.code)
		}
	}
	// The good token still passes, from the cache.
	if _, err := e.svc.Verify(good.AccessToken); err != nil {
		t.Fatal(err)
	}
}

// flip changes the first character of a base64url string.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestVerifyExpiresCachedTokens(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.signUp(t, "ann@example.com", "ann")
	if _, err := e.svc.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.cfg.AccessTTL - time.Second)
	if _, err := e.svc.Verify(tok.AccessToken); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	_, err := e.svc.Verify(tok.AccessToken)
	wantErr(t, err, errs.TokenExpired)
	// A node that never saw the token (no cache) says the same.
	_, err = e.newNode(t).Verify(tok.AccessToken)
	wantErr(t, err, errs.TokenExpired)
}

func TestRefreshRotates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.signUp(t, "ann@example.com", "ann")
	e.clock.Advance(time.Minute)
	second, err := e.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken ||
		second.SessionID != first.SessionID || second.User != first.User || !second.ExpiresAt.After(first.ExpiresAt) {
		t.Fatalf("refresh returned %+v after %+v", second, first)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(second.RefreshToken); err != nil || len(raw) < 32 {
		t.Fatalf("refresh token %q is not >= 32 random bytes in base64url", second.RefreshToken)
	}
	c, err := e.svc.Verify(second.AccessToken)
	if err != nil || c.SessionID != first.SessionID {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	third, err := e.svc.Refresh(ctx, second.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// The family lives RefreshTTL after its last use.
	e.clock.Advance(e.cfg.RefreshTTL - time.Second)
	fourth, err := e.svc.Refresh(ctx, third.RefreshToken)
	if err != nil {
		t.Fatalf("just before the family expires: %v", err)
	}
	e.clock.Advance(e.cfg.RefreshTTL)
	_, err = e.svc.Refresh(ctx, fourth.RefreshToken)
	wantErr(t, err, errs.TokenExpired)

	for _, bad := range []string{"", "short", strings.Repeat("A", 43), "not base64!"} {
		_, err := e.svc.Refresh(ctx, bad)
		wantErr(t, err, errs.TokenInvalid)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.signUp(t, "ann@example.com", "ann")
	other, err := e.svc.SignIn(ctx, "ann@example.com", password, "")
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Verify(second.AccessToken); err != nil {
		t.Fatal(err)
	}
	// The first token is presented again: someone else has it.
	_, err = e.svc.Refresh(ctx, first.RefreshToken)
	wantErr(t, err, errs.TokenReused)
	// The whole family is dead, including the token issued in between.
	_, err = e.svc.Refresh(ctx, second.RefreshToken)
	wantErr(t, err, errs.Revoked)
	_, err = e.svc.Verify(second.AccessToken)
	wantErr(t, err, errs.Revoked)
	_, err = e.svc.Verify(first.AccessToken)
	wantErr(t, err, errs.Revoked)
	if got := e.hooked(); len(got) != 1 || got[0] != first.SessionID {
		t.Fatalf("OnRevoke saw %v, want [%s]", got, first.SessionID)
	}
	// Another session of the same user is not affected.
	if _, err := e.svc.Refresh(ctx, other.RefreshToken); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentRefreshCountsAsReuse(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.signUp(t, "ann@example.com", "ann")
	const n = 4
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); _, results[i] = e.svc.Refresh(ctx, first.RefreshToken) }()
	}
	wg.Wait()
	reused := 0
	for _, err := range results {
		if errs.Is(err, errs.TokenReused) {
			reused++
		} else if err != nil && !errs.Is(err, errs.Revoked) {
			t.Fatalf("concurrent refresh: %v", err)
		}
	}
	if reused == 0 {
		t.Fatalf("results %v: no reuse detected", results)
	}
	_, err := e.svc.Verify(first.AccessToken)
	wantErr(t, err, errs.Revoked)
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok := e.signUp(t, "ann@example.com", "ann")
	other, err := e.svc.SignIn(ctx, "ann@example.com", password, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Verify(tok.AccessToken); err != nil { // now cached
		t.Fatal(err)
	}
	node2 := e.newNode(t)
	if _, err := node2.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	refreshed, err := e.svc.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, tok.SessionID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(ctx, refreshed.RefreshToken)
	wantErr(t, err, errs.Revoked)
	_, err = e.svc.Verify(tok.AccessToken) // cached
	wantErr(t, err, errs.Revoked)
	_, err = e.svc.Verify(refreshed.AccessToken) // never verified
	wantErr(t, err, errs.Revoked)
	if got := e.hooked(); len(got) != 1 || got[0] != tok.SessionID {
		t.Fatalf("OnRevoke saw %v", got)
	}
	// Another node learns of it through MarkRevoked (the bus, in production).
	if _, err := node2.Verify(tok.AccessToken); err != nil {
		t.Fatalf("node 2 before it is told: %v", err)
	}
	node2.MarkRevoked(tok.SessionID)
	_, err = node2.Verify(tok.AccessToken)
	wantErr(t, err, errs.Revoked)
	// Other sessions are not affected; logging out twice is fine.
	if _, err := e.svc.Verify(other.AccessToken); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Logout(ctx, tok.SessionID); err != nil {
		t.Fatal(err)
	}
	// Logging out with a refresh token (for clients whose access token
	// expired) revokes that session.
	if err := e.svc.LogoutRefreshToken(ctx, other.RefreshToken); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Verify(other.AccessToken)
	wantErr(t, err, errs.Revoked)
	_, err = e.svc.Refresh(ctx, other.RefreshToken)
	wantErr(t, err, errs.Revoked)
	wantErr(t, e.svc.LogoutRefreshToken(ctx, "AAAA"), errs.TokenInvalid)
	wantErr(t, e.svc.Logout(ctx, "s_missing"), errs.NotFound)
	// The revocation outlives the access tokens it refuses, then is forgotten.
	e.clock.Advance(e.cfg.AccessTTL + 2*time.Minute)
	if err := e.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Verify(tok.AccessToken)
	wantErr(t, err, errs.TokenExpired)
}

func TestKeyRotationWithOverlap(t *testing.T) {
	e := newEnv(t, func(c *config.AuthConfig) { c.KeyRotation = time.Hour })
	ctx := context.Background()
	first := e.signUp(t, "ann@example.com", "ann")
	c1, _ := e.svc.Verify(first.AccessToken)
	if keys := e.svc.JWKS().Keys; len(keys) != 1 || keys[0].Kid != c1.KeyID {
		t.Fatalf("JWKS at start = %+v", keys)
	}

	// Nearing the end of the key's period, maintenance makes the next key,
	// published before it signs anything.
	e.clock.Advance(time.Hour - 4*time.Minute)
	if err := e.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	jwks := e.svc.JWKS().Keys
	if len(jwks) != 2 || jwks[0].Kid != c1.KeyID {
		t.Fatalf("JWKS before rotation = %+v, want the current and the next key", jwks)
	}
	next := jwks[1].Kid
	old, err := e.svc.Refresh(ctx, first.RefreshToken) // still signed by the first key
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := e.svc.Verify(old.AccessToken); c.KeyID != c1.KeyID {
		t.Fatalf("signed with %s before the next key's time, want %s", c.KeyID, c1.KeyID)
	}

	e.clock.Advance(4 * time.Minute) // the rotation time
	fresh, err := e.svc.Refresh(ctx, old.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.svc.Verify(fresh.AccessToken)
	if err != nil || c2.KeyID != next {
		t.Fatalf("after rotation signed with %s (%v), want %s", c2.KeyID, err, next)
	}
	// The previous key's token still verifies, also on a node that never saw
	// it, and the previous key is still published.
	if _, err := e.newNode(t).Verify(old.AccessToken); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
	jwks = e.svc.JWKS().Keys
	if len(jwks) != 2 || jwks[0].Kid != c1.KeyID || jwks[1].Kid != next {
		t.Fatalf("JWKS during overlap = %+v", jwks)
	}
	// The published key really verifies the token it signed.
	checkJWK(t, jwks[0], old.AccessToken)
	checkJWK(t, jwks[1], fresh.AccessToken)

	// Once every token of the old key has expired, it is gone.
	e.clock.Advance(e.cfg.AccessTTL)
	if err := e.svc.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	jwks = e.svc.JWKS().Keys
	if len(jwks) != 1 || jwks[0].Kid != next {
		t.Fatalf("JWKS after overlap = %+v, want only %s", jwks, next)
	}
	_, err = e.svc.Verify(old.AccessToken)
	wantErr(t, err, errs.TokenExpired)
	keys, err := e.store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.ID == c1.KeyID {
			// Pruning keeps an AccessTTL margin; a node that never had the
			// key in memory must still refuse its tokens as expired.
			_, err := e.newNode(t).Verify(old.AccessToken)
			wantErr(t, err, errs.TokenExpired)
		}
	}
}

func checkJWK(t *testing.T, k auth.JWK, token string) {
	t.Helper()
	if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.Use != "sig" {
		t.Fatalf("JWK %+v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("JWK x %q: %v", k.X, err)
	}
	parts := strings.Split(token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(x, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("JWK %s does not verify the token", k.Kid)
	}
}

func TestNodeLearnsKeysOfOtherNodes(t *testing.T) {
	e := newEnv(t, func(c *config.AuthConfig) { c.KeyRotation = time.Hour })
	ctx := context.Background()
	tok := e.signUp(t, "ann@example.com", "ann")
	node2 := e.newNode(t)
	c1, _ := node2.Verify(tok.AccessToken)

	// Node 1 rotates; node 2 does not run maintenance, yet verifies tokens
	// signed by the new key by reloading the keys once.
	e.clock.Advance(time.Hour)
	fresh, err := e.svc.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := node2.Verify(fresh.AccessToken)
	if err != nil || c2.KeyID == c1.KeyID {
		t.Fatalf("node 2: %+v, %v", c2, err)
	}

	// Reloads for unknown kids are rate-limited: right after one, a token of
	// a key made since is refused until a second has passed.
	_, err = node2.Verify(forge(t, jwt.SigningMethodEdDSA, e.signingKey(t, c2.KeyID).Private, "k_forged", jwt.MapClaims{}))
	wantErr(t, err, errs.TokenInvalid)
	keys, _ := e.store.SigningKeys(ctx)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := e.clock.Now()
	k3 := auth.SigningKey{ID: core.NewID("k"), Seq: keys[len(keys)-1].Seq + 1, Private: priv, CreatedAt: now, NotAfter: now.Add(2 * time.Hour)}
	if err := e.store.AddSigningKey(ctx, k3); err != nil {
		t.Fatal(err)
	}
	signed := forge(t, jwt.SigningMethodEdDSA, priv, k3.ID, jwt.MapClaims{
		"iss": e.cfg.Issuer, "aud": e.cfg.Audience, "sub": string(c2.UserID), "sid": c2.SessionID,
		"jti": "t_1", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	_, err = node2.Verify(signed)
	wantErr(t, err, errs.TokenInvalid)
	e.clock.Advance(time.Second)
	if _, err := node2.Verify(signed); err != nil {
		t.Fatalf("after the reload interval: %v", err)
	}
}

func TestVerifyConcurrently(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	var toks []auth.Tokens
	toks = append(toks, e.signUp(t, "ann@example.com", "ann"))
	for range 3 {
		tok, err := e.svc.SignIn(ctx, "ann@example.com", password, "")
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				tok := toks[(i+j)%len(toks)]
				if _, err := e.svc.Verify(tok.AccessToken); err != nil && !errs.Is(err, errs.Revoked) {
					t.Errorf("Verify: %v", err)
					return
				}
			}
		}()
	}
	if err := e.svc.Logout(ctx, toks[0].SessionID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_, err := e.svc.Verify(toks[0].AccessToken)
	wantErr(t, err, errs.Revoked)
	if _, err := e.svc.Verify(toks[1].AccessToken); err != nil {
		t.Fatal(err)
	}
}
