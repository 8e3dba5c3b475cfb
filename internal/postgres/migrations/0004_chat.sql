-- Chat read models, projected from the workspace:, channel: and inbox:
-- streams of the event log (see internal/chat/project.go) and rebuildable
-- from it, plus uploads, bot tokens and webhooks. A message is keyed by its
-- channel and number n (its id is "m<n>").

CREATE TABLE chat_checkpoints (
    stream TEXT PRIMARY KEY,
    seq    BIGINT NOT NULL
);

CREATE TABLE chat_workspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT        NOT NULL,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE chat_members (
    workspace    TEXT        NOT NULL,
    user_id      TEXT        NOT NULL,
    role         TEXT        NOT NULL,
    handle       TEXT        NOT NULL,
    display_name TEXT        NOT NULL,
    avatar_url   TEXT        NOT NULL,
    bot          BOOLEAN     NOT NULL,
    joined_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workspace, user_id)
);
CREATE INDEX chat_members_handle ON chat_members (workspace, handle COLLATE "C", user_id);

CREATE TABLE chat_channels (
    id         TEXT PRIMARY KEY,
    workspace  TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    name       TEXT        NOT NULL,
    topic      TEXT        NOT NULL,
    purpose    TEXT        NOT NULL,
    archived   BOOLEAN     NOT NULL,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    tops       BIGINT      NOT NULL,
    messages   BIGINT      NOT NULL,
    last_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_channels_workspace ON chat_channels (workspace, name);

CREATE TABLE chat_channel_members (
    channel   TEXT        NOT NULL,
    user_id   TEXT        NOT NULL,
    guest     BOOLEAN     NOT NULL,
    since_seq BIGINT      NOT NULL,
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, user_id)
);
CREATE INDEX chat_channel_members_user ON chat_channel_members (user_id, channel);

-- tsv is the full-text document (english stemming), generated from text
-- and indexed with GIN.
CREATE TABLE chat_messages (
    channel       TEXT        NOT NULL,
    n             BIGINT      NOT NULL,
    seq           BIGINT      NOT NULL,
    top           BIGINT      NOT NULL,
    thread        BIGINT      NOT NULL,
    author        TEXT        NOT NULL,
    text          TEXT        NOT NULL,
    mentions      JSONB       NOT NULL,
    attachments   JSONB       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    edited_at     TIMESTAMPTZ,
    deleted       BOOLEAN     NOT NULL,
    pinned_seq    BIGINT      NOT NULL,
    replies       BIGINT      NOT NULL,
    last_reply_at TIMESTAMPTZ,
    tsv           TSVECTOR GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    PRIMARY KEY (channel, n)
);
CREATE INDEX chat_messages_timeline ON chat_messages (channel, thread, seq);
CREATE INDEX chat_messages_pins ON chat_messages (channel, pinned_seq) WHERE pinned_seq > 0;
CREATE INDEX chat_messages_tsv ON chat_messages USING GIN (tsv);
-- Newest first, for searches of common words and by author (see
-- ChatStore.Search).
CREATE INDEX chat_messages_recent ON chat_messages (created_at);
CREATE INDEX chat_messages_author ON chat_messages (author, created_at);

CREATE TABLE chat_edits (
    channel TEXT        NOT NULL,
    n       BIGINT      NOT NULL,
    seq     BIGINT      NOT NULL,
    text    TEXT        NOT NULL,
    until   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel, n, seq)
);

CREATE TABLE chat_reactions (
    channel TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    emoji   TEXT   NOT NULL,
    user_id TEXT   NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (channel, n, emoji, user_id)
);

CREATE TABLE chat_mentions (
    user_id   TEXT        NOT NULL,
    channel   TEXT        NOT NULL,
    seq       BIGINT      NOT NULL,
    n         BIGINT      NOT NULL,
    thread    BIGINT      NOT NULL,
    workspace TEXT        NOT NULL,
    author    TEXT        NOT NULL,
    kind      TEXT        NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, channel, seq)
);
CREATE INDEX chat_mentions_time ON chat_mentions (user_id, at, channel COLLATE "C", seq);
CREATE INDEX chat_mentions_message ON chat_mentions (channel, n);

CREATE TABLE chat_reads (
    user_id TEXT        NOT NULL,
    channel TEXT        NOT NULL,
    seq     BIGINT      NOT NULL,
    top     BIGINT      NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, channel)
);

CREATE TABLE chat_uploads (
    id           TEXT PRIMARY KEY,
    workspace    TEXT        NOT NULL,
    channel      TEXT        NOT NULL,
    user_id      TEXT        NOT NULL,
    name         TEXT        NOT NULL,
    size         BIGINT      NOT NULL,
    content_type TEXT        NOT NULL,
    sha256       TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE chat_bot_tokens (
    id         TEXT PRIMARY KEY,
    bot        TEXT        NOT NULL,
    workspace  TEXT        NOT NULL,
    hash       BYTEA       NOT NULL,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX chat_bot_tokens_bot ON chat_bot_tokens (bot);

CREATE TABLE chat_webhooks (
    id         TEXT PRIMARY KEY,
    workspace  TEXT        NOT NULL,
    outgoing   BOOLEAN     NOT NULL,
    name       TEXT        NOT NULL,
    channel    TEXT        NOT NULL,
    bot        TEXT        NOT NULL,
    hash       BYTEA,
    url        TEXT        NOT NULL,
    secret     TEXT        NOT NULL,
    events     JSONB       NOT NULL,
    channels   JSONB       NOT NULL,
    created_by TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX chat_webhooks_workspace ON chat_webhooks (workspace);
