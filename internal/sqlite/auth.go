package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// AuthStore keeps accounts, sign-in sessions, refresh tokens, signing keys
// and one-time codes in the app database. It is safe for concurrent use.
type AuthStore struct {
	db *DB
}

// NewAuthStore returns the auth store of db, which must be the app database
// (set "app").
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

func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullUS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromUS(v.Int64)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func strPtr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

type scanner interface{ Scan(...any) error }

const userCols = `id, email, phone, handle, display_name, avatar_url, created_at`

func scanUser(r scanner, extra ...any) (auth.User, error) {
	var u auth.User
	var phone sql.NullString
	var created int64
	dest := append([]any{&u.ID, &u.Email, &phone, &u.Handle, &u.DisplayName, &u.AvatarURL, &created}, extra...)
	if err := r.Scan(dest...); err != nil {
		return auth.User{}, err
	}
	u.Phone = phone.String
	u.CreatedAt = fromUS(created)
	return u, nil
}

// CreateUser implements auth.UserStore.
func (s *AuthStore) CreateUser(ctx context.Context, u auth.User, passwordHash string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userCols+`, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Email, nullString(u.Phone), u.Handle, u.DisplayName, u.AvatarURL, us(u.CreatedAt), passwordHash)
		if IsUnique(err) {
			return takenField(ctx, tx, u, err)
		}
		if err != nil {
			return fmt.Errorf("sqlite: create user: %w", err)
		}
		return nil
	})
}

// takenField names the unique field of u that another user holds. SQLite
// reports a constraint failure only in its message text, so the store asks
// instead; the failed statement alone was rolled back and the transaction
// still holds the write lock, so the answer is exact.
func takenField(ctx context.Context, tx *sql.Tx, u auth.User, cause error) error {
	var email, handle, phone bool
	err := tx.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM users WHERE email = ?),
		EXISTS (SELECT 1 FROM users WHERE handle = ?),
		EXISTS (SELECT 1 FROM users WHERE phone = ?)`, u.Email, u.Handle, nullString(u.Phone)).Scan(&email, &handle, &phone)
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	switch {
	case email:
		return errs.Wrap(errs.AlreadyExists, cause, "email is already taken")
	case handle:
		return errs.Wrap(errs.AlreadyExists, cause, "handle is already taken")
	case phone:
		return errs.Wrap(errs.AlreadyExists, cause, "phone is already taken")
	}
	return errs.Wrap(errs.AlreadyExists, cause, "user already exists")
}

// UserByID implements auth.UserStore.
func (s *AuthStore) UserByID(ctx context.Context, id core.UserID) (auth.User, error) {
	u, err := scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if err != nil {
		return auth.User{}, notFound(err, "user not found")
	}
	return u, nil
}

// UsersByID implements auth.UserStore.
func (s *AuthStore) UsersByID(ctx context.Context, ids []core.UserID) ([]auth.User, error) {
	out := []auth.User{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		chunk := ids[:n]
		ids = ids[n:]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := `SELECT ` + userCols + ` FROM users WHERE id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
		rows, err := s.db.R.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: users: %w", err)
		}
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: users: %w", err)
			}
			out = append(out, u)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("sqlite: users: %w", err)
		}
	}
	return out, nil
}

// UpdateProfile implements auth.UserStore.
func (s *AuthStore) UpdateProfile(ctx context.Context, id core.UserID, p auth.ProfileUpdate) (auth.User, error) {
	u, err := scanUser(s.db.W.QueryRowContext(ctx, `UPDATE users SET
			display_name = COALESCE(?, display_name),
			handle = COALESCE(?, handle),
			avatar_url = COALESCE(?, avatar_url)
		WHERE id = ? RETURNING `+userCols, strPtr(p.DisplayName), strPtr(p.Handle), strPtr(p.AvatarURL), id))
	if IsUnique(err) {
		return auth.User{}, errs.Wrap(errs.AlreadyExists, err, "handle is already taken")
	}
	if err != nil {
		return auth.User{}, notFound(err, "user not found")
	}
	return u, nil
}

func (s *AuthStore) account(ctx context.Context, where string, arg any) (auth.Account, error) {
	var a auth.Account
	u, err := scanUser(s.db.R.QueryRowContext(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE `+where, arg), &a.PasswordHash)
	if err != nil {
		return auth.Account{}, notFound(err, "account not found")
	}
	a.User = u
	return a, nil
}

// AccountByEmail implements auth.CredentialStore.
func (s *AuthStore) AccountByEmail(ctx context.Context, email string) (auth.Account, error) {
	return s.account(ctx, `email = ?`, email)
}

