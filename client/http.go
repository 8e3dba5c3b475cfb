package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// User is a Parley account as the API returns it.
type User struct {
	ID          string    `json:"id"`
	Email       string    `json:"email,omitempty"`
	Phone       string    `json:"phone,omitempty"`
	Handle      string    `json:"handle"`
	DisplayName string    `json:"display_name"`
	AvatarURL   string    `json:"avatar_url,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Tokens is the answer of sign-up, sign-in and refresh.
type Tokens struct {
	User         User      `json:"user"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int64     `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// API calls Parley's HTTP JSON API.
type API struct {
	// Base is the server URL, e.g. http://127.0.0.1:8080.
	Base string
	// HTTP is the client used (default http.DefaultClient).
	HTTP *http.Client
}

// Do sends a JSON request and decodes a JSON answer into out (if not nil).
// Error answers become *Error values with the server's stable code.
func (a *API) Do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.Base, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var eb struct {
			Error struct {
				Code         string `json:"code"`
				Message      string `json:"message"`
				RetryAfterMS int64  `json:"retry_after_ms"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			return &Error{Code: eb.Error.Code, Message: eb.Error.Message, RetryAfter: time.Duration(eb.Error.RetryAfterMS) * time.Millisecond}
		}
		return fmt.Errorf("client: %s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// SignUp creates an account and signs it in.
func (a *API) SignUp(ctx context.Context, email, password, handle, displayName string) (*Tokens, error) {
	var t Tokens
	err := a.Do(ctx, http.MethodPost, "/v1/auth/signup", "", map[string]string{
		"email": email, "password": password, "handle": handle, "display_name": displayName,
	}, &t)
	return &t, err
}

// SignIn signs in with email and password.
func (a *API) SignIn(ctx context.Context, email, password string) (*Tokens, error) {
	var t Tokens
	err := a.Do(ctx, http.MethodPost, "/v1/auth/signin", "", map[string]string{"email": email, "password": password}, &t)
	return &t, err
}

// Refresh trades a refresh token for new tokens (the old refresh token is
// spent).
func (a *API) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	var t Tokens
	err := a.Do(ctx, http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": refreshToken}, &t)
	return &t, err
}

// Logout revokes the sign-in session of refreshToken.
func (a *API) Logout(ctx context.Context, refreshToken string) error {
	return a.Do(ctx, http.MethodPost, "/v1/auth/logout", "", map[string]string{"refresh_token": refreshToken}, nil)
}

// Session keeps a user's tokens and refreshes the access token shortly before
// it expires. Its Token method fits Options.Token. It is safe for concurrent
// use.
type Session struct {
	API *API
	mu  sync.Mutex
	t   Tokens
}

// NewSession starts a Session from tokens returned by sign-in.
func NewSession(api *API, t *Tokens) *Session { return &Session{API: api, t: *t} }

// Token returns a valid access token, refreshing it when less than a fifth
// of its life (or 30 s) is left.
func (s *Session) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := time.Until(s.t.ExpiresAt)
	life := time.Duration(s.t.ExpiresIn) * time.Second
	if left > life/5 && left > 30*time.Second || s.t.RefreshToken == "" {
		return s.t.AccessToken, nil
	}
	nt, err := s.API.Refresh(ctx, s.t.RefreshToken)
	if err != nil {
		return "", err
	}
	s.t = *nt
	return s.t.AccessToken, nil
}

// Tokens returns the current tokens.
func (s *Session) Tokens() Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t
}

// StaticToken returns an Options.Token function that always returns tok.
func StaticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}
