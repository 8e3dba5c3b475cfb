package authtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// Run runs the contract suite against the stores open returns; open must
// return a new, empty store for each call.
func Run(t *testing.T, open func(t *testing.T) auth.Store) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("UniqueFields", func(t *testing.T) { testUnique(t, open(t)) })
	t.Run("UpdateProfile", func(t *testing.T) { testUpdateProfile(t, open(t)) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("RotateConcurrently", func(t *testing.T) { testRotateConcurrently(t, open(t)) })
	t.Run("RevokeUserSessions", func(t *testing.T) { testRevokeUser(t, open(t)) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, open(t)) })
	t.Run("Codes", func(t *testing.T) { testCodes(t, open(t)) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, open(t)) })
	t.Run("Service", func(t *testing.T) { testService(t, open(t)) })
	t.Run("TwoNodesRotate", func(t *testing.T) { testTwoNodesRotate(t, open(t)) })
}

var t0 = Epoch

func user(n int) auth.User {
	return auth.User{
		ID:          core.UserID(core.NewID("u")),
		Email:       fmt.Sprintf("user%d@example.com", n),
		Handle:      fmt.Sprintf("user%d", n),
		DisplayName: fmt.Sprintf("User %d", n),
		CreatedAt:   t0,
	}
}

func mustCreate(t *testing.T, st auth.Store, u auth.User) {
	t.Helper()
	if err := st.CreateUser(context.Background(), u, "hash-of-"+string(u.ID)); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Email, err)
	}
}

func wantCode(t *testing.T, err error, code errs.Code, msgPart string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if _, msg := errs.Public(err); !strings.Contains(msg, msgPart) {
		t.Fatalf("message %q does not contain %q", msg, msgPart)
	}
}

func testUsers(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	a.Phone = "+14155550101"
	a.AvatarURL = "https://example.com/a.png"
	mustCreate(t, st, a)
	b := user(2)
	mustCreate(t, st, b)

	got, err := st.UserByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Fatalf("UserByID = %+v, want %+v", got, a)
	}
	if _, err := st.UserByID(ctx, "u_missing"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("UserByID(unknown) err = %v, want not_found", err)
	}
	many, err := st.UsersByID(ctx, []core.UserID{b.ID, "u_missing", a.ID})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(many, func(i, j int) bool { return many[i].Email < many[j].Email })
	if len(many) != 2 || many[0] != a || many[1] != b {
		t.Fatalf("UsersByID = %+v", many)
	}
	none, err := st.UsersByID(ctx, []core.UserID{"u_missing"})
	if err != nil || len(none) != 0 {
		t.Fatalf("UsersByID(unknown) = %v, %v", none, err)
	}
}

func testUnique(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	a.Phone = "+14155550101"
	mustCreate(t, st, a)
	// Users without a phone do not collide on it.
	mustCreate(t, st, user(2))
	mustCreate(t, st, user(3))

	dupEmail := user(4)
	dupEmail.Email = "USER1@Example.COM"
	wantCode(t, st.CreateUser(ctx, dupEmail, "h"), errs.AlreadyExists, "email")

	dupHandle := user(5)
	dupHandle.Handle = "USER1"
	wantCode(t, st.CreateUser(ctx, dupHandle, "h"), errs.AlreadyExists, "handle")

	dupPhone := user(6)
	dupPhone.Phone = a.Phone
	wantCode(t, st.CreateUser(ctx, dupPhone, "h"), errs.AlreadyExists, "phone")

	if _, err := st.UserByID(ctx, dupEmail.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a refused user was stored: %v", err)
	}
}

func testUpdateProfile(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a, b := user(1), user(2)
	mustCreate(t, st, a)
	mustCreate(t, st, b)
	name := "Alice A."
	got, err := st.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{DisplayName: &name})
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.DisplayName = name
	if got != want {
		t.Fatalf("UpdateProfile = %+v, want %+v", got, want)
	}
	handle, avatar := "alice", "https://example.com/x.png"
	got, err = st.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{Handle: &handle, AvatarURL: &avatar})
	if err != nil {
		t.Fatal(err)
	}
	want.Handle, want.AvatarURL = handle, avatar
	if got != want {
		t.Fatalf("UpdateProfile = %+v, want %+v", got, want)
	}
	if got, _ := st.UserByID(ctx, a.ID); got != want {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	taken := "USER2"
	_, err = st.UpdateProfile(ctx, a.ID, auth.ProfileUpdate{Handle: &taken})
	wantCode(t, err, errs.AlreadyExists, "handle")
	_, err = st.UpdateProfile(ctx, "u_missing", auth.ProfileUpdate{DisplayName: &name})
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("UpdateProfile(unknown) err = %v, want not_found", err)
	}
}