// AccountByPhone implements auth.CredentialStore.
func (s *AuthStore) AccountByPhone(ctx context.Context, phone string) (auth.Account, error) {
	return s.account(ctx, `phone = ?`, phone)
}

// SetPasswordHash implements auth.CredentialStore.
func (s *AuthStore) SetPasswordHash(ctx context.Context, id core.UserID, hash string) error {
	res, err := s.db.W.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	if err != nil {
		return fmt.Errorf("sqlite: set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "user not found")
	}
	return nil
}

// CreateSession implements auth.SessionStore.
func (s *AuthStore) CreateSession(ctx context.Context, sess auth.Session, refreshHash []byte) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO auth_sessions (id, user_id, created_at, last_used_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, sess.ID, sess.UserID, us(sess.CreatedAt), us(sess.LastUsedAt), us(sess.ExpiresAt)); err != nil {
			return fmt.Errorf("sqlite: create session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)`,
			refreshHash, sess.ID, us(sess.CreatedAt)); err != nil {
			return fmt.Errorf("sqlite: create refresh token: %w", err)
		}
		return nil
	})
}

const sessionCols = `id, user_id, created_at, last_used_at, expires_at, revoked_at`

func scanSession(r scanner) (auth.Session, error) {
	var ss auth.Session
	var created, used, expires int64
	var revoked sql.NullInt64
	if err := r.Scan(&ss.ID, &ss.UserID, &created, &used, &expires, &revoked); err != nil {
		return auth.Session{}, err
	}
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt, ss.RevokedAt = fromUS(created), fromUS(used), fromUS(expires), fromNullUS(revoked)
	return ss, nil
}

// RevokeSession implements auth.SessionStore.
func (s *AuthStore) RevokeSession(ctx context.Context, sid string, now time.Time, reason string) (auth.Session, error) {
	var ss auth.Session
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE auth_sessions SET revoked_at = ?, revoke_reason = ?
			WHERE id = ? AND revoked_at IS NULL`, us(now), reason, sid); err != nil {
			return fmt.Errorf("sqlite: revoke session: %w", err)
		}
		var err error
		ss, err = scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM auth_sessions WHERE id = ?`, sid))
		return notFound(err, "session not found")
	})
	return ss, err
}

// RevokeUserSessions implements auth.SessionStore.
func (s *AuthStore) RevokeUserSessions(ctx context.Context, user core.UserID, now time.Time, reason string) ([]string, error) {
	rows, err := s.db.W.QueryContext(ctx, `UPDATE auth_sessions SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND revoked_at IS NULL RETURNING id`, us(now), reason, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke user sessions: %w", err)
	}
	return collectIDs(rows)
}

func collectIDs(rows *sql.Rows) ([]string, error) {
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: scan id: %w", err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: ids: %w", err)
	}
	return ids, nil
}

