package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// RegisterAuth registers the account and token endpoints on mux (see
// docs/http-api.md): sign-up, sign-in with a password or a one-time code,
// password reset, refresh, logout, the caller's profile, other users'
// public profiles and the JWK Set. Request bodies are limited to maxBody
// bytes; trustProxy takes the client IP used for rate limits from
// X-Forwarded-For. The handlers are safe for concurrent use.
func RegisterAuth(mux *http.ServeMux, svc *auth.Service, maxBody int64, trustProxy bool, log *slog.Logger) {
	a := &authAPI{svc: svc, maxBody: maxBody, trustProxy: trustProxy, log: log}
	mux.HandleFunc("POST /v1/auth/signup", a.signUp)
	mux.HandleFunc("POST /v1/auth/signin", a.signIn)
	mux.HandleFunc("POST /v1/auth/code", a.requestCode)
	mux.HandleFunc("POST /v1/auth/code/verify", a.verifyCode)
	mux.HandleFunc("POST /v1/auth/password/reset", a.resetPassword)
	mux.HandleFunc("POST /v1/auth/refresh", a.refresh)
	mux.HandleFunc("POST /v1/auth/logout", a.logout)
	mux.HandleFunc("GET /v1/me", a.authed(a.me))
	mux.HandleFunc("PATCH /v1/me", a.authed(a.updateMe))
	mux.HandleFunc("GET /v1/users/{id}", a.authed(a.user))
	mux.HandleFunc("GET /.well-known/jwks.json", a.jwks)
}

type authAPI struct {
	svc        *auth.Service
	maxBody    int64
	trustProxy bool
	log        *slog.Logger
}

