-- Live rooms (internal/rooms): the listings read model projected from the
-- room streams, hosts' block lists, follows and the precomputed homes.

CREATE TABLE rooms (
	id           TEXT PRIMARY KEY,
	host_id      TEXT NOT NULL,
	title        TEXT NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	topics       TEXT[] NOT NULL DEFAULT '{}',
	visibility   TEXT NOT NULL,
	workspace_id TEXT NOT NULL DEFAULT '',
	status       TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	scheduled_at TIMESTAMPTZ,
	started_at   TIMESTAMPTZ,
	ended_at     TIMESTAMPTZ,
	end_reason   TEXT NOT NULL DEFAULT '',
	expires_at   TIMESTAMPTZ NOT NULL,
	sort_at      TIMESTAMPTZ NOT NULL,
	participants INTEGER NOT NULL DEFAULT 0,
	speakers     INTEGER NOT NULL DEFAULT 0,
	interested   INTEGER NOT NULL DEFAULT 0,
	summary      JSONB,
	seq          BIGINT NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL,
	archived_at  TIMESTAMPTZ
);
CREATE INDEX rooms_public ON rooms (status, visibility, sort_at, id);
CREATE INDEX rooms_workspace ON rooms (workspace_id, status, sort_at, id) WHERE workspace_id <> '';
CREATE INDEX rooms_host ON rooms (host_id, status, updated_at);
CREATE INDEX rooms_expiry ON rooms (expires_at) WHERE status <> 'ended';
CREATE INDEX rooms_unarchived ON rooms (ended_at) WHERE status = 'ended' AND archived_at IS NULL;

CREATE TABLE room_blocks (
	host_id    TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	blocked_by TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (host_id, user_id)
);

CREATE TABLE follows (
	follower_id TEXT NOT NULL,
	followee_id TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows (followee_id, follower_id);

CREATE TABLE home_items (
	user_id TEXT NOT NULL,
	room_id TEXT NOT NULL,
	via_id  TEXT NOT NULL DEFAULT '',
	reason  TEXT NOT NULL,
	at      TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (user_id, room_id)
);
CREATE INDEX home_items_room ON home_items (room_id);

CREATE TABLE home_state (
	user_id  TEXT PRIMARY KEY,
	built_at TIMESTAMPTZ NOT NULL
);