// RevokedSince implements auth.SessionStore.
func (s *AuthStore) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM auth_sessions WHERE revoked_at >= ?`, us(since))
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoked sessions: %w", err)
	}
	return collectIDs(rows)
}

// RefreshToken implements auth.RefreshTokenStore.
func (s *AuthStore) RefreshToken(ctx context.Context, hash []byte) (auth.RefreshToken, auth.Session, error) {
	var t auth.RefreshToken
	var created int64
	var spent sql.NullInt64
	row := s.db.R.QueryRowContext(ctx, `SELECT t.hash, t.created_at, t.spent_at,
		s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at
		FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id WHERE t.hash = ?`, hash)
	var ss auth.Session
	var sCreated, sUsed, sExpires int64
	var sRevoked sql.NullInt64
	if err := row.Scan(&t.Hash, &created, &spent, &ss.ID, &ss.UserID, &sCreated, &sUsed, &sExpires, &sRevoked); err != nil {
		return auth.RefreshToken{}, auth.Session{}, notFound(err, "refresh token not found")
	}
	t.SessionID, t.CreatedAt, t.SpentAt = ss.ID, fromUS(created), fromNullUS(spent)
	ss.CreatedAt, ss.LastUsedAt, ss.ExpiresAt, ss.RevokedAt = fromUS(sCreated), fromUS(sUsed), fromUS(sExpires), fromNullUS(sRevoked)
	return t, ss, nil
}

// RotateRefreshToken implements auth.RefreshTokenStore.
func (s *AuthStore) RotateRefreshToken(ctx context.Context, sid string, oldHash, newHash []byte, now, expiresAt time.Time) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE auth_sessions SET last_used_at = ?, expires_at = ?
			WHERE id = ? AND revoked_at IS NULL AND expires_at > ?`, us(now), us(expiresAt), sid, us(now))
		if err != nil {
			return fmt.Errorf("sqlite: rotate refresh token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.Revoked, "session is revoked or expired")
		}
		res, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET spent_at = ?
			WHERE hash = ? AND session_id = ? AND spent_at IS NULL`, us(now), oldHash, sid)
		if err != nil {
			return fmt.Errorf("sqlite: rotate refresh token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE hash = ? AND session_id = ?)`,
				oldHash, sid).Scan(&exists); err != nil {
				return fmt.Errorf("sqlite: rotate refresh token: %w", err)
			}
			if exists {
				return errs.E(errs.Conflict, "refresh token already spent")
			}
			return errs.E(errs.NotFound, "refresh token not found")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)`,
			newHash, sid, us(now)); err != nil {
			return fmt.Errorf("sqlite: rotate refresh token: %w", err)
		}
		return nil
	})
}

// SigningKeys implements auth.KeyStore.
func (s *AuthStore) SigningKeys(ctx context.Context) ([]auth.SigningKey, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT kid, seq, seed, created_at, not_after FROM signing_keys ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	defer rows.Close()
	keys := []auth.SigningKey{}
	for rows.Next() {
		var k auth.SigningKey
		var seed []byte
		var created, notAfter int64
		if err := rows.Scan(&k.ID, &k.Seq, &seed, &created, &notAfter); err != nil {
			return nil, fmt.Errorf("sqlite: signing keys: %w", err)
		}
		if len(seed) != ed25519.SeedSize {
			return nil, errs.E(errs.Internal, "sqlite: signing key %s has a %d-byte seed", k.ID, len(seed))
		}
		k.Private = ed25519.NewKeyFromSeed(seed)
		k.CreatedAt, k.NotAfter = fromUS(created), fromUS(notAfter)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: signing keys: %w", err)
	}
	return keys, nil
}

// AddSigningKey implements auth.KeyStore.
func (s *AuthStore) AddSigningKey(ctx context.Context, k auth.SigningKey) error {
	if len(k.Private) != ed25519.PrivateKeySize {
		return errs.E(errs.InvalidArgument, "sqlite: signing key %s is not an Ed25519 private key", k.ID)
	}
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO signing_keys (kid, seq, seed, created_at, not_after) VALUES (?, ?, ?, ?, ?)`,
		k.ID, k.Seq, k.Private.Seed(), us(k.CreatedAt), us(k.NotAfter))
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "signing key already exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: add signing key: %w", err)
	}
	return nil
}

// PutCode implements auth.CodeStore.
func (s *AuthStore) PutCode(ctx context.Context, c auth.Code) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO auth_codes (id, purpose, address, user_id, hash, attempts, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (purpose, address) DO UPDATE SET id = excluded.id, user_id = excluded.user_id, hash = excluded.hash,
			attempts = 0, created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.ID, c.Purpose, c.Address, c.UserID, c.Hash, us(c.CreatedAt), us(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlite: put code: %w", err)
	}
	return nil
}

// AttemptCode implements auth.CodeStore.
func (s *AuthStore) AttemptCode(ctx context.Context, purpose auth.Purpose, address string, now time.Time, maxAttempts int) (auth.Code, error) {
	c := auth.Code{Purpose: purpose, Address: address}
	var created, expires int64
	err := s.db.W.QueryRowContext(ctx, `UPDATE auth_codes SET attempts = attempts + 1
		WHERE purpose = ? AND address = ? AND expires_at > ? AND attempts < ?
		RETURNING id, user_id, hash, attempts, created_at, expires_at`, purpose, address, us(now), maxAttempts).
		Scan(&c.ID, &c.UserID, &c.Hash, &c.Attempts, &created, &expires)
	if err != nil {
		return auth.Code{}, notFound(err, "no live code")
	}
	c.CreatedAt, c.ExpiresAt = fromUS(created), fromUS(expires)
	return c, nil
}

// ConsumeCode implements auth.CodeStore.
func (s *AuthStore) ConsumeCode(ctx context.Context, id string) error {
	res, err := s.db.W.ExecContext(ctx, `DELETE FROM auth_codes WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: consume code: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "code not found")
	}
	return nil
}

// Prune implements auth.Pruner.
func (s *AuthStore) Prune(ctx context.Context, before time.Time) error {
	b := us(before)
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM auth_codes WHERE expires_at < ?`,
			`DELETE FROM auth_sessions WHERE expires_at < ?1 OR revoked_at < ?1`,
			`DELETE FROM signing_keys WHERE not_after < ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, b); err != nil {
				return fmt.Errorf("sqlite: prune: %w", err)
			}
		}
		return nil
	})
}
