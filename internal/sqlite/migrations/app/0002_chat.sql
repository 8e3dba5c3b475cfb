-- Chat read models, projected from the workspace:, channel: and inbox:
-- streams of the event log (see internal/chat/project.go) and rebuildable
-- from it. Times are microseconds since the Unix epoch (UTC). A message is
-- keyed by its channel and number n (its id is "m<n>").

-- The last projected sequence of each stream, updated in the same
-- transaction as the rows.
CREATE TABLE chat_checkpoints (
    stream TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE chat_workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE chat_members (
    workspace    TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    handle       TEXT    NOT NULL,
    display_name TEXT    NOT NULL,
    avatar_url   TEXT    NOT NULL,
    bot          INTEGER NOT NULL,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace, user_id)
) WITHOUT ROWID;
CREATE INDEX chat_members_handle ON chat_members (workspace, handle, user_id);

CREATE TABLE chat_channels (
    id         TEXT PRIMARY KEY,
    workspace  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    archived   INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    tops       INTEGER NOT NULL, -- top-level messages posted
    messages   INTEGER NOT NULL, -- all messages posted, replies included
    last_at    INTEGER NOT NULL  -- time of the last message (or creation)
) WITHOUT ROWID;
CREATE INDEX chat_channels_workspace ON chat_channels (workspace, name);

CREATE TABLE chat_channel_members (
    channel   TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    guest     INTEGER NOT NULL,
    since_seq INTEGER NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (channel, user_id)
) WITHOUT ROWID;
CREATE INDEX chat_channel_members_user ON chat_channel_members (user_id, channel);

-- rid is the full-text index's rowid. thread is the root's number for a
-- reply and 0 for a top-level message; top numbers top-level messages.
-- pinned_seq is the sequence of the pin event, 0 when not pinned.
CREATE TABLE chat_messages (
    rid           INTEGER PRIMARY KEY,
    channel       TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    top           INTEGER NOT NULL,
    thread        INTEGER NOT NULL,
    author        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    mentions      TEXT    NOT NULL, -- JSON array of user ids
    attachments   TEXT    NOT NULL, -- JSON array
    created_at    INTEGER NOT NULL,
    edited_at     INTEGER,
    deleted       INTEGER NOT NULL,
    pinned_seq    INTEGER NOT NULL,
    replies       INTEGER NOT NULL,
    last_reply_at INTEGER,
    UNIQUE (channel, n)
);
CREATE INDEX chat_messages_timeline ON chat_messages (channel, thread, seq);
CREATE INDEX chat_messages_pins ON chat_messages (channel, pinned_seq) WHERE pinned_seq > 0;
CREATE INDEX chat_messages_author ON chat_messages (author, created_at);

-- Full-text search (porter stemming), kept in step by the projector. The
-- author column makes from: an intersection with one person's (short) list
-- of rows inside the index; it is left out of the ranking.
CREATE VIRTUAL TABLE chat_fts USING fts5(
    text, author, content = 'chat_messages', content_rowid = 'rid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- The index's tokens, for checking it (Dump).
CREATE VIRTUAL TABLE chat_fts_vocab USING fts5vocab(chat_fts, 'instance');

-- Former texts of edited messages: seq is the edit that replaced text.
CREATE TABLE chat_edits (
    channel TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    text    TEXT    NOT NULL,
    until   INTEGER NOT NULL,
    PRIMARY KEY (channel, n, seq)
) WITHOUT ROWID;

CREATE TABLE chat_reactions (
    channel TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    emoji   TEXT    NOT NULL,
    user_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (channel, n, emoji, user_id)
) WITHOUT ROWID;

-- The mentions inbox.
CREATE TABLE chat_mentions (
    user_id   TEXT    NOT NULL,
    channel   TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    thread    INTEGER NOT NULL,
    workspace TEXT    NOT NULL,
    author    TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel, seq)
) WITHOUT ROWID;
CREATE INDEX chat_mentions_time ON chat_mentions (user_id, at, channel, seq);
CREATE INDEX chat_mentions_message ON chat_mentions (channel, n);

-- Read markers, projected from inbox streams.
CREATE TABLE chat_reads (
    user_id TEXT    NOT NULL,
    channel TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    top     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
) WITHOUT ROWID;

-- Not projected (not in the log): uploads, bot tokens and webhooks.
CREATE TABLE chat_uploads (
    id           TEXT PRIMARY KEY,
    workspace    TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    content_type TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE chat_bot_tokens (
    id         TEXT PRIMARY KEY,
    bot        TEXT    NOT NULL,
    workspace  TEXT    NOT NULL,
    hash       BLOB    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX chat_bot_tokens_bot ON chat_bot_tokens (bot);

CREATE TABLE chat_webhooks (
    id         TEXT PRIMARY KEY,
    workspace  TEXT    NOT NULL,
    outgoing   INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    bot        TEXT    NOT NULL,
    hash       BLOB,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    events     TEXT    NOT NULL, -- JSON array
    channels   TEXT    NOT NULL, -- JSON array
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX chat_webhooks_workspace ON chat_webhooks (workspace);
