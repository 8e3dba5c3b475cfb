package auth_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/auth/authtest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/sqlite"
)

// env is a Service on a real SQLite store with a test clock and a capturing
// sender.
type env struct {
	svc    *auth.Service
	store  *sqlite.AuthStore
	clock  *authtest.Clock
	sender *authtest.Sender
	cfg    config.AuthConfig

	mu      sync.Mutex
	revoked []string // sids passed to the OnRevoke hook
}

func newEnv(t testing.TB, mod func(*config.AuthConfig)) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.AppFile), "app")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{store: sqlite.NewAuthStore(db), clock: authtest.NewClock(authtest.Epoch), sender: &authtest.Sender{}, cfg: authtest.Config()}
	if mod != nil {
		mod(&e.cfg)
	}
	e.svc = e.newNode(t)
	e.svc.SetOnRevoke(func(sid string, _ core.UserID) {
		e.mu.Lock()
		e.revoked = append(e.revoked, sid)
		e.mu.Unlock()
	})
	return e
}

// newNode starts another Service on the same store and clock, as a second
// node of a deployment would.
func (e *env) newNode(t testing.TB) *auth.Service {
	t.Helper()
	svc, err := auth.New(context.Background(), e.cfg, e.store, e.sender, e.clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func (e *env) hooked() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.revoked...)
}

const password = "correct horse battery"

func (e *env) signUp(t *testing.T, email, handle string) auth.Tokens {
	t.Helper()
	tok, err := e.svc.SignUp(context.Background(), auth.SignUpRequest{
		Email: email, Password: password, Handle: handle, DisplayName: "Someone " + handle,
	}, "")
	if err != nil {
		t.Fatalf("SignUp(%s): %v", email, err)
	}
	return tok
}

func wantErr(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func TestPasswordHashParameters(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp(t, "ann@example.com", "ann")
	e.signUp(t, "bob@example.com", "bob")
	var salts [][]byte
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		acct, err := e.store.AccountByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		// Parse the PHC string independently of the code that wrote it.
		parts := strings.Split(acct.PasswordHash, "$")
		if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=19456,t=2,p=1" {
			t.Fatalf("stored hash %q is not $argon2id$v=19$m=19456,t=2,p=1$...", acct.PasswordHash)
		}
		salt, err := base64.RawStdEncoding.DecodeString(parts[4])
		if err != nil || len(salt) != 16 {
			t.Fatalf("salt %q: %d bytes, %v; want 16", parts[4], len(salt), err)
		}
		key, err := base64.RawStdEncoding.DecodeString(parts[5])
		if err != nil || len(key) != 32 {
			t.Fatalf("key %q: %d bytes, %v; want 32", parts[5], len(key), err)
		}
		if want := argon2.IDKey([]byte(password), salt, 2, 19*1024, 1, 32); subtle.ConstantTimeCompare(key, want) != 1 {
			t.Fatal("stored key is not Argon2id(password, salt, t=2, m=19456, p=1)")
		}
		if strings.Contains(acct.PasswordHash, password) {
			t.Fatal("password stored in clear")
		}
		salts = append(salts, salt)
	}
	if bytes.Equal(salts[0], salts[1]) {
		t.Fatal("two accounts share a salt")
	}
}

