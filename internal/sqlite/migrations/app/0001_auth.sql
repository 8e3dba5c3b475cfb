-- Accounts, sign-in sessions, refresh tokens, signing keys and one-time
-- codes (internal/auth). Times are unix microseconds (UTC).

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL COLLATE NOCASE,
	phone         TEXT,
	handle        TEXT NOT NULL COLLATE NOCASE,
	display_name  TEXT NOT NULL,
	avatar_url    TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_handle_key ON users (handle);
CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL;

-- A sign-in session is a family of refresh tokens; its id is the sid claim.
CREATE TABLE auth_sessions (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at    INTEGER NOT NULL,
	last_used_at  INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	revoked_at    INTEGER,
	revoke_reason TEXT
) STRICT;
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires ON auth_sessions (expires_at);
CREATE INDEX auth_sessions_revoked ON auth_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Refresh tokens are stored as SHA-256 hashes only.
CREATE TABLE refresh_tokens (
	hash       BLOB PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
	created_at INTEGER NOT NULL,
	spent_at   INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- seq is unique so that two nodes rotating at once cannot both add a key.
CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	seq        INTEGER NOT NULL UNIQUE,
	seed       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	not_after  INTEGER NOT NULL
) STRICT;

-- At most one live code per purpose and address; only a hash of the digits.
CREATE TABLE auth_codes (
	id         TEXT PRIMARY KEY,
	purpose    TEXT NOT NULL,
	address    TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	UNIQUE (purpose, address)
) STRICT;
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
