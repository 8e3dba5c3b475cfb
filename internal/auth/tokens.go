package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// tokenClaims is the payload of an access token.
type tokenClaims struct {
	jwt.RegisteredClaims
	SID string `json:"sid"`
}

// Validate checks the claims the jwt package does not: sub, sid, jti and iat
// are required.
func (c *tokenClaims) Validate() error {
	if c.Subject == "" || c.SID == "" || c.ID == "" || c.IssuedAt == nil {
		return jwt.ErrTokenRequiredClaimMissing
	}
	return nil
}

// issueAccess signs an access token for user in session sid.
func (s *Service) issueAccess(ctx context.Context, user core.UserID, sid string, now time.Time) (string, time.Time, error) {
	k, err := s.signingKey(ctx, now)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(s.cfg.AccessTTL)
	if exp.After(k.NotAfter) {
		exp = k.NotAfter // a key signing past its period: never outlive its publication
	}
	exp = exp.Truncate(time.Second)
	claims := &tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   string(user),
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        core.NewID("t"),
		},
		SID: sid,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = k.ID
	signed, err := t.SignedString(k.Private)
	if err != nil {
		return "", time.Time{}, errs.Wrap(errs.Internal, err, "auth: sign access token")
	}
	return signed, exp, nil
}

// Verify checks an access token and returns its claims. The signature must be
// EdDSA by a published key and iss, aud, exp, iat, sub, sid and jti must be
// present and right. An expired token fails with errs.TokenExpired, a token
// of a revoked session with errs.Revoked, anything else wrong with
// errs.TokenInvalid.
//
// A token that passed once is remembered (up to DefaultCacheSize tokens), so
// checking it again costs a SHA-256 of the token and a map lookup; expiry and
// revocation are checked on every call. Verify does no I/O except when the
// token names a key this node does not know, which makes it reload the keys
// at most once a second. It is safe for concurrent use.
func (s *Service) Verify(token string) (Claims, error) {
	now := s.clock.Now()
	key := sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
	if c, ok := s.cache.get(&key); ok {
		return c, s.checkLive(c, now)
	}
	c, err := s.verifySignature(token, now)
	if err != nil {
		return Claims{}, err
	}
	if err := s.checkLive(c, now); err != nil {
		return Claims{}, err
	}
	s.cache.put(&key, c, now)
	return c, nil
}

// checkLive checks what can change after a token was verified.
func (s *Service) checkLive(c Claims, now time.Time) error {
	if s.revoked.has(c.SessionID, now) {
		return errs.E(errs.Revoked, "the sign-in session was revoked")
	}
	if !now.Before(c.ExpiresAt) {
		return errs.E(errs.TokenExpired, "access token expired")
	}
	return nil
}

// verifySignature parses token and checks its signature and claims.
func (s *Service) verifySignature(token string, now time.Time) (Claims, error) {
	var tc tokenClaims
	var kid string
	_, err := s.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid header")
		}
		return s.publicKey(kid, now)
	})
	if err != nil {
		if errors.Is(err, errUnknownKey) && tc.ExpiresAt != nil && !now.Before(tc.ExpiresAt.Time) {
			// The key was retired because every token it signed has
			// expired. Saying so, although the signature could not be
			// checked, grants nothing and tells the client to refresh
			// rather than to sign in again.
			return Claims{}, errs.Wrap(errs.TokenExpired, err, "access token expired")
		}
		if expiredOnly(err) {
			return Claims{}, errs.Wrap(errs.TokenExpired, err, "access token expired")
		}
		return Claims{}, errs.Wrap(errs.TokenInvalid, err, "access token is not valid")
	}
	return Claims{
		UserID:    core.UserID(tc.Subject),
		SessionID: tc.SID,
		IssuedAt:  tc.IssuedAt.Time,
		ExpiresAt: tc.ExpiresAt.Time,
		KeyID:     kid,
	}, nil
}

// expiredOnly reports whether the only thing wrong with a token whose
// signature is valid is that it expired.
func expiredOnly(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidAudience, jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidSubject, jwt.ErrInvalidType,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}