func TestSignUpAndSignIn(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	up, err := e.svc.SignUp(ctx, auth.SignUpRequest{
		Email: "  Ann@Example.COM ", Password: password, Handle: "Ann_1", DisplayName: " Ann Smith ",
		Phone: "+1 (415) 555-0101", AvatarURL: "https://example.com/ann.png",
	}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	u := up.User
	if u.Email != "ann@example.com" || u.Handle != "ann_1" || u.DisplayName != "Ann Smith" || u.Phone != "+14155550101" ||
		u.AvatarURL != "https://example.com/ann.png" || !strings.HasPrefix(string(u.ID), "u_") || !u.CreatedAt.Equal(e.clock.Now()) {
		t.Fatalf("user = %+v", u)
	}
	if up.AccessToken == "" || up.RefreshToken == "" || up.ExpiresIn != 15*time.Minute || !up.ExpiresAt.Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Fatalf("tokens = %+v", up)
	}
	c, err := e.svc.Verify(up.AccessToken)
	if err != nil || c.UserID != u.ID || c.SessionID != up.SessionID || !c.ExpiresAt.Equal(up.ExpiresAt) || c.KeyID == "" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	in, err := e.svc.SignIn(ctx, "ANN@example.com", password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if in.User != u || in.SessionID == up.SessionID {
		t.Fatalf("SignIn = %+v (session %s, sign-up session %s)", in.User, in.SessionID, up.SessionID)
	}
	_, wrongPw := e.svc.SignIn(ctx, "ann@example.com", "not the password", "192.0.2.1")
	wantErr(t, wrongPw, errs.BadCredentials)
	_, unknown := e.svc.SignIn(ctx, "nobody@example.com", password, "192.0.2.1")
	wantErr(t, unknown, errs.BadCredentials)
	if wrongPw.Error() != unknown.Error() {
		t.Fatalf("a wrong password (%v) and an unknown email (%v) answer differently", wrongPw, unknown)
	}
	got, err := e.svc.User(ctx, u.ID)
	if err != nil || got != u {
		t.Fatalf("User = %+v, %v", got, err)
	}
	_, err = e.svc.User(ctx, "u_missing")
	wantErr(t, err, errs.NotFound)
}

func TestSignUpValidation(t *testing.T) {
	e := newEnv(t, nil)
	ok := auth.SignUpRequest{Email: "ann@example.com", Password: password, Handle: "ann", DisplayName: "Ann"}
	for name, mod := range map[string]func(*auth.SignUpRequest){
		"no email":           func(r *auth.SignUpRequest) { r.Email = "" },
		"bad email":          func(r *auth.SignUpRequest) { r.Email = "ann@" },
		"named email":        func(r *auth.SignUpRequest) { r.Email = "Ann <ann@example.com>" },
		"short handle":       func(r *auth.SignUpRequest) { r.Handle = "a" },
		"long handle":        func(r *auth.SignUpRequest) { r.Handle = strings.Repeat("a", 33) },
		"handle chars":       func(r *auth.SignUpRequest) { r.Handle = "ann smith" },
		"no display name":    func(r *auth.SignUpRequest) { r.DisplayName = "  " },
		"long display name":  func(r *auth.SignUpRequest) { r.DisplayName = strings.Repeat("é", 65) },
		"control characters": func(r *auth.SignUpRequest) { r.DisplayName = "Ann\x07" },
		"short password":     func(r *auth.SignUpRequest) { r.Password = "1234567" },
		"huge password":      func(r *auth.SignUpRequest) { r.Password = strings.Repeat("x", 1025) },
		"bad phone":          func(r *auth.SignUpRequest) { r.Phone = "0415 555 0101" },
		"avatar scheme":      func(r *auth.SignUpRequest) { r.AvatarURL = "javascript:alert(1)" },
		"relative avatar":    func(r *auth.SignUpRequest) { r.AvatarURL = "/a.png" },
	} {
		req := ok
		mod(&req)
		_, err := e.svc.SignUp(context.Background(), req, "")
		if !errs.Is(err, errs.InvalidArgument) {
			t.Errorf("%s: err = %v, want invalid_argument", name, err)
		}
	}
	// 64 characters of two bytes each is fine.
	req := ok
	req.DisplayName = strings.Repeat("é", 64)
	if _, err := e.svc.SignUp(context.Background(), req, ""); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateEmailAndHandle(t *testing.T) {
	e := newEnv(t, nil)
	e.signUp(t, "ann@example.com", "ann")
	ctx := context.Background()
	_, err := e.svc.SignUp(ctx, auth.SignUpRequest{Email: "ANN@example.com", Password: password, Handle: "other", DisplayName: "A"}, "")
	wantErr(t, err, errs.AlreadyExists)
	if _, msg := errs.Public(err); !strings.Contains(msg, "email") {
		t.Fatalf("message %q does not name the email", msg)
	}
	_, err = e.svc.SignUp(ctx, auth.SignUpRequest{Email: "other@example.com", Password: password, Handle: "ANN", DisplayName: "A"}, "")
	wantErr(t, err, errs.AlreadyExists)
	if _, msg := errs.Public(err); !strings.Contains(msg, "handle") {
		t.Fatalf("message %q does not name the handle", msg)
	}
}

func TestUsersAndProfile(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.signUp(t, "ann@example.com", "ann").User
	b := e.signUp(t, "bob@example.com", "bob").User
	got, err := e.svc.Users(ctx, []core.UserID{b.ID, "u_missing", a.ID, b.ID})
	if err != nil || len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("Users = %+v, %v; want bob then ann, once each", got, err)
	}
	if _, err := e.svc.Users(ctx, make([]core.UserID, auth.MaxUsersPerLookup+1)); !errs.Is(err, errs.InvalidArgument) {
		t.Fatalf("too many ids: err = %v", err)
	}
	name, handle, avatar := "Ann B.", "Ann.B", ""
	u, err := e.svc.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{DisplayName: &name, Handle: &handle, AvatarURL: &avatar})
	if err != nil || u.DisplayName != name || u.Handle != "ann.b" || u.AvatarURL != "" || u.Email != a.Email {
		t.Fatalf("UpdateProfile = %+v, %v", u, err)
	}
	taken := "BOB"
	_, err = e.svc.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{Handle: &taken})
	wantErr(t, err, errs.AlreadyExists)
	bad := "no spaces"
	_, err = e.svc.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{Handle: &bad})
	wantErr(t, err, errs.InvalidArgument)
	badURL := "ftp://example.com/a.png"
	_, err = e.svc.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{AvatarURL: &badURL})
	wantErr(t, err, errs.InvalidArgument)
}