// TokenResponse is the body of a successful sign-up, sign-in or refresh.
type TokenResponse struct {
	User         auth.User `json:"user"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	TokenType    string    `json:"token_type"` // always "Bearer"
	ExpiresIn    int64     `json:"expires_in"` // seconds until the access token expires
	ExpiresAt    time.Time `json:"expires_at"`
}

// PublicUser is what any signed-in user may see of another.
type PublicUser struct {
	ID          core.UserID `json:"id"`
	Handle      string      `json:"handle"`
	DisplayName string      `json:"display_name"`
	AvatarURL   string      `json:"avatar_url"`
	CreatedAt   time.Time   `json:"created_at"`
}

func tokenResponse(t auth.Tokens) TokenResponse {
	return TokenResponse{
		User:         t.User,
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int64(t.ExpiresIn / time.Second),
		ExpiresAt:    t.ExpiresAt,
	}
}

func (a *authAPI) ip(r *http.Request) string { return ClientIP(r, a.trustProxy) }

// decode reads the body into v or writes the error and returns false.
func (a *authAPI) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := DecodeJSON(w, r, a.maxBody, v); err != nil {
		WriteError(w, r, a.log, err)
		return false
	}
	return true
}

func (a *authAPI) writeTokens(w http.ResponseWriter, r *http.Request, status int, t auth.Tokens, err error) {
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	WriteJSON(w, status, tokenResponse(t))
}

type signUpBody struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	Phone       string `json:"phone"`
	AvatarURL   string `json:"avatar_url"`
}

func (a *authAPI) signUp(w http.ResponseWriter, r *http.Request) {
	var b signUpBody
	if !a.decode(w, r, &b) {
		return
	}
	t, err := a.svc.SignUp(r.Context(), auth.SignUpRequest{
		Email: b.Email, Password: b.Password, Handle: b.Handle, DisplayName: b.DisplayName, Phone: b.Phone, AvatarURL: b.AvatarURL,
	}, a.ip(r))
	a.writeTokens(w, r, http.StatusCreated, t, err)
}

type signInBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *authAPI) signIn(w http.ResponseWriter, r *http.Request) {
	var b signInBody
	if !a.decode(w, r, &b) {
		return
	}
	t, err := a.svc.SignIn(r.Context(), b.Email, b.Password, a.ip(r))
	a.writeTokens(w, r, http.StatusOK, t, err)
}

type codeBody struct {
	Email   string       `json:"email"`
	Phone   string       `json:"phone"`
	Purpose auth.Purpose `json:"purpose"`
}

func (a *authAPI) requestCode(w http.ResponseWriter, r *http.Request) {
	var b codeBody
	if !a.decode(w, r, &b) {
		return
	}
	if err := a.svc.RequestCode(r.Context(), auth.CodeRequest{Email: b.Email, Phone: b.Phone, Purpose: b.Purpose}, a.ip(r)); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	WriteJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
}

type verifyCodeBody struct {
	Email string `json:"email"`
	Phone string `json:"phone"`
	Code  string `json:"code"`
}

func (a *authAPI) verifyCode(w http.ResponseWriter, r *http.Request) {
	var b verifyCodeBody
	if !a.decode(w, r, &b) {
		return
	}
	t, err := a.svc.SignInWithCode(r.Context(), auth.CodeSignIn{Email: b.Email, Phone: b.Phone, Code: b.Code}, a.ip(r))
	a.writeTokens(w, r, http.StatusOK, t, err)
}

type resetBody struct {
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	Code        string `json:"code"`
	NewPassword string `json:"new_password"`
}

func (a *authAPI) resetPassword(w http.ResponseWriter, r *http.Request) {
	var b resetBody
	if !a.decode(w, r, &b) {
		return
	}
	err := a.svc.ResetPassword(r.Context(), auth.PasswordReset{Email: b.Email, Phone: b.Phone, Code: b.Code, NewPassword: b.NewPassword}, a.ip(r))
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

func (a *authAPI) refresh(w http.ResponseWriter, r *http.Request) {
	var b refreshBody
	if !a.decode(w, r, &b) {
		return
	}
	t, err := a.svc.Refresh(r.Context(), b.RefreshToken)
	a.writeTokens(w, r, http.StatusOK, t, err)
}

// logout revokes the session of the bearer access token, or, without an
// Authorization header, the session of the refresh token in the body.
func (a *authAPI) logout(w http.ResponseWriter, r *http.Request) {
	var err error
	if r.Header.Get("Authorization") != "" {
		var c auth.Claims
		if c, err = a.verify(w, r); err == nil {
			err = a.svc.Logout(r.Context(), c.SessionID)
		}
	} else {
		var b refreshBody
		if !a.decode(w, r, &b) {
			return
		}
		err = a.svc.LogoutRefreshToken(r.Context(), b.RefreshToken)
	}
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// verify checks the bearer token of r.
func (a *authAPI) verify(w http.ResponseWriter, r *http.Request) (auth.Claims, error) {
	tok, err := BearerToken(r)
	if err == nil {
		var c auth.Claims
		if c, err = a.svc.Verify(tok); err == nil {
			return c, nil
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
	return auth.Claims{}, err
}

// authed wraps a handler that needs a valid bearer access token.
func (a *authAPI) authed(h func(http.ResponseWriter, *http.Request, auth.Claims)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := a.verify(w, r)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		h(w, r, c)
	}
}

func (a *authAPI) me(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	u, err := a.svc.User(r.Context(), c.UserID)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, u)
}

type updateMeBody struct {
	DisplayName *string `json:"display_name"`
	Handle      *string `json:"handle"`
	AvatarURL   *string `json:"avatar_url"`
}

func (a *authAPI) updateMe(w http.ResponseWriter, r *http.Request, c auth.Claims) {
	var b updateMeBody
	if !a.decode(w, r, &b) {
		return
	}
	u, err := a.svc.UpdateProfile(r.Context(), c.UserID, auth.ProfileUpdate{DisplayName: b.DisplayName, Handle: b.Handle, AvatarURL: b.AvatarURL})
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, u)
}

func (a *authAPI) user(w http.ResponseWriter, r *http.Request, _ auth.Claims) {
	id := r.PathValue("id")
	if !core.ValidToken(id) {
		WriteError(w, r, a.log, errs.E(errs.NotFound, "user not found"))
		return
	}
	u, err := a.svc.User(r.Context(), core.UserID(id))
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	WriteJSON(w, http.StatusOK, PublicUser{ID: u.ID, Handle: u.Handle, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL, CreatedAt: u.CreatedAt})
}

// jwks serves the public keys. They may be cached for a minute: with the
// default rotation a new key is published about five minutes before it
// signs, and an old key stays published until its last token has expired.
func (a *authAPI) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(a.svc.JWKS())
}
