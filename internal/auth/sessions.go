package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// newRefreshToken returns a random refresh token and the hash that is stored.
func newRefreshToken() (string, []byte, error) {
	var b [refreshTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, errs.Wrap(errs.Internal, err, "auth: random refresh token")
	}
	h := sha256.Sum256(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]), h[:], nil
}

// hashRefreshToken returns the stored hash of a presented refresh token, or
// an error if it cannot be one of ours.
func hashRefreshToken(tok string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != refreshTokenBytes {
		return nil, errs.E(errs.TokenInvalid, "refresh token is not valid")
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// startSession starts a sign-in session for u and returns its first tokens.
func (s *Service) startSession(ctx context.Context, u User) (Tokens, error) {
	now := s.now()
	rt, hash, err := newRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	sess := Session{
		ID:         core.NewID("s"),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.cfg.RefreshTTL),
	}
	if err := s.store.CreateSession(ctx, sess, hash); err != nil {
		return Tokens{}, wrap(err, "auth: create session")
	}
	return s.tokens(ctx, u, sess.ID, rt, now)
}

func (s *Service) tokens(ctx context.Context, u User, sid, refresh string, now time.Time) (Tokens, error) {
	access, exp, err := s.issueAccess(ctx, u.ID, sid, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{
		User:         u,
		SessionID:    sid,
		AccessToken:  access,
		ExpiresAt:    exp,
		ExpiresIn:    exp.Sub(now),
		RefreshToken: refresh,
	}, nil
}

// Refresh spends a refresh token and returns a new refresh token and access
// token of the same session. A token that was spent already is a sign that
// it leaked: the whole session is revoked and the call fails with
// errs.TokenReused, so the new token issued for the first use dies too. A
// revoked session fails with errs.Revoked, one unused for RefreshTTL with
// errs.TokenExpired, an unknown token with errs.TokenInvalid.
//
// Two concurrent uses of the same token count as reuse: a client must not
// refresh from two places with one token.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	oldHash, err := hashRefreshToken(refreshToken)
	if err != nil {
		return Tokens{}, err
	}
	tok, sess, err := s.store.RefreshToken(ctx, oldHash)
	if errs.Is(err, errs.NotFound) {
		return Tokens{}, errs.E(errs.TokenInvalid, "refresh token is not valid")
	}
	if err != nil {
		return Tokens{}, wrap(err, "auth: find refresh token")
	}
	now := s.now()
	switch {
	case sess.Revoked():
		return Tokens{}, errs.E(errs.Revoked, "the sign-in session was revoked")
	case !now.Before(sess.ExpiresAt):
		return Tokens{}, errs.E(errs.TokenExpired, "refresh token expired")
	case tok.Spent():
		return Tokens{}, s.reused(ctx, sess.ID, now)
	}
	next, newHash, err := newRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	err = s.store.RotateRefreshToken(ctx, sess.ID, oldHash, newHash, now, now.Add(s.cfg.RefreshTTL))
	switch {
	case errs.Is(err, errs.Conflict):
		return Tokens{}, s.reused(ctx, sess.ID, now)
	case errs.Is(err, errs.Revoked):
		return Tokens{}, errs.E(errs.Revoked, "the sign-in session was revoked")
	case err != nil:
		return Tokens{}, wrap(err, "auth: rotate refresh token")
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		return Tokens{}, wrap(err, "auth: refresh: load user")
	}
	return s.tokens(ctx, u, sess.ID, next, now)
}

// reused revokes a session whose spent refresh token was presented again.
func (s *Service) reused(ctx context.Context, sid string, now time.Time) error {
	sess, err := s.store.RevokeSession(ctx, sid, now, "reuse")
	if err != nil {
		return wrap(err, "auth: revoke reused session")
	}
	s.log.Warn("auth: spent refresh token presented again; session revoked", "sid", sid, "user", sess.UserID)
	s.revokedSession(sid, sess.UserID)
	return errs.E(errs.TokenReused, "refresh token was already used; the sign-in session is revoked")
}

// Logout revokes session sid: its refresh tokens stop working at once, and
// its access tokens are refused by Verify on this node at once and on other
// nodes once the OnRevoke hook has told them.
func (s *Service) Logout(ctx context.Context, sid string) error {
	sess, err := s.store.RevokeSession(ctx, sid, s.now(), "logout")
	if err != nil {
		return wrap(err, "auth: logout")
	}
	s.revokedSession(sid, sess.UserID)
	return nil
}

// LogoutRefreshToken revokes the session of a refresh token, spent or not,
// for clients whose access token has expired.
func (s *Service) LogoutRefreshToken(ctx context.Context, refreshToken string) error {
	hash, err := hashRefreshToken(refreshToken)
	if err != nil {
		return err
	}
	_, sess, err := s.store.RefreshToken(ctx, hash)
	if errs.Is(err, errs.NotFound) {
		return errs.E(errs.TokenInvalid, "refresh token is not valid")
	}
	if err != nil {
		return wrap(err, "auth: find refresh token")
	}
	return s.Logout(ctx, sess.ID)
}

// revokeAll revokes every session of a user.
func (s *Service) revokeAll(ctx context.Context, user core.UserID, reason string) error {
	sids, err := s.store.RevokeUserSessions(ctx, user, s.now(), reason)
	if err != nil {
		return wrap(err, "auth: revoke sessions")
	}
	for _, sid := range sids {
		s.revokedSession(sid, user)
	}
	return nil
}
