package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/sqlite"
)

type server struct {
	*httptest.Server
	svc    *auth.Service
	sender *authtest.Sender
	clock  *authtest.Clock
}

func newServer(t *testing.T, trustProxy bool, mod func(*config.AuthConfig)) *server {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.AppFile), "app")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := authtest.Config()
	if mod != nil {
		mod(&cfg)
	}
	s := &server{sender: &authtest.Sender{}, clock: authtest.NewClock(authtest.Epoch)}
	s.svc, err = auth.New(context.Background(), cfg, sqlite.NewAuthStore(db), s.sender, s.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.svc.Close() })
	mux := http.NewServeMux()
	httpapi.RegisterAuth(mux, s.svc, 4096, trustProxy, nil)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// errorCode returns the error code of an error response.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e httpapi.ErrorBody
	r.json(t, &e)
	return string(e.Error.Code)
}

// do sends a request with a JSON body (a string is sent as it is) and an
// optional bearer token.
func (s *server) do(t *testing.T, method, path, token string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (s *server) expect(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if code != "" {
		if got := r.errorCode(t); got != code {
			t.Fatalf("error code %q, want %q; body %s", got, code, r.body)
		}
	}
}

const pw = "correct horse battery"

func (s *server) signUp(t *testing.T, email, handle string) httpapi.TokenResponse {
	t.Helper()
	r := s.do(t, "POST", "/v1/auth/signup", "", map[string]string{
		"email": email, "password": pw, "handle": handle, "display_name": "Someone",
	})
	s.expect(t, r, http.StatusCreated, "")
	var tr httpapi.TokenResponse
	r.json(t, &tr)
	return tr
}

func TestSignUpAndSignInHTTP(t *testing.T) {
	s := newServer(t, false, nil)
	r := s.do(t, "POST", "/v1/auth/signup", "", map[string]string{
		"email": "Ann@Example.com", "password": pw, "handle": "ann", "display_name": "Ann", "avatar_url": "https://example.com/a.png",
	})
	s.expect(t, r, http.StatusCreated, "")
	var raw map[string]any
	r.json(t, &raw)
	for _, k := range []string{"user", "access_token", "refresh_token", "token_type", "expires_in", "expires_at"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("token response lacks %q: %s", k, r.body)
		}
	}
	var tr httpapi.TokenResponse
	r.json(t, &tr)
	if tr.TokenType != "Bearer" || tr.ExpiresIn != 900 || !tr.ExpiresAt.Equal(authtest.Epoch.Add(15*time.Minute)) ||
		tr.User.Email != "ann@example.com" || tr.User.Handle != "ann" || tr.User.AvatarURL != "https://example.com/a.png" {
		t.Fatalf("token response %+v", tr)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q on a token response", cc)
	}

	r = s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "ann@example.com", "password": pw})
	s.expect(t, r, http.StatusOK, "")
	var in httpapi.TokenResponse
	r.json(t, &in)
	if in.User.ID != tr.User.ID || in.AccessToken == "" || in.RefreshToken == tr.RefreshToken {
		t.Fatalf("sign-in %+v", in)
	}
	r = s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "ann@example.com", "password": "wrong password"})
	s.expect(t, r, http.StatusUnauthorized, "bad_credentials")
	r = s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "nobody@example.com", "password": pw})
	s.expect(t, r, http.StatusUnauthorized, "bad_credentials")
}

func TestSignUpErrorsHTTP(t *testing.T) {
	s := newServer(t, false, nil)
	s.signUp(t, "ann@example.com", "ann")
	r := s.do(t, "POST", "/v1/auth/signup", "", map[string]string{"email": "ANN@example.com", "password": pw, "handle": "ann2", "display_name": "A"})
	s.expect(t, r, http.StatusConflict, "already_exists")
	if !strings.Contains(string(r.body), "email") {
		t.Fatalf("conflict does not name the email: %s", r.body)
	}
	r = s.do(t, "POST", "/v1/auth/signup", "", map[string]string{"email": "bob@example.com", "password": pw, "handle": "Ann", "display_name": "B"})
	s.expect(t, r, http.StatusConflict, "already_exists")
	if !strings.Contains(string(r.body), "handle") {
		t.Fatalf("conflict does not name the handle: %s", r.body)
	}
	r = s.do(t, "POST", "/v1/auth/signup", "", map[string]string{"email": "bob@example.com", "password": "short", "handle": "bob", "display_name": "B"})
	s.expect(t, r, http.StatusBadRequest, "invalid_argument")
	r = s.do(t, "POST", "/v1/auth/signup", "", `{"email": "bob@example.com", "is_admin": true}`)
	s.expect(t, r, http.StatusBadRequest, "invalid_argument")
	r = s.do(t, "POST", "/v1/auth/signup", "", `{"email": `)
	s.expect(t, r, http.StatusBadRequest, "invalid_argument")
	r = s.do(t, "POST", "/v1/auth/signup", "", `{"email": "`+strings.Repeat("a", 5000)+`"}`)
	s.expect(t, r, http.StatusRequestEntityTooLarge, "frame_too_large")
	r = s.do(t, "POST", "/v1/auth/signup", "", `email=a`, "Content-Type", "application/x-www-form-urlencoded")
	s.expect(t, r, http.StatusBadRequest, "invalid_argument")
	r = s.do(t, "GET", "/v1/auth/signup", "", nil)
	if r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET signup: status %d", r.status)
	}
}

