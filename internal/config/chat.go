package config

import "time"

// ChatConfig configures the chat domain: limits of what users send, the
// slim boot and offline sync, uploads, the read-model projector and
// webhooks.
type ChatConfig struct {
	Enabled           bool          `json:"enabled" help:"serve the chat features"`
	MaxMessageChars   int           `json:"max_message_chars" help:"longest message text, in characters (longer posts and edits fail with limit_exceeded)"`
	MaxAttachments    int           `json:"max_attachments" help:"most attachments per message"`
	MaxReactions      int           `json:"max_reactions" help:"most different emoji reactions per message"`
	MaxPins           int           `json:"max_pins" help:"most pinned messages per channel"`
	MaxGroupDM        int           `json:"max_group_dm" help:"most people in a group DM, its creator included"`
	MaxUploadBytes    int64         `json:"max_upload_bytes" help:"largest file accepted by an upload"`
	UploadDir         string        `json:"upload_dir" help:"directory of uploaded files; empty is data_dir/uploads"`
	BootDMs           int           `json:"boot_dms" help:"most recent DMs listed by boot (the rest load lazily)"`
	BootCache         int           `json:"boot_cache" help:"most users whose encoded boot payload is cached in memory"`
	HistoryMax        int           `json:"history_max" help:"largest page of history, members or search results"`
	CountsInterval    time.Duration `json:"counts_interval" help:"how often changed unread and mention counts are pushed to a user's devices (changes within an interval are merged)"`
	TypingTTL         time.Duration `json:"typing_ttl" help:"how long clients show a typing indicator after the last typing event"`
	TypingInterval    time.Duration `json:"typing_interval" help:"least time between two typing events of one user in one channel (more are dropped)"`
	InviteTTL         time.Duration `json:"invite_ttl" help:"default lifetime of an invite code"`
	ResyncInterval    time.Duration `json:"resync_interval" help:"how often the node compares its in-memory view and the read models with the event log to catch events missed on the bus"`
	ProjectionBatch   int           `json:"projection_batch" help:"most events projected into the read models in one transaction"`
	ReadWait          time.Duration `json:"read_wait" help:"how long a read that asks for a sequence (min_seq) waits for the read models to reach it"`
	WebhookTimeout    time.Duration `json:"webhook_timeout" help:"time limit of one outgoing webhook delivery"`
	WebhookAttempts   int           `json:"webhook_attempts" help:"deliveries of an outgoing webhook event before it is dead-lettered"`
	WebhookBackoff    time.Duration `json:"webhook_backoff" help:"wait before the second delivery of a failed webhook event; each further wait doubles, up to webhook_backoff_max"`
	WebhookBackoffMax time.Duration `json:"webhook_backoff_max" help:"longest wait between two deliveries of a failed webhook event"`
	WebhookWorkers    int           `json:"webhook_workers" help:"outgoing webhook deliveries in flight per node"`
	WebhookPrivateIP  bool          `json:"webhook_private_ips" help:"allow outgoing webhooks to loopback and private addresses (tests, on-premises receivers)"`
}

func defaultChat() ChatConfig {
	return ChatConfig{
		Enabled:           true,
		MaxMessageChars:   4000,
		MaxAttachments:    10,
		MaxReactions:      50,
		MaxPins:           100,
		MaxGroupDM:        8,
		MaxUploadBytes:    25 << 20,
		BootDMs:           50,
		BootCache:         100_000,
		HistoryMax:        200,
		CountsInterval:    500 * time.Millisecond,
		TypingTTL:         5 * time.Second,
		TypingInterval:    2 * time.Second,
		InviteTTL:         7 * 24 * time.Hour,
		ResyncInterval:    30 * time.Second,
		ProjectionBatch:   1024,
		ReadWait:          2 * time.Second,
		WebhookTimeout:    10 * time.Second,
		WebhookAttempts:   6,
		WebhookBackoff:    time.Second,
		WebhookBackoffMax: 10 * time.Minute,
		WebhookWorkers:    8,
	}
}

func (c *ChatConfig) validate() error {
	switch {
	case c.MaxMessageChars < 1 || c.MaxMessageChars > 40000:
		return bad("chat.max_message_chars", "must be between 1 and 40000")
	case c.MaxAttachments < 0 || c.MaxAttachments > 100:
		return bad("chat.max_attachments", "must be between 0 and 100")
	case c.MaxReactions < 1:
		return bad("chat.max_reactions", "must be at least 1")
	case c.MaxPins < 1:
		return bad("chat.max_pins", "must be at least 1")
	case c.MaxGroupDM < 3 || c.MaxGroupDM > 64:
		return bad("chat.max_group_dm", "must be between 3 and 64")
	case c.MaxUploadBytes < 1024:
		return bad("chat.max_upload_bytes", "must be at least 1024")
	case c.BootDMs < 1 || c.BootDMs > 1000:
		return bad("chat.boot_dms", "must be between 1 and 1000")
	case c.BootCache < 1:
		return bad("chat.boot_cache", "must be at least 1")
	case c.HistoryMax < 10:
		return bad("chat.history_max", "must be at least 10")
	case c.CountsInterval < 10*time.Millisecond:
		return bad("chat.counts_interval", "must be at least 10ms")
	case c.TypingTTL < time.Second:
		return bad("chat.typing_ttl", "must be at least 1s")
	case c.TypingInterval < 0 || c.TypingInterval > c.TypingTTL:
		return bad("chat.typing_interval", "must be between 0 and chat.typing_ttl")
	case c.InviteTTL < time.Minute:
		return bad("chat.invite_ttl", "must be at least 1m")
	case c.ResyncInterval < time.Second:
		return bad("chat.resync_interval", "must be at least 1s")
	case c.ProjectionBatch < 1:
		return bad("chat.projection_batch", "must be at least 1")
	case c.ReadWait < 0:
		return bad("chat.read_wait", "must not be negative")
	case c.WebhookTimeout < 100*time.Millisecond:
		return bad("chat.webhook_timeout", "must be at least 100ms")
	case c.WebhookAttempts < 1:
		return bad("chat.webhook_attempts", "must be at least 1")
	case c.WebhookWorkers < 1:
		return bad("chat.webhook_workers", "must be at least 1")
	}
	if c.WebhookBackoff < time.Millisecond || c.WebhookBackoffMax < c.WebhookBackoff {
		return bad("chat.webhook_backoff", "must be at least 1ms and at most chat.webhook_backoff_max")
	}
	return nil
}
