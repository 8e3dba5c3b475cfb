-- Room analytics (the PostgreSQL analytics sink): one row per ended room
-- and one row per event of its stream, written once per room (the keys
-- make a redelivered job write no duplicate).

CREATE TABLE analytics_room_summaries (
	room_id          TEXT PRIMARY KEY,
	title            TEXT NOT NULL,
	host_id          TEXT NOT NULL,
	visibility       TEXT NOT NULL,
	workspace_id     TEXT NOT NULL DEFAULT '',
	created_at       TIMESTAMPTZ NOT NULL,
	started_at       TIMESTAMPTZ,
	ended_at         TIMESTAMPTZ NOT NULL,
	end_reason       TEXT NOT NULL,
	duration_seconds BIGINT NOT NULL,
	unique_listeners BIGINT NOT NULL,
	peak_concurrent  BIGINT NOT NULL,
	speakers         TEXT[] NOT NULL,
	comments         BIGINT NOT NULL,
	comments_deleted BIGINT NOT NULL,
	reactions_total  BIGINT NOT NULL,
	reactions        JSONB NOT NULL,
	polls            JSONB NOT NULL,
	interested       BIGINT NOT NULL,
	events           BIGINT NOT NULL
);
CREATE INDEX analytics_room_summaries_ended ON analytics_room_summaries (ended_at);

CREATE TABLE analytics_room_events (
	room_id TEXT NOT NULL,
	seq     BIGINT NOT NULL,
	type    TEXT NOT NULL,
	time    TIMESTAMPTZ NOT NULL,
	actor   TEXT NOT NULL,
	data    JSONB,
	PRIMARY KEY (room_id, seq)
);
CREATE INDEX analytics_room_events_time ON analytics_room_events (time);
