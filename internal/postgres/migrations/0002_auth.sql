-- Accounts, sign-in sessions, refresh tokens, signing keys and one-time
-- codes (internal/auth).

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL,
	phone         TEXT,
	handle        TEXT NOT NULL,
	display_name  TEXT NOT NULL,
	avatar_url    TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL
);
-- The index names are what the store reports as the taken field.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_handle_key ON users (lower(handle));
CREATE UNIQUE INDEX users_phone_key ON users (phone);

-- A sign-in session is a family of refresh tokens; its id is the sid claim.
CREATE TABLE auth_sessions (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at    TIMESTAMPTZ NOT NULL,
	last_used_at  TIMESTAMPTZ NOT NULL,
	expires_at    TIMESTAMPTZ NOT NULL,
	revoked_at    TIMESTAMPTZ,
	revoke_reason TEXT
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires ON auth_sessions (expires_at);
CREATE INDEX auth_sessions_revoked ON auth_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Refresh tokens are stored as SHA-256 hashes only.
CREATE TABLE refresh_tokens (
	hash       BYTEA PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
	created_at TIMESTAMPTZ NOT NULL,
	spent_at   TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- seq is unique so that two nodes rotating at once cannot both add a key.
CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	seq        BIGINT NOT NULL UNIQUE,
	seed       BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	not_after  TIMESTAMPTZ NOT NULL
);

-- At most one live code per purpose and address; only a hash of the digits.
CREATE TABLE auth_codes (
	id         TEXT PRIMARY KEY,
	purpose    TEXT NOT NULL,
	address    TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       BYTEA NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	UNIQUE (purpose, address)
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);