func TestRateLimitHTTP(t *testing.T) {
	s := newServer(t, true, func(c *config.AuthConfig) { c.SignInPerIP = 2; c.SignInWindow = time.Minute })
	body := map[string]string{"email": "nobody@example.com", "password": pw}
	for range 2 {
		s.expect(t, s.do(t, "POST", "/v1/auth/signin", "", body, "X-Forwarded-For", "203.0.113.5, 10.0.0.1"), http.StatusUnauthorized, "bad_credentials")
	}
	r := s.do(t, "POST", "/v1/auth/signin", "", body, "X-Forwarded-For", "203.0.113.5")
	s.expect(t, r, http.StatusTooManyRequests, "rate_limited")
	var e httpapi.ErrorBody
	r.json(t, &e)
	if e.Error.RetryAfterMS <= 0 || e.Error.RetryAfterMS > 30_000 || r.header.Get("Retry-After") != "30" {
		t.Fatalf("retry_after_ms %d, Retry-After %q", e.Error.RetryAfterMS, r.header.Get("Retry-After"))
	}
	// Another client behind the proxy is not limited.
	s.expect(t, s.do(t, "POST", "/v1/auth/signin", "", body, "X-Forwarded-For", "203.0.113.6"), http.StatusUnauthorized, "bad_credentials")
}

func TestMeAndUsersHTTP(t *testing.T) {
	s := newServer(t, false, nil)
	ann := s.signUp(t, "ann@example.com", "ann")
	bob := s.signUp(t, "bob@example.com", "bob")

	r := s.do(t, "GET", "/v1/me", "", nil)
	s.expect(t, r, http.StatusUnauthorized, "unauthenticated")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	s.expect(t, s.do(t, "GET", "/v1/me", "not-a-token", nil), http.StatusUnauthorized, "token_invalid")

	r = s.do(t, "GET", "/v1/me", ann.AccessToken, nil)
	s.expect(t, r, http.StatusOK, "")
	var me auth.User
	r.json(t, &me)
	if me != ann.User {
		t.Fatalf("GET /v1/me = %+v, want %+v", me, ann.User)
	}

	r = s.do(t, "PATCH", "/v1/me", ann.AccessToken, map[string]string{"display_name": "Ann B.", "handle": "AnnB"})
	s.expect(t, r, http.StatusOK, "")
	r.json(t, &me)
	if me.DisplayName != "Ann B." || me.Handle != "annb" || me.Email != "ann@example.com" {
		t.Fatalf("PATCH /v1/me = %+v", me)
	}
	s.expect(t, s.do(t, "PATCH", "/v1/me", ann.AccessToken, map[string]string{"handle": "bob"}), http.StatusConflict, "already_exists")
	s.expect(t, s.do(t, "PATCH", "/v1/me", ann.AccessToken, map[string]string{"avatar_url": "file:///etc/passwd"}), http.StatusBadRequest, "invalid_argument")

	r = s.do(t, "GET", "/v1/users/"+string(bob.User.ID), ann.AccessToken, nil)
	s.expect(t, r, http.StatusOK, "")
	var pub map[string]any
	r.json(t, &pub)
	if pub["handle"] != "bob" || pub["id"] != string(bob.User.ID) {
		t.Fatalf("GET /v1/users/{id} = %s", r.body)
	}
	if _, ok := pub["email"]; ok {
		t.Fatalf("public profile shows the email: %s", r.body)
	}
	s.expect(t, s.do(t, "GET", "/v1/users/u_missing", ann.AccessToken, nil), http.StatusNotFound, "not_found")
	s.expect(t, s.do(t, "GET", "/v1/users/"+string(bob.User.ID), "", nil), http.StatusUnauthorized, "unauthenticated")
}

