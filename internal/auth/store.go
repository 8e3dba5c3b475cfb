package auth

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// The store interfaces below are all the I/O package auth does. Adapters
// (internal/sqlite, internal/postgres) implement them and pass the contract
// suite in internal/auth/authtest. Every method is safe for concurrent use.
// Times are stored with at least microsecond precision; the Service rounds the
// times it passes down to the microsecond.

// Account is a user together with the hash of their password, as the
// credential lookups return it.
type Account struct {
	User
	PasswordHash string
}

// ProfileUpdate changes the fields of a profile that are not nil.
type ProfileUpdate struct {
	DisplayName *string
	Handle      *string
	AvatarURL   *string
}

// UserStore holds the public side of accounts.
type UserStore interface {
	// CreateUser inserts u with its password hash. A taken email, handle or
	// phone (compared case-insensitively for email and handle) fails with an
	// errs.AlreadyExists error whose message names the field, e.g.
	// "email is already taken".
	CreateUser(ctx context.Context, u User, passwordHash string) error
	// UserByID returns the user, or an errs.NotFound error.
	UserByID(ctx context.Context, id core.UserID) (User, error)
	// UsersByID returns the users that exist among ids, in no particular
	// order.
	UsersByID(ctx context.Context, ids []core.UserID) ([]User, error)
	// UpdateProfile applies p atomically and returns the updated user. A taken
	// handle fails with errs.AlreadyExists ("handle is already taken"), an
	// unknown id with errs.NotFound.
	UpdateProfile(ctx context.Context, id core.UserID, p ProfileUpdate) (User, error)
}

// CredentialStore finds accounts by the addresses people sign in with and
// changes passwords.
type CredentialStore interface {
	// AccountByEmail returns the account whose email equals email
	// case-insensitively, or an errs.NotFound error.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// AccountByPhone returns the account with phone (E.164), or an
	// errs.NotFound error.
	AccountByPhone(ctx context.Context, phone string) (Account, error)
	// SetPasswordHash replaces the password hash of a user, or returns an
	// errs.NotFound error.
	SetPasswordHash(ctx context.Context, id core.UserID, hash string) error
}

// Session is a sign-in session: the family of refresh tokens that one sign-in
// started. Its ID is the sid claim of every access token issued for it.
type Session struct {
	ID         string
	UserID     core.UserID
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time // LastUsedAt + RefreshTTL
	RevokedAt  time.Time // zero while the session is live
}

// Revoked reports whether the session was revoked.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// SessionStore keeps sign-in sessions.
type SessionStore interface {
	// CreateSession inserts s and its first refresh token, stored by hash.
	CreateSession(ctx context.Context, s Session, refreshHash []byte) error
	// RevokeSession marks the session revoked at now with reason and returns
	// it. Revoking a revoked session changes nothing and returns it as it is.
	// An unknown sid fails with errs.NotFound.
	RevokeSession(ctx context.Context, sid string, now time.Time, reason string) (Session, error)
	// RevokeUserSessions revokes every live session of user and returns their
	// ids.
	RevokeUserSessions(ctx context.Context, user core.UserID, now time.Time, reason string) ([]string, error)
	// RevokedSince returns the ids of sessions revoked at or after since, so
	// that a starting node knows which access tokens to refuse.
	RevokedSince(ctx context.Context, since time.Time) ([]string, error)
}

// RefreshToken is the stored form of a refresh token: only its hash.
type RefreshToken struct {
	Hash      []byte
	SessionID string
	CreatedAt time.Time
	SpentAt   time.Time // zero until the token is used
}

// Spent reports whether the token was used already.
func (t RefreshToken) Spent() bool { return !t.SpentAt.IsZero() }

// RefreshTokenStore finds and rotates refresh tokens.
type RefreshTokenStore interface {
	// RefreshToken returns the token with hash and its session, or an
	// errs.NotFound error.
	RefreshToken(ctx context.Context, hash []byte) (RefreshToken, Session, error)
	// RotateRefreshToken atomically spends the token oldHash of session sid,
	// stores newHash as the session's next token and extends the session to
	// expiresAt. If oldHash is already spent it fails with errs.Conflict; if
	// the session is revoked or has expired by now, with errs.Revoked. On
	// failure nothing changes.
	RotateRefreshToken(ctx context.Context, sid string, oldHash, newHash []byte, now, expiresAt time.Time) error
}

// SigningKey is an Ed25519 key that signs access tokens. It signs from
// CreatedAt until the next key's CreatedAt, and its public key is published
// until NotAfter, when every token it signed has expired.
type SigningKey struct {
	ID        string // the kid header of the tokens it signs
	Seq       int64  // 1, 2, 3...: the next key has the next number
	Private   ed25519.PrivateKey
	CreatedAt time.Time
	NotAfter  time.Time
}

// KeyStore shares signing keys between the nodes of a deployment.
type KeyStore interface {
	// SigningKeys returns every stored key.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey inserts k. If a key with the same Seq or ID exists it
	// fails with errs.AlreadyExists and inserts nothing: when two nodes rotate
	// at once, exactly one of them wins.
	AddSigningKey(ctx context.Context, k SigningKey) error
}

// Code is a one-time code as stored: only a hash of the digits.
type Code struct {
	ID        string
	Purpose   Purpose
	Address   string // normalised email or E.164 phone
	UserID    core.UserID
	Hash      []byte
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CodeStore keeps one-time codes, at most one per purpose and address.
type CodeStore interface {
	// PutCode stores c, replacing any code with the same purpose and address.
	PutCode(ctx context.Context, c Code) error
	// AttemptCode atomically counts one verification attempt against the code
	// of purpose and address and returns it (with Attempts already counting
	// this one). It fails with errs.NotFound if there is no such code, it has
	// expired by now, or it already had maxAttempts attempts.
	AttemptCode(ctx context.Context, purpose Purpose, address string, now time.Time, maxAttempts int) (Code, error)
	// ConsumeCode deletes the code id. It fails with errs.NotFound if the code
	// is gone, so that of two concurrent uses only one succeeds.
	ConsumeCode(ctx context.Context, id string) error
}

// Pruner deletes what has outlived its use.
type Pruner interface {
	// Prune deletes codes that expired before before, sessions (and their
	// refresh tokens) that expired or were revoked before before, and keys
	// whose NotAfter is before before.
	Prune(ctx context.Context, before time.Time) error
}

// Store is everything the Service needs from a database.
type Store interface {
	UserStore
	CredentialStore
	SessionStore
	RefreshTokenStore
	KeyStore
	CodeStore
	Pruner
}
