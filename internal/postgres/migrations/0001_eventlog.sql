-- The event log. A stream's name is stored once, in eventlog_streams, and
-- its events are keyed by the stream's integer id and their sequence, so
-- that every event row and index entry stays small.
--
-- last_seq is the last sequence ever taken (it never decreases, so sequences
-- are never reused); first_seq is the first one still stored. Appenders lock
-- the head rows of their streams (SELECT ... FOR UPDATE, in name order), so
-- that several nodes can append to one stream safely.
CREATE TABLE eventlog_streams (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      TEXT   NOT NULL UNIQUE,
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL
);

-- data is the event's JSON as given, byte for byte (json and jsonb would
-- not keep it exactly), or NULL; key is the idempotency key of the append
-- that wrote the event, or ''.
CREATE TABLE eventlog_events (
    sid   BIGINT      NOT NULL,
    seq   BIGINT      NOT NULL,
    type  TEXT        NOT NULL,
    at    TIMESTAMPTZ NOT NULL,
    actor TEXT        NOT NULL,
    data  BYTEA,
    key   TEXT        NOT NULL,
    PRIMARY KEY (sid, seq)
);

-- Reads by time (replay as of a time).
CREATE INDEX eventlog_events_at ON eventlog_events (sid, at);

-- Idempotency keys and the sequences their append took.
CREATE TABLE eventlog_keys (
    sid       BIGINT NOT NULL,
    key       TEXT   NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL,
    PRIMARY KEY (sid, key)
);