func testCredentials(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	a.Phone = "+447700900123"
	mustCreate(t, st, a)
	acct, err := st.AccountByEmail(ctx, "User1@EXAMPLE.com")
	if err != nil {
		t.Fatal(err)
	}
	if acct.User != a || acct.PasswordHash != "hash-of-"+string(a.ID) {
		t.Fatalf("AccountByEmail = %+v", acct)
	}
	acct, err = st.AccountByPhone(ctx, a.Phone)
	if err != nil || acct.ID != a.ID {
		t.Fatalf("AccountByPhone = %+v, %v", acct, err)
	}
	if _, err := st.AccountByEmail(ctx, "nobody@example.com"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("AccountByEmail(unknown) err = %v", err)
	}
	if _, err := st.AccountByPhone(ctx, "+10000000000"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("AccountByPhone(unknown) err = %v", err)
	}
	if err := st.SetPasswordHash(ctx, a.ID, "new-hash"); err != nil {
		t.Fatal(err)
	}
	if acct, _ := st.AccountByEmail(ctx, a.Email); acct.PasswordHash != "new-hash" {
		t.Fatalf("hash after SetPasswordHash = %q", acct.PasswordHash)
	}
	if err := st.SetPasswordHash(ctx, "u_missing", "x"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("SetPasswordHash(unknown) err = %v", err)
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func session(u core.UserID) auth.Session {
	return auth.Session{ID: core.NewID("s"), UserID: u, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func testSessions(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	mustCreate(t, st, a)
	s := session(a.ID)
	if err := st.CreateSession(ctx, s, hashOf("r1")); err != nil {
		t.Fatal(err)
	}
	tok, got, err := st.RefreshToken(ctx, hashOf("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if got != s || tok.SessionID != s.ID || tok.Spent() || !bytes.Equal(tok.Hash, hashOf("r1")) || !tok.CreatedAt.Equal(t0) {
		t.Fatalf("RefreshToken = %+v, %+v", tok, got)
	}
	if _, _, err := st.RefreshToken(ctx, hashOf("nope")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("RefreshToken(unknown) err = %v", err)
	}

	t1 := t0.Add(time.Minute)
	if err := st.RotateRefreshToken(ctx, s.ID, hashOf("r1"), hashOf("r2"), t1, t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	tok, got, _ = st.RefreshToken(ctx, hashOf("r1"))
	if !tok.Spent() || !tok.SpentAt.Equal(t1) {
		t.Fatalf("old token after rotation: %+v", tok)
	}
	if !got.LastUsedAt.Equal(t1) || !got.ExpiresAt.Equal(t1.Add(time.Hour)) {
		t.Fatalf("session after rotation: %+v", got)
	}
	if tok, _, err := st.RefreshToken(ctx, hashOf("r2")); err != nil || tok.Spent() {
		t.Fatalf("new token: %+v, %v", tok, err)
	}
	err = st.RotateRefreshToken(ctx, s.ID, hashOf("r1"), hashOf("r3"), t1, t1.Add(time.Hour))
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("rotating a spent token: err = %v, want conflict", err)
	}
	if _, _, err := st.RefreshToken(ctx, hashOf("r3")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a failed rotation stored its new token: %v", err)
	}
	err = st.RotateRefreshToken(ctx, s.ID, hashOf("nope"), hashOf("r3"), t1, t1.Add(time.Hour))
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("rotating an unknown token: err = %v, want not_found", err)
	}
	// An expired session cannot rotate.
	late := t1.Add(2 * time.Hour)
	err = st.RotateRefreshToken(ctx, s.ID, hashOf("r2"), hashOf("r3"), late, late.Add(time.Hour))
	if !errs.Is(err, errs.Revoked) {
		t.Fatalf("rotating in an expired session: err = %v, want revoked", err)
	}

	t2 := t1.Add(2 * time.Minute)
	rs, err := st.RevokeSession(ctx, s.ID, t2, "logout")
	if err != nil || !rs.RevokedAt.Equal(t2) || rs.UserID != a.ID {
		t.Fatalf("RevokeSession = %+v, %v", rs, err)
	}
	rs, err = st.RevokeSession(ctx, s.ID, t2.Add(time.Minute), "again")
	if err != nil || !rs.RevokedAt.Equal(t2) {
		t.Fatalf("second RevokeSession = %+v, %v; want the first revocation kept", rs, err)
	}
	err = st.RotateRefreshToken(ctx, s.ID, hashOf("r2"), hashOf("r3"), t2, t2.Add(time.Hour))
	if !errs.Is(err, errs.Revoked) {
		t.Fatalf("rotating in a revoked session: err = %v, want revoked", err)
	}
	if _, got, _ := st.RefreshToken(ctx, hashOf("r2")); !got.Revoked() {
		t.Fatalf("session not revoked: %+v", got)
	}
	if _, err := st.RevokeSession(ctx, "s_missing", t2, "logout"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("RevokeSession(unknown) err = %v", err)
	}
	ids, err := st.RevokedSince(ctx, t2)
	if err != nil || len(ids) != 1 || ids[0] != s.ID {
		t.Fatalf("RevokedSince(t2) = %v, %v", ids, err)
	}
	if ids, _ := st.RevokedSince(ctx, t2.Add(time.Microsecond)); len(ids) != 0 {
		t.Fatalf("RevokedSince(after) = %v", ids)
	}
}

func testRotateConcurrently(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	mustCreate(t, st, a)
	s := session(a.ID)
	if err := st.CreateSession(ctx, s, hashOf("r0")); err != nil {
		t.Fatal(err)
	}
	const n = 8
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- st.RotateRefreshToken(ctx, s.ID, hashOf("r0"), hashOf(fmt.Sprint("next", i)), t0, t0.Add(time.Hour))
		}()
	}
	wg.Wait()
	close(errc)
	ok := 0
	for err := range errc {
		switch {
		case err == nil:
			ok++
		case !errs.Is(err, errs.Conflict):
			t.Errorf("concurrent rotation: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent rotations of one token succeeded, want 1", ok)
	}
}

func testRevokeUser(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a, b := user(1), user(2)
	mustCreate(t, st, a)
	mustCreate(t, st, b)
	s1, s2, s3, other := session(a.ID), session(a.ID), session(a.ID), session(b.ID)
	for i, s := range []auth.Session{s1, s2, s3, other} {
		if err := st.CreateSession(ctx, s, hashOf(fmt.Sprint("r", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RevokeSession(ctx, s3.ID, t0, "logout"); err != nil {
		t.Fatal(err)
	}
	ids, err := st.RevokeUserSessions(ctx, a.ID, t0.Add(time.Second), "password reset")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	want := []string{s1.ID, s2.ID}
	sort.Strings(want)
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("RevokeUserSessions = %v, want %v (live sessions of the user only)", ids, want)
	}
	if _, got, _ := st.RefreshToken(ctx, hashOf("r3")); got.Revoked() {
		t.Fatal("another user's session was revoked")
	}
	if ids, _ := st.RevokeUserSessions(ctx, a.ID, t0.Add(time.Minute), "again"); len(ids) != 0 {
		t.Fatalf("second RevokeUserSessions = %v", ids)
	}
}

func key(t *testing.T, seq int64) auth.SigningKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := t0.Add(time.Duration(seq) * time.Hour)
	return auth.SigningKey{ID: core.NewID("k"), Seq: seq, Private: priv, CreatedAt: c, NotAfter: c.Add(2 * time.Hour)}
}

func testKeys(t *testing.T, st auth.Store) {
	ctx := context.Background()
	if ks, err := st.SigningKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("SigningKeys of an empty store = %v, %v", ks, err)
	}
	k1, k2 := key(t, 1), key(t, 2)
	for _, k := range []auth.SigningKey{k2, k1} {
		if err := st.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := st.SigningKeys(ctx)
	if err != nil || len(ks) != 2 {
		t.Fatalf("SigningKeys = %d keys, %v", len(ks), err)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Seq < ks[j].Seq })
	for i, want := range []auth.SigningKey{k1, k2} {
		got := ks[i]
		if got.ID != want.ID || got.Seq != want.Seq || !got.Private.Equal(want.Private) ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.NotAfter.Equal(want.NotAfter) {
			t.Fatalf("key %d = %+v, want %+v", i, got, want)
		}
	}
	dupSeq := key(t, 2)
	if err := st.AddSigningKey(ctx, dupSeq); !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("AddSigningKey(same seq) err = %v, want already_exists", err)
	}
	dupID := key(t, 3)
	dupID.ID = k1.ID
	if err := st.AddSigningKey(ctx, dupID); !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("AddSigningKey(same kid) err = %v, want already_exists", err)
	}

	// Two nodes adding the next key at once: exactly one wins.
	const n = 6
	errc := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		k := key(t, 3)
		wg.Add(1)
		go func() { defer wg.Done(); errc <- st.AddSigningKey(ctx, k) }()
	}
	wg.Wait()
	close(errc)
	won := 0
	for err := range errc {
		switch {
		case err == nil:
			won++
		case !errs.Is(err, errs.AlreadyExists):
			t.Errorf("concurrent AddSigningKey: %v", err)
		}
	}
	if ks, _ := st.SigningKeys(ctx); won != 1 || len(ks) != 3 {
		t.Fatalf("%d concurrent adds of seq 3 won, %d keys stored; want 1 and 3", won, len(ks))
	}
}

func testCodes(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	mustCreate(t, st, a)
	c := auth.Code{ID: core.NewID("c"), Purpose: auth.PurposeSignIn, Address: a.Email, UserID: a.ID,
		Hash: hashOf("123456"), CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	if err := st.PutCode(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AttemptCode(ctx, auth.PurposeReset, a.Email, t0, 5); !errs.Is(err, errs.NotFound) {
		t.Fatalf("AttemptCode(other purpose) err = %v", err)
	}
	for i := 1; i <= 5; i++ {
		got, err := st.AttemptCode(ctx, auth.PurposeSignIn, a.Email, t0, 5)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if got.ID != c.ID || got.UserID != a.ID || got.Attempts != i || !bytes.Equal(got.Hash, c.Hash) ||
			!got.ExpiresAt.Equal(c.ExpiresAt) || got.Purpose != c.Purpose || got.Address != c.Address {
			t.Fatalf("attempt %d = %+v", i, got)
		}
	}
	if _, err := st.AttemptCode(ctx, auth.PurposeSignIn, a.Email, t0, 5); !errs.Is(err, errs.NotFound) {
		t.Fatalf("sixth attempt err = %v, want not_found", err)
	}

	// A new code replaces the old one and starts with no attempts.
	c2 := c
	c2.ID, c2.Hash = core.NewID("c"), hashOf("654321")
	if err := st.PutCode(ctx, c2); err != nil {
		t.Fatal(err)
	}
	got, err := st.AttemptCode(ctx, auth.PurposeSignIn, a.Email, t0, 5)
	if err != nil || got.ID != c2.ID || got.Attempts != 1 {
		t.Fatalf("attempt on the new code = %+v, %v", got, err)
	}
	if _, err := st.AttemptCode(ctx, auth.PurposeSignIn, a.Email, c2.ExpiresAt, 5); !errs.Is(err, errs.NotFound) {
		t.Fatalf("attempt at expiry err = %v, want not_found", err)
	}
	if err := st.ConsumeCode(ctx, c.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("ConsumeCode(replaced) err = %v", err)
	}
	if err := st.ConsumeCode(ctx, c2.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.ConsumeCode(ctx, c2.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("second ConsumeCode err = %v, want not_found", err)
	}
	if _, err := st.AttemptCode(ctx, auth.PurposeSignIn, a.Email, t0, 5); !errs.Is(err, errs.NotFound) {
		t.Fatalf("attempt after consume err = %v", err)
	}
}

func testPrune(t *testing.T, st auth.Store) {
	ctx := context.Background()
	a := user(1)
	mustCreate(t, st, a)
	old := session(a.ID) // expires t0+1h
	live := session(a.ID)
	live.ExpiresAt = t0.Add(48 * time.Hour)
	revoked := session(a.ID)
	revoked.ExpiresAt = live.ExpiresAt
	for i, s := range []auth.Session{old, live, revoked} {
		if err := st.CreateSession(ctx, s, hashOf(fmt.Sprint("p", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.RevokeSession(ctx, revoked.ID, t0, "logout"); err != nil {
		t.Fatal(err)
	}
	code := auth.Code{ID: core.NewID("c"), Purpose: auth.PurposeReset, Address: a.Email, UserID: a.ID,
		Hash: hashOf("1"), CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	if err := st.PutCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	k1, k2 := key(t, 1), key(t, 30) // not after t0+3h and t0+32h
	for _, k := range []auth.SigningKey{k1, k2} {
		if err := st.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Prune(ctx, t0.Add(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.RefreshToken(ctx, hashOf("p0")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("expired session kept: %v", err)
	}
	if _, _, err := st.RefreshToken(ctx, hashOf("p1")); err != nil {
		t.Fatalf("live session pruned: %v", err)
	}
	if _, _, err := st.RefreshToken(ctx, hashOf("p2")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("long-revoked session kept: %v", err)
	}
	if _, err := st.AttemptCode(ctx, auth.PurposeReset, a.Email, t0, 5); !errs.Is(err, errs.NotFound) {
		t.Fatalf("expired code kept: %v", err)
	}
	ks, err := st.SigningKeys(ctx)
	if err != nil || len(ks) != 1 || ks[0].ID != k2.ID {
		t.Fatalf("keys after prune = %v, %v; want only the live one", ks, err)
	}
}
