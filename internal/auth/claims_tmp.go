package auth

import (
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// Claims (placeholder until the auth branch lands).
type Claims struct {
	UserID    core.UserID
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
	KeyID     string
}
