package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// CreateUpload implements chat.UploadStore.
func (s *ChatStore) CreateUpload(ctx context.Context, u chat.Upload) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO chat_uploads (id, workspace, channel, user_id, name, size, content_type, sha256, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, string(u.Workspace), string(u.Channel), string(u.User), u.Name, u.Size, u.ContentType, u.SHA256, us(u.CreatedAt))
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "upload exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: create upload: %w", err)
	}
	return nil
}

// Upload implements chat.UploadStore.
func (s *ChatStore) Upload(ctx context.Context, id string) (chat.Upload, error) {
	var u chat.Upload
	var created int64
	err := s.db.R.QueryRowContext(ctx, `SELECT id, workspace, channel, user_id, name, size, content_type, sha256, created_at FROM chat_uploads WHERE id = ?`, id).
		Scan(&u.ID, &u.Workspace, &u.Channel, &u.User, &u.Name, &u.Size, &u.ContentType, &u.SHA256, &created)
	if err != nil {
		return u, notFound(err, "no such upload")
	}
	u.CreatedAt = fromUS(created)
	return u, nil
}

// PutBotToken implements chat.IntegrationStore.
func (s *ChatStore) PutBotToken(ctx context.Context, t chat.BotToken) error {
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO chat_bot_tokens (id, bot, workspace, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, string(t.Bot), string(t.Workspace), t.Hash, string(t.CreatedBy), us(t.CreatedAt))
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "token exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: put bot token: %w", err)
	}
	return nil
}

// BotToken implements chat.IntegrationStore.
func (s *ChatStore) BotToken(ctx context.Context, id string) (chat.BotToken, error) {
	var t chat.BotToken
	var created int64
	var revoked sql.NullInt64
	err := s.db.R.QueryRowContext(ctx, `SELECT id, bot, workspace, hash, created_by, created_at, revoked_at FROM chat_bot_tokens WHERE id = ?`, id).
		Scan(&t.ID, &t.Bot, &t.Workspace, &t.Hash, &t.CreatedBy, &created, &revoked)
	if err != nil {
		return t, notFound(err, "no such token")
	}
	t.CreatedAt, t.RevokedAt = fromUS(created), fromNullUS(revoked)
	return t, nil
}

// RevokeBotTokens implements chat.IntegrationStore.
func (s *ChatStore) RevokeBotTokens(ctx context.Context, bot core.UserID, at time.Time) ([]string, error) {
	var ids []string
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE chat_bot_tokens SET revoked_at = ? WHERE bot = ? AND revoked_at IS NULL RETURNING id`, us(at), string(bot))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke bot tokens: %w", err)
	}
	return ids, nil
}

// PutWebhook implements chat.IntegrationStore.
func (s *ChatStore) PutWebhook(ctx context.Context, h chat.Webhook) error {
	evs, _ := json.Marshal(orEmpty(h.Events))
	chs, _ := json.Marshal(orEmpty(h.Channels))
	_, err := s.db.W.ExecContext(ctx, `INSERT INTO chat_webhooks (id, workspace, outgoing, name, channel, bot, hash, url, secret, events, channels, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, h.ID, string(h.Workspace), h.Outgoing, h.Name, string(h.Channel), string(h.Bot), h.Hash,
		h.URL, h.Secret, string(evs), string(chs), string(h.CreatedBy), us(h.CreatedAt))
	if IsUnique(err) {
		return errs.Wrap(errs.AlreadyExists, err, "webhook exists")
	}
	if err != nil {
		return fmt.Errorf("sqlite: put webhook: %w", err)
	}
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Webhooks implements chat.IntegrationStore.
func (s *ChatStore) Webhooks(ctx context.Context, ws chat.WorkspaceID) ([]chat.Webhook, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, workspace, outgoing, name, channel, bot, hash, url, secret, events, channels, created_by, created_at
		FROM chat_webhooks WHERE ? = '' OR workspace = ? ORDER BY id`, string(ws), string(ws))
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhooks: %w", err)
	}
	defer rows.Close()
	out := []chat.Webhook{}
	for rows.Next() {
		var h chat.Webhook
		var evs, chs string
		var created int64
		if err := rows.Scan(&h.ID, &h.Workspace, &h.Outgoing, &h.Name, &h.Channel, &h.Bot, &h.Hash, &h.URL, &h.Secret, &evs, &chs, &h.CreatedBy, &created); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(evs), &h.Events)
		_ = json.Unmarshal([]byte(chs), &h.Channels)
		h.CreatedAt = fromUS(created)
		out = append(out, h)
	}
	return out, rows.Err()
}

// DeleteWebhook implements chat.IntegrationStore.
func (s *ChatStore) DeleteWebhook(ctx context.Context, ws chat.WorkspaceID, id string) error {
	res, err := s.db.W.ExecContext(ctx, `DELETE FROM chat_webhooks WHERE workspace = ? AND id = ?`, string(ws), id)
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no such webhook")
	}
	return nil
}