func TestRefreshAndLogoutHTTP(t *testing.T) {
	s := newServer(t, false, nil)
	first := s.signUp(t, "ann@example.com", "ann")
	r := s.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
	s.expect(t, r, http.StatusOK, "")
	var second httpapi.TokenResponse
	r.json(t, &second)
	if second.RefreshToken == first.RefreshToken || second.User.ID != first.User.ID || second.TokenType != "Bearer" {
		t.Fatalf("refresh = %+v", second)
	}
	// Reuse of the spent token revokes the family.
	s.expect(t, s.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}), http.StatusUnauthorized, "token_reused")
	s.expect(t, s.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}), http.StatusUnauthorized, "revoked")
	s.expect(t, s.do(t, "GET", "/v1/me", second.AccessToken, nil), http.StatusUnauthorized, "revoked")
	s.expect(t, s.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": "garbage"}), http.StatusUnauthorized, "token_invalid")

	// Logout with the access token.
	r = s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "ann@example.com", "password": pw})
	var in httpapi.TokenResponse
	r.json(t, &in)
	s.expect(t, s.do(t, "POST", "/v1/auth/logout", in.AccessToken, nil), http.StatusNoContent, "")
	s.expect(t, s.do(t, "GET", "/v1/me", in.AccessToken, nil), http.StatusUnauthorized, "revoked")
	s.expect(t, s.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": in.RefreshToken}), http.StatusUnauthorized, "revoked")

	// Logout with the refresh token.
	r = s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "ann@example.com", "password": pw})
	r.json(t, &in)
	s.expect(t, s.do(t, "POST", "/v1/auth/logout", "", map[string]string{"refresh_token": in.RefreshToken}), http.StatusNoContent, "")
	s.expect(t, s.do(t, "GET", "/v1/me", in.AccessToken, nil), http.StatusUnauthorized, "revoked")
	s.expect(t, s.do(t, "POST", "/v1/auth/logout", "", nil), http.StatusBadRequest, "invalid_argument")
}

func TestCodeSignInAndResetHTTP(t *testing.T) {
	s := newServer(t, false, nil)
	ann := s.signUp(t, "ann@example.com", "ann")
	known := s.do(t, "POST", "/v1/auth/code", "", map[string]string{"email": "ann@example.com", "purpose": "signin"})
	unknown := s.do(t, "POST", "/v1/auth/code", "", map[string]string{"email": "nobody@example.com", "purpose": "signin"})
	s.expect(t, known, http.StatusAccepted, "")
	if unknown.status != known.status || !bytes.Equal(unknown.body, known.body) {
		t.Fatalf("answers differ: %d %s / %d %s", known.status, known.body, unknown.status, unknown.body)
	}
	s.expect(t, s.do(t, "POST", "/v1/auth/code", "", map[string]string{"email": "ann@example.com", "purpose": "other"}), http.StatusBadRequest, "invalid_argument")
	code := s.sender.WaitCode(t, 1, "ann@example.com")

	s.expect(t, s.do(t, "POST", "/v1/auth/code/verify", "", map[string]string{"email": "ann@example.com", "code": "not it"}), http.StatusUnauthorized, "bad_credentials")
	r := s.do(t, "POST", "/v1/auth/code/verify", "", map[string]string{"email": "ann@example.com", "code": code})
	s.expect(t, r, http.StatusOK, "")
	var tr httpapi.TokenResponse
	r.json(t, &tr)
	if tr.User.ID != ann.User.ID || tr.AccessToken == "" {
		t.Fatalf("code sign-in %+v", tr)
	}
	s.expect(t, s.do(t, "POST", "/v1/auth/code/verify", "", map[string]string{"email": "ann@example.com", "code": code}), http.StatusUnauthorized, "bad_credentials")

	s.expect(t, s.do(t, "POST", "/v1/auth/code", "", map[string]string{"email": "ann@example.com", "purpose": "reset"}), http.StatusAccepted, "")
	code = s.sender.WaitCode(t, 2, "ann@example.com")
	const newPw = "a brand new password"
	s.expect(t, s.do(t, "POST", "/v1/auth/password/reset", "", map[string]string{"email": "ann@example.com", "code": code, "new_password": newPw}), http.StatusNoContent, "")
	s.expect(t, s.do(t, "GET", "/v1/me", tr.AccessToken, nil), http.StatusUnauthorized, "revoked")
	s.expect(t, s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "ann@example.com", "password": pw}), http.StatusUnauthorized, "bad_credentials")
	s.expect(t, s.do(t, "POST", "/v1/auth/signin", "", map[string]string{"email": "ann@example.com", "password": newPw}), http.StatusOK, "")
	s.expect(t, s.do(t, "POST", "/v1/auth/password/reset", "", map[string]string{"email": "ann@example.com", "code": code, "new_password": newPw}), http.StatusUnauthorized, "bad_credentials")
}

func TestJWKSHTTP(t *testing.T) {
	s := newServer(t, false, nil)
	ann := s.signUp(t, "ann@example.com", "ann")
	r := s.do(t, "GET", "/.well-known/jwks.json", "", nil)
	s.expect(t, r, http.StatusOK, "")
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/jwk-set+json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	r.json(t, &set)
	c, err := s.svc.Verify(ann.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("keys %s", r.body)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || k["kid"] != c.KeyID || len(k["x"]) != 43 {
		t.Fatalf("key %v", k)
	}
	if _, ok := k["d"]; ok {
		t.Fatal("the private key is published")
	}
}
