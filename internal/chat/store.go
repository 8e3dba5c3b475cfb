package chat

import (
	"context"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
)

// The interfaces below are the I/O of the chat domain: read models
// projected from the log, and the few records that are not events
// (uploads, bot tokens, webhooks). internal/sqlite and internal/postgres
// implement them and pass the contract suite in internal/chat/chattest.
// Every method is safe for concurrent use.

// ProjectionResult says what ApplyBatch did with one stream's events.
type ProjectionResult struct {
	Stream core.StreamID
	// Checkpoint is the stream's projected sequence after the batch.
	Checkpoint uint64
	// Gap is set when the batch's first event was beyond the checkpoint's
	// next: nothing of this stream was applied; project the missing events
	// first.
	Gap bool
}

// Projector keeps the read models current. Each stream's checkpoint (the
// last projected sequence) is updated in the same transaction as the rows,
// so a projection applies each event exactly once even when several nodes
// project the same stream.
type Projector interface {
	// ApplyBatch projects events, grouped by stream with each stream's
	// events consecutive and in order, in one transaction. Events at or
	// below a stream's checkpoint are skipped.
	ApplyBatch(ctx context.Context, events []eventlog.Event) ([]ProjectionResult, error)
	// Checkpoint returns the projected sequence of one stream (0 if none).
	Checkpoint(ctx context.Context, stream core.StreamID) (uint64, error)
	// Checkpoints returns the projected sequence of every stream, up to
	// limit streams sorting after after.
	Checkpoints(ctx context.Context, after core.StreamID, limit int) ([]eventlog.StreamInfo, error)
	// Reset deletes every projected row and checkpoint (not uploads, bot
	// tokens or webhooks), for a rebuild.
	Reset(ctx context.Context) error
}

// Reaction summary of one emoji on a message.
type ReactionCount struct {
	Emoji string        `json:"emoji"`
	Count int           `json:"count"`
	Users []core.UserID `json:"users"` // in the order they reacted, at most MaxReactionUsers
}

// MaxReactionUsers bounds the users listed per emoji in a message.
const MaxReactionUsers = 50

// Message is a message as the read model serves it. A deleted message is a
// tombstone: Deleted is set and Text, Mentions and Attachments are empty.
type Message struct {
	Channel     ChannelID       `json:"channel"`
	ID          MessageID       `json:"id"`
	Seq         uint64          `json:"seq"`
	Top         uint32          `json:"top,omitempty"`
	Thread      MessageID       `json:"thread,omitempty"`
	Author      core.UserID     `json:"author"`
	Text        string          `json:"text"`
	Mentions    []core.UserID   `json:"mentions,omitempty"`
	Attachments []Attachment    `json:"attachments,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	EditedAt    *time.Time      `json:"edited_at,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
	Pinned      bool            `json:"pinned,omitempty"`
	Replies     int             `json:"reply_count,omitempty"`
	LastReplyAt *time.Time      `json:"last_reply_at,omitempty"`
	Reactions   []ReactionCount `json:"reactions,omitempty"`
}

// HistoryQuery selects a page of a channel's timeline (top-level messages)
// or of one thread. At most one of Before, After and Around is set; with
// none, the latest messages are returned.
type HistoryQuery struct {
	Before uint64    // messages with a lower sequence
	After  uint64    // messages with a higher sequence
	Around MessageID // the message and its neighbours
	Thread MessageID // the thread's root and replies instead of the timeline
	Limit  int
}

// History is a page of messages in sequence order.
type History struct {
	Messages   []Message `json:"messages"`
	MoreBefore bool      `json:"more_before"`
	MoreAfter  bool      `json:"more_after"`
}

// Edit is one former text of a message.
type Edit struct {
	Seq      uint64    `json:"seq"`
	Text     string    `json:"text"`
	Until    time.Time `json:"until"` // when it was replaced
	Replaced uint64    `json:"replaced_by_seq"`
}

// HistoryStore reads messages.
type HistoryStore interface {
	History(ctx context.Context, ch ChannelID, q HistoryQuery) (History, error)
	// Message returns one message, or an errs.NotFound error.
	Message(ctx context.Context, ch ChannelID, id MessageID) (Message, error)
	// Edits returns a message's former texts, oldest first.
	Edits(ctx context.Context, ch ChannelID, id MessageID) ([]Edit, error)
	// Reactions returns every reaction on a message with all its users.
	Reactions(ctx context.Context, ch ChannelID, id MessageID) ([]ReactionCount, error)
	// Pins returns the pinned messages, most recently pinned first.
	Pins(ctx context.Context, ch ChannelID) ([]Message, error)
}

// MemberRow is a workspace or channel member in a member list.
type MemberRow struct {
	User     core.UserID `json:"user"`
	Role     Role        `json:"role,omitempty"`
	Profile  Profile     `json:"profile"`
	Bot      bool        `json:"bot,omitempty"`
	Guest    bool        `json:"guest,omitempty"`
	JoinedAt time.Time   `json:"joined_at"`
}

// MentionRow is an entry of a user's mentions inbox.
type MentionRow struct {
	Workspace WorkspaceID `json:"workspace"`
	Channel   ChannelID   `json:"channel"`
	ID        MessageID   `json:"id"`
	Seq       uint64      `json:"seq"`
	Thread    MessageID   `json:"thread,omitempty"`
	By        core.UserID `json:"by"`
	Kind      string      `json:"kind"` // user, channel or here
	At        time.Time   `json:"at"`
	Text      string      `json:"text"`
	Deleted   bool        `json:"deleted,omitempty"`
}

