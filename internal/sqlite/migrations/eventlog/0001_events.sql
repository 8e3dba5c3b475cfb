-- The event log. A stream's name is stored once, in streams, and its events
-- are keyed by the stream's integer id and their sequence, so that every
-- event row and index entry stays small.
--
-- streams.last_seq is the last sequence ever taken (never decreases, so
-- sequences are never reused); first_seq is the first one still stored.
CREATE TABLE streams (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL UNIQUE,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL
);

-- at is the event's time in microseconds since the Unix epoch (UTC); data is
-- the event's JSON as given, byte for byte, or NULL; key is the idempotency
-- key of the append that wrote the event, or ''.
CREATE TABLE events (
    sid   INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    type  TEXT    NOT NULL,
    at    INTEGER NOT NULL,
    actor TEXT    NOT NULL,
    data  BLOB,
    key   TEXT    NOT NULL,
    PRIMARY KEY (sid, seq)
) WITHOUT ROWID;

-- Reads by time (replay as of a time).
CREATE INDEX events_at ON events (sid, at);

-- Idempotency keys and the sequences their append took.
CREATE TABLE event_keys (
    sid       INTEGER NOT NULL,
    key       TEXT    NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (sid, key)
) WITHOUT ROWID;