func TestRateLimitPerAccount(t *testing.T) {
	e := newEnv(t, func(c *config.AuthConfig) {
		c.SignInPerAccount = 3
		c.SignInWindow = time.Minute
	})
	e.signUp(t, "ann@example.com", "ann")
	e.signUp(t, "bob@example.com", "bob")
	ctx := context.Background()
	for i := range 3 {
		_, err := e.svc.SignIn(ctx, "ann@example.com", "wrong password", "192.0.2.1")
		if !errs.Is(err, errs.BadCredentials) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	// The fourth attempt is refused before the password is looked at, even
	// from another IP and with the right password.
	_, err := e.svc.SignIn(ctx, "ANN@example.com", password, "198.51.100.7")
	wantErr(t, err, errs.RateLimited)
	if ra := errs.RetryAfterOf(err); ra <= 0 || ra > 20*time.Second {
		t.Fatalf("retry after %v, want (0, 20s]: one attempt per 20s refills", ra)
	}
	// Another account is not affected.
	if _, err := e.svc.SignIn(ctx, "bob@example.com", password, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(errs.RetryAfterOf(err))
	if _, err := e.svc.SignIn(ctx, "ann@example.com", password, "192.0.2.1"); err != nil {
		t.Fatalf("after waiting retry_after: %v", err)
	}
	_, err = e.svc.SignIn(ctx, "ann@example.com", password, "192.0.2.1")
	wantErr(t, err, errs.RateLimited)
}

func TestRateLimitPerIP(t *testing.T) {
	e := newEnv(t, func(c *config.AuthConfig) {
		c.SignInPerIP = 4
		c.SignInWindow = time.Minute
	})
	ctx := context.Background()
	const ip = "203.0.113.9"
	// Sign-ups, code requests and sign-ins from one IP share its budget.
	if _, err := e.svc.SignUp(ctx, auth.SignUpRequest{Email: "ann@example.com", Password: password, Handle: "ann", DisplayName: "Ann"}, ip); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RequestCode(ctx, auth.CodeRequest{Email: "x@example.com", Purpose: auth.PurposeSignIn}, ip); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"one@example.com", "two@example.com"} {
		_, err := e.svc.SignIn(ctx, email, password, ip)
		wantErr(t, err, errs.BadCredentials)
	}
	_, err := e.svc.SignIn(ctx, "ann@example.com", password, ip)
	wantErr(t, err, errs.RateLimited)
	if ra := errs.RetryAfterOf(err); ra <= 0 || ra > 15*time.Second {
		t.Fatalf("retry after %v, want (0, 15s]", ra)
	}
	_, err = e.svc.SignUp(ctx, auth.SignUpRequest{Email: "bob@example.com", Password: password, Handle: "bob", DisplayName: "Bob"}, ip)
	wantErr(t, err, errs.RateLimited)
	// Another IP is not affected.
	if _, err := e.svc.SignIn(ctx, "ann@example.com", password, "203.0.113.10"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.SignIn(ctx, "ann@example.com", password, ip); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}
