package postgres

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// AuthStore keeps accounts, sign-in sessions, refresh tokens, signing keys
// and one-time codes in PostgreSQL, shared by every node. It is safe for
// concurrent use.
type AuthStore struct {
	db *DB
}

// NewAuthStore returns the auth store of db.
func NewAuthStore(db *DB) *AuthStore { return &AuthStore{db: db} }

var (
	_ auth.Store             = (*AuthStore)(nil)
	_ auth.UserStore         = (*AuthStore)(nil)
	_ auth.CredentialStore   = (*AuthStore)(nil)
	_ auth.SessionStore      = (*AuthStore)(nil)
	_ auth.RefreshTokenStore = (*AuthStore)(nil)
	_ auth.KeyStore          = (*AuthStore)(nil)
	_ auth.CodeStore         = (*AuthStore)(nil)
	_ auth.Pruner            = (*AuthStore)(nil)
)

// constraint returns the name of the constraint or index err violated.
func constraint(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.ConstraintName
	}
	return ""
}

// taken maps a unique violation on users to the field it concerns.
func taken(err error) error {
	switch constraint(err) {
	case "users_email_key":
		return errs.Wrap(errs.AlreadyExists, err, "email is already taken")
	case "users_handle_key":
		return errs.Wrap(errs.AlreadyExists, err, "handle is already taken")
	case "users_phone_key":
		return errs.Wrap(errs.AlreadyExists, err, "phone is already taken")
	}
	return errs.Wrap(errs.AlreadyExists, err, "user already exists")
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

const userCols = `id, email, phone, handle, display_name, avatar_url, created_at`

func scanUser(r pgx.Row, extra ...any) (auth.User, error) {
	var u auth.User
	var id string
	var phone *string
	dest := append([]any{&id, &u.Email, &phone, &u.Handle, &u.DisplayName, &u.AvatarURL, &u.CreatedAt}, extra...)
	if err := r.Scan(dest...); err != nil {
		return auth.User{}, err
	}
	u.ID = core.UserID(id)
	if phone != nil {
		u.Phone = *phone
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// CreateUser implements auth.UserStore.
func (s *AuthStore) CreateUser(ctx context.Context, u auth.User, passwordHash string) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO users (`+userCols+`, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		string(u.ID), u.Email, nullString(u.Phone), u.Handle, u.DisplayName, u.AvatarURL, u.CreatedAt, passwordHash)
	if IsUnique(err) {
		return taken(err)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	return nil
}

// UserByID implements auth.UserStore.
func (s *AuthStore) UserByID(ctx context.Context, id core.UserID) (auth.User, error) {
	u, err := scanUser(s.db.Pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, string(id)))
	if err != nil {
		return auth.User{}, notFound(err, "user not found")
	}
	return u, nil
}

// UsersByID implements auth.UserStore.
func (s *AuthStore) UsersByID(ctx context.Context, ids []core.UserID) ([]auth.User, error) {
	strs := make([]string, len(ids))
	for i, id := range ids {
		strs[i] = string(id)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+userCols+` FROM users WHERE id = ANY($1)`, strs)
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	defer rows.Close()
	out := []auth.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	return out, nil
}

// UpdateProfile implements auth.UserStore.
func (s *AuthStore) UpdateProfile(ctx context.Context, id core.UserID, p auth.ProfileUpdate) (auth.User, error) {
	u, err := scanUser(s.db.Pool.QueryRow(ctx, `UPDATE users SET
			display_name = COALESCE($1, display_name),
			handle = COALESCE($2, handle),
			avatar_url = COALESCE($3, avatar_url)
		WHERE id = $4 RETURNING `+userCols, p.DisplayName, p.Handle, p.AvatarURL, string(id)))
	if IsUnique(err) {
		return auth.User{}, taken(err)
	}
	if err != nil {
		return auth.User{}, notFound(err, "user not found")
	}
	return u, nil
}

func (s *AuthStore) account(ctx context.Context, where string, arg string) (auth.Account, error) {
	var a auth.Account
	u, err := scanUser(s.db.Pool.QueryRow(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE `+where, arg), &a.PasswordHash)
	if err != nil {
		return auth.Account{}, notFound(err, "account not found")
	}
	a.User = u
	return a, nil
}

// AccountByEmail implements auth.CredentialStore.
func (s *AuthStore) AccountByEmail(ctx context.Context, email string) (auth.Account, error) {
	return s.account(ctx, `lower(email) = lower($1)`, email)
}

// AccountByPhone implements auth.CredentialStore.
func (s *AuthStore) AccountByPhone(ctx context.Context, phone string) (auth.Account, error) {
	return s.account(ctx, `phone = $1`, phone)
}

// SetPasswordHash implements auth.CredentialStore.
func (s *AuthStore) SetPasswordHash(ctx context.Context, id core.UserID, hash string) error {
	tag, err := s.db.Pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, string(id))
	if err != nil {
		return fmt.Errorf("postgres: set password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.NotFound, "user not found")
	}
	return nil
}

// CreateSession implements auth.SessionStore.
func (s *AuthStore) CreateSession(ctx context.Context, sess auth.Session, refreshHash []byte) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO auth_sessions (id, user_id, created_at, last_used_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, sess.ID, string(sess.UserID), sess.CreatedAt, sess.LastUsedAt, sess.ExpiresAt); err != nil {
			return fmt.Errorf("postgres: create session: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)`,
			refreshHash, sess.ID, sess.CreatedAt); err != nil {
			return fmt.Errorf("postgres: create refresh token: %w", err)
		}
		return nil
	})
}

const sessionCols = `id, user_id, created_at, last_used_at, expires_at, revoked_at`

func scanSession(r pgx.Row) (auth.Session, error) {
	var ss auth.Session
	var user string
	var revoked *time.Time
	if err := r.Scan(&ss.ID, &user, &ss.CreatedAt, &ss.LastUsedAt, &ss.ExpiresAt, &revoked); err != nil {
		return auth.Session{}, err
	}
	ss.UserID = core.UserID(user)
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt, ss.RevokedAt = ss.CreatedAt.UTC(), ss.LastUsedAt.UTC(), ss.ExpiresAt.UTC(), utc(revoked)
	return ss, nil
}

// RevokeSession implements auth.SessionStore.
func (s *AuthStore) RevokeSession(ctx context.Context, sid string, now time.Time, reason string) (auth.Session, error) {
	// COALESCE keeps the first revocation's time when the session was
	// revoked already.
	ss, err := scanSession(s.db.Pool.QueryRow(ctx, `UPDATE auth_sessions
		SET revoked_at = COALESCE(revoked_at, $1), revoke_reason = COALESCE(revoke_reason, $2)
		WHERE id = $3 RETURNING `+sessionCols, now, reason, sid))
	if err != nil {
		return auth.Session{}, notFound(err, "session not found")
	}
	return ss, nil
}

// RevokeUserSessions implements auth.SessionStore.
func (s *AuthStore) RevokeUserSessions(ctx context.Context, user core.UserID, now time.Time, reason string) ([]string, error) {
	rows, err := s.db.Pool.Query(ctx, `UPDATE auth_sessions SET revoked_at = $1, revoke_reason = $2
		WHERE user_id = $3 AND revoked_at IS NULL RETURNING id`, now, reason, string(user))
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke user sessions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke user sessions: %w", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// RevokedSince implements auth.SessionStore.
func (s *AuthStore) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id FROM auth_sessions WHERE revoked_at >= $1`, since)
	if err != nil {
		return nil, fmt.Errorf("postgres: revoked sessions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: revoked sessions: %w", err)
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// RefreshToken implements auth.RefreshTokenStore.
func (s *AuthStore) RefreshToken(ctx context.Context, hash []byte) (auth.RefreshToken, auth.Session, error) {
	var t auth.RefreshToken
	var spent *time.Time
	var ss auth.Session
	var user string
	var revoked *time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT t.hash, t.created_at, t.spent_at,
		s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at
		FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id WHERE t.hash = $1`, hash).
		Scan(&t.Hash, &t.CreatedAt, &spent, &ss.ID, &user, &ss.CreatedAt, &ss.LastUsedAt, &ss.ExpiresAt, &revoked)
	if err != nil {
		return auth.RefreshToken{}, auth.Session{}, notFound(err, "refresh token not found")
	}
	t.SessionID, t.CreatedAt, t.SpentAt = ss.ID, t.CreatedAt.UTC(), utc(spent)
	ss.UserID = core.UserID(user)
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt, ss.RevokedAt = ss.CreatedAt.UTC(), ss.LastUsedAt.UTC(), ss.ExpiresAt.UTC(), utc(revoked)
	return t, ss, nil
}

