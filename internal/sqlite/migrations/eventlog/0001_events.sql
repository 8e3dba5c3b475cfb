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

-- A sparse index for reads by time (replay as of a time): for each stream
-- and each second (at / 1,000,000, rounded down) in which it got events, the
-- first sequence stamped in that second. Rows are only added when a stream
-- enters a new second, instead of one index entry per event, which halves
-- the pages a commit touches when it spreads over many streams. Events with
-- at >= T have sequences >= the least first_seq of the seconds >= T's, even
-- if a clock stepped back, so a read by time starts there and filters by at.
CREATE TABLE event_times (
    sid       INTEGER NOT NULL,
    sec       INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    PRIMARY KEY (sid, sec)
) WITHOUT ROWID;

-- Idempotency keys and the sequences their append took.
CREATE TABLE event_keys (
    sid       INTEGER NOT NULL,
    key       TEXT    NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    PRIMARY KEY (sid, key)
) WITHOUT ROWID;