// MentionPage asks for a page of a user's mentions, newest first, older
// than the (At, Channel, Seq) position of the last row of the previous
// page.
type MentionPage struct {
	Workspace WorkspaceID // empty: all workspaces
	BeforeAt  time.Time
	BeforeCh  ChannelID
	BeforeSeq uint64
	Limit     int
}

// DirectoryStore reads member lists, the mentions inbox and read positions.
type DirectoryStore interface {
	// Members returns up to limit active members of ws with a handle after
	// after, by handle.
	Members(ctx context.Context, ws WorkspaceID, after string, limit int) ([]MemberRow, error)
	// ChannelMembers returns up to limit members of ch with a handle after
	// after, by handle.
	ChannelMembers(ctx context.Context, ch ChannelID, after string, limit int) ([]MemberRow, error)
	// Mentions returns a page of user's mentions inbox.
	Mentions(ctx context.Context, user core.UserID, p MentionPage) ([]MentionRow, error)
	// MarkerAt returns the read marker that covers ch up to seq: seq and the
	// number of top-level messages posted up to it.
	MarkerAt(ctx context.Context, ch ChannelID, seq uint64) (Marker, error)
}

// SearchRequest is a search over the channels the caller may see.
type SearchRequest struct {
	Channels []ChannelID // the scope; never empty
	Terms    []string
	Phrases  [][]string
	Author   core.UserID
	Before   time.Time
	After    time.Time
	Limit    int
	Offset   int
}

// SearchHit is a message that matched, with a highlighted snippet: the
// matched words are wrapped in HighlightStart and HighlightEnd.
type SearchHit struct {
	Message Message `json:"message"`
	Snippet string  `json:"snippet"`
}

// Highlight markers in snippets: STX and ETX, which never occur in text a
// client could mistake for markup.
const (
	HighlightStart = "\x02"
	HighlightEnd   = "\x03"
)

// SearchResult is a page of hits, best first.
type SearchResult struct {
	Hits    []SearchHit `json:"hits"`
	HasMore bool        `json:"has_more"`
}

// Searcher runs full-text searches, ranked by relevance (then newest
// first).
type Searcher interface {
	Search(ctx context.Context, r SearchRequest) (SearchResult, error)
}

// Upload is a stored file's metadata. Its bytes are in the blob store.
type Upload struct {
	ID          string      `json:"id"`
	Workspace   WorkspaceID `json:"workspace"`
	Channel     ChannelID   `json:"channel"`
	User        core.UserID `json:"user"`
	Name        string      `json:"name"`
	Size        int64       `json:"size"`
	ContentType string      `json:"content_type"`
	SHA256      string      `json:"sha256"`
	CreatedAt   time.Time   `json:"created_at"`
}

// UploadStore keeps upload metadata.
type UploadStore interface {
	CreateUpload(ctx context.Context, u Upload) error
	// Upload returns an upload, or an errs.NotFound error.
	Upload(ctx context.Context, id string) (Upload, error)
}

// BotToken is a bot's access token as stored: only a hash of its secret.
type BotToken struct {
	ID        string      `json:"id"`
	Bot       core.UserID `json:"bot"`
	Workspace WorkspaceID `json:"workspace"`
	Hash      []byte      `json:"-"`
	CreatedBy core.UserID `json:"created_by"`
	CreatedAt time.Time   `json:"created_at"`
	RevokedAt time.Time   `json:"revoked_at,omitzero"`
}

// Webhook is an incoming webhook (a secret URL that posts to Channel as
// Bot) or an outgoing one (events of the workspace POSTed to URL, signed
// with Secret).
type Webhook struct {
	ID        string      `json:"id"`
	Workspace WorkspaceID `json:"workspace"`
	Outgoing  bool        `json:"outgoing"`
	Name      string      `json:"name"`
	// Incoming: where it posts, as whom, and the hash of its secret.
	Channel ChannelID   `json:"channel,omitempty"`
	Bot     core.UserID `json:"bot,omitempty"`
	Hash    []byte      `json:"-"`
	// Outgoing: where events go, the signing secret, and which events of
	// which channels (empty: every public channel).
	URL       string      `json:"url,omitempty"`
	Secret    string      `json:"-"`
	Events    []string    `json:"events,omitempty"`
	Channels  []ChannelID `json:"channels,omitempty"`
	CreatedBy core.UserID `json:"created_by"`
	CreatedAt time.Time   `json:"created_at"`
}

// IntegrationStore keeps bot tokens and webhooks.
type IntegrationStore interface {
	PutBotToken(ctx context.Context, t BotToken) error
	// BotToken returns a token by id, or an errs.NotFound error.
	BotToken(ctx context.Context, id string) (BotToken, error)
	// RevokeBotTokens revokes every live token of bot and returns their ids.
	RevokeBotTokens(ctx context.Context, bot core.UserID, at time.Time) ([]string, error)
	PutWebhook(ctx context.Context, h Webhook) error
	// Webhooks returns the webhooks of ws (all workspaces if empty).
	Webhooks(ctx context.Context, ws WorkspaceID) ([]Webhook, error)
	// DeleteWebhook deletes a webhook of ws, or returns errs.NotFound.
	DeleteWebhook(ctx context.Context, ws WorkspaceID, id string) error
}

// Dump is every projected row in a canonical order, to prove that a
// rebuild from the log equals the live read models.
type Dump map[string][]string

// Dumper dumps the read models.
type Dumper interface {
	Dump(ctx context.Context) (Dump, error)
}

// Store is everything the chat wiring needs from a database.
type Store interface {
	Projector
	HistoryStore
	DirectoryStore
	Searcher
	UploadStore
	IntegrationStore
	Dumper
}
