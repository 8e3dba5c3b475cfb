package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// CreateUpload implements chat.UploadStore.
func (s *ChatStore) CreateUpload(ctx context.Context, u chat.Upload) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO chat_uploads (id, workspace, channel, user_id, name, size, content_type, sha256, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, u.ID, string(u.Workspace), string(u.Channel), string(u.User), u.Name, u.Size, u.ContentType, u.SHA256, u.CreatedAt)
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "upload exists")
	}
	if err != nil {
		return fmt.Errorf("postgres: create upload: %w", err)
	}
	return nil
}

// Upload implements chat.UploadStore.
func (s *ChatStore) Upload(ctx context.Context, id string) (chat.Upload, error) {
	var u chat.Upload
	err := s.db.Pool.QueryRow(ctx, `SELECT id, workspace, channel, user_id, name, size, content_type, sha256, created_at FROM chat_uploads WHERE id = $1`, id).
		Scan(&u.ID, &u.Workspace, &u.Channel, &u.User, &u.Name, &u.Size, &u.ContentType, &u.SHA256, &u.CreatedAt)
	if err != nil {
		return u, notFound(err, "no such upload")
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// PutBotToken implements chat.IntegrationStore.
func (s *ChatStore) PutBotToken(ctx context.Context, t chat.BotToken) error {
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO chat_bot_tokens (id, bot, workspace, hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, string(t.Bot), string(t.Workspace), t.Hash, string(t.CreatedBy), t.CreatedAt)
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "token exists")
	}
	if err != nil {
		return fmt.Errorf("postgres: put bot token: %w", err)
	}
	return nil
}

// BotToken implements chat.IntegrationStore.
func (s *ChatStore) BotToken(ctx context.Context, id string) (chat.BotToken, error) {
	var t chat.BotToken
	var revoked *time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT id, bot, workspace, hash, created_by, created_at, revoked_at FROM chat_bot_tokens WHERE id = $1`, id).
		Scan(&t.ID, &t.Bot, &t.Workspace, &t.Hash, &t.CreatedBy, &t.CreatedAt, &revoked)
	if err != nil {
		return t, notFound(err, "no such token")
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if revoked != nil {
		t.RevokedAt = revoked.UTC()
	}
	return t, nil
}

// RevokeBotTokens implements chat.IntegrationStore.
func (s *ChatStore) RevokeBotTokens(ctx context.Context, bot core.UserID, at time.Time) ([]string, error) {
	rows, err := s.db.Pool.Query(ctx, `UPDATE chat_bot_tokens SET revoked_at = $2 WHERE bot = $1 AND revoked_at IS NULL RETURNING id`, string(bot), at)
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke bot tokens: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PutWebhook implements chat.IntegrationStore.
func (s *ChatStore) PutWebhook(ctx context.Context, h chat.Webhook) error {
	evs, _ := json.Marshal(orEmpty(h.Events))
	chs, _ := json.Marshal(orEmpty(h.Channels))
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO chat_webhooks (id, workspace, outgoing, name, channel, bot, hash, url, secret, events, channels, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, $13)`, h.ID, string(h.Workspace), h.Outgoing, h.Name, string(h.Channel),
		string(h.Bot), h.Hash, h.URL, h.Secret, string(evs), string(chs), string(h.CreatedBy), h.CreatedAt)
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "webhook exists")
	}
	if err != nil {
		return fmt.Errorf("postgres: put webhook: %w", err)
	}
	return nil
}

// Webhooks implements chat.IntegrationStore.
func (s *ChatStore) Webhooks(ctx context.Context, ws chat.WorkspaceID) ([]chat.Webhook, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, workspace, outgoing, name, channel, bot, hash, url, secret, events::text, channels::text, created_by, created_at
		FROM chat_webhooks WHERE $1 = '' OR workspace = $1 ORDER BY id COLLATE "C"`, string(ws))
	if err != nil {
		return nil, fmt.Errorf("postgres: webhooks: %w", err)
	}
	defer rows.Close()
	out := []chat.Webhook{}
	for rows.Next() {
		var h chat.Webhook
		var evs, chs string
		if err := rows.Scan(&h.ID, &h.Workspace, &h.Outgoing, &h.Name, &h.Channel, &h.Bot, &h.Hash, &h.URL, &h.Secret, &evs, &chs, &h.CreatedBy, &h.CreatedAt); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(evs), &h.Events)
		_ = json.Unmarshal([]byte(chs), &h.Channels)
		h.CreatedAt = h.CreatedAt.UTC()
		out = append(out, h)
	}
	return out, rows.Err()
}

// DeleteWebhook implements chat.IntegrationStore.
func (s *ChatStore) DeleteWebhook(ctx context.Context, ws chat.WorkspaceID, id string) error {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM chat_webhooks WHERE workspace = $1 AND id = $2`, string(ws), id)
	if err != nil {
		return fmt.Errorf("postgres: delete webhook: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.NotFound, "no such webhook")
	}
	return nil
}