// RotateRefreshToken implements auth.RefreshTokenStore. The conditional
// updates make concurrent rotations of one token safe under READ COMMITTED:
// the second waits for the first's row lock, re-checks spent_at IS NULL and
// finds the token spent.
func (s *AuthStore) RotateRefreshToken(ctx context.Context, sid string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE auth_sessions SET last_used_at = $1, expires_at = $2
			WHERE id = $3 AND revoked_at IS NULL AND expires_at > $1`, now, expiresAt, sid)
		if err != nil {
			return fmt.Errorf("postgres: rotate refresh token: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errs.E(errs.Revoked, "session is revoked or expired")
		}
		tag, err = tx.Exec(ctx, `UPDATE refresh_tokens SET spent_at = $1
			WHERE hash = $2 AND session_id = $3 AND spent_at IS NULL`, now, oldHash, sid)
		if err != nil {
			return fmt.Errorf("postgres: rotate refresh token: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE hash = $1 AND session_id = $2)`,
				oldHash, sid).Scan(&exists); err != nil {
				return fmt.Errorf("postgres: rotate refresh token: %w", err)
			}
			if exists {
				return errs.E(errs.Conflict, "refresh token already spent")
			}
			return errs.E(errs.NotFound, "refresh token not found")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)`,
			newHash, sid, now); err != nil {
			return fmt.Errorf("postgres: rotate refresh token: %w", err)
		}
		return nil
	})
}

// SigningKeys implements auth.KeyStore.
func (s *AuthStore) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT kid, seq, seed, created_at, not_after FROM signing_keys ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	defer rows.Close()
	keys := []auth.SigningKey{}
	for rows.Next() {
		var k auth.SigningKey
		var seed []byte
		if err := rows.Scan(&k.ID, &k.Seq, &seed, &k.CreatedAt, &k.NotAfter); err != nil {
			return nil, fmt.Errorf("postgres: signing keys: %w", err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, errs.E(errs.Internal, "postgres: signing key %s has a %d-byte seed", k.ID, len(seed))
		}
		k.Private = ed25519.NewKeyFromSeed(seed)
		k.CreatedAt, k.NotAfter = k.CreatedAt.UTC(), k.NotAfter.UTC()
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: signing keys: %w", err)
	}
	return keys, nil
}

// AddSigningKey implements auth.KeyStore. Of two nodes adding the same seq at
// once, the unique index lets exactly one commit.
func (s *AuthStore) AddSigningKey(ctx context.Context, k auth.SigningKey) error {
	if len(k.Private) != ed25519.PrivateKeySize {
		return errs.E(errs.InvalidArgument, "postgres: signing key %s is not an Ed25519 private key", k.ID)
	}
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO signing_keys (kid, seq, seed, created_at, not_after) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Seq, k.Private.Seed(), k.CreatedAt, k.NotAfter)
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "signing key already exists")
	}
	if err != nil {
		return fmt.Errorf("postgres: add signing key: %w", err)
	}
	return nil
}

// PutCode implements auth.CodeStore.
func (s *AuthStore) PutCode(ctx context.Context, c auth.Code) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO auth_codes (id, purpose, address, user_id, hash, attempts, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $7)
		ON CONFLICT (purpose, address) DO UPDATE SET id = excluded.id, user_id = excluded.user_id, hash = excluded.hash,
			attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.ID, string(c.Purpose), c.Address, string(c.UserID), c.Hash, c.CreatedAt, c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: put code: %w", err)
	}
	return nil
}

// AttemptCode implements auth.CodeStore.
func (s *AuthStore) AttemptCode(ctx context.Context, purpose auth.Purpose, address string, now time.Time, maxAttempts int) (auth.Code, error) {
	c := auth.Code{Purpose: purpose, Address: address}
	var user string
	err := s.db.Pool.QueryRow(ctx, `UPDATE auth_codes SET attempts = attempts + 1
		WHERE purpose = $1 AND address = $2 AND expires_at > $3 AND attempts < $4
		RETURNING id, user_id, hash, attempts, created_at, expires_at`, string(purpose), address, now, maxAttempts).
		Scan(&c.ID, &user, &c.Hash, &c.Attempts, &c.CreatedAt, &c.ExpiresAt)
	if err != nil {
		return auth.Code{}, notFound(err, "no live code")
	}
	c.UserID = core.UserID(user)
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	return c, nil
}

// ConsumeCode implements auth.CodeStore.
func (s *AuthStore) ConsumeCode(ctx context.Context, id string) error {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM auth_codes WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: consume code: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.NotFound, "code not found")
	}
	return nil
}

// Prune implements auth.Pruner.
func (s *AuthStore) Prune(ctx context.Context, before time.Time) error {
	return s.db.Tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{
			`DELETE FROM auth_codes WHERE expires_at < $1`,
			`DELETE FROM auth_sessions WHERE expires_at < $1 OR revoked_at < $1`,
			`DELETE FROM signing_keys WHERE not_after < $1`,
		} {
			if _, err := tx.Exec(ctx, q, before); err != nil {
				return fmt.Errorf("postgres: prune: %w", err)
			}
		}
		return nil
	})
}
