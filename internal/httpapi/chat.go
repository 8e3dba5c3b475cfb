package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// The chat endpoints (docs/http-api.md, "Team messaging"). Every one but
// incoming webhooks needs a bearer token: a user's access token or a bot
// token. Access is checked by the implementations, from the View, on every
// call.

// ChatSession serves the first screen and offline sync.
type ChatSession interface {
	Boot(ctx context.Context, user core.UserID, ws chat.WorkspaceID) (json.RawMessage, error)
	Sync(ctx context.Context, user core.UserID, cursor string) (chat.Sync, error)
	Search(ctx context.Context, user core.UserID, ws chat.WorkspaceID, query string, limit, offset int) (chat.SearchResult, error)
}

// ChatTimeline serves channels and their messages.
type ChatTimeline interface {
	Channel(ctx context.Context, user core.UserID, ch chat.ChannelID) (any, error)
	History(ctx context.Context, user core.UserID, ch chat.ChannelID, q chat.HistoryQuery, minSeq uint64) (chat.History, error)
	// Message returns a message ("message"), its former texts ("edits") or
	// its reactions ("reactions").
	Message(ctx context.Context, user core.UserID, ch chat.ChannelID, id chat.MessageID, what string) (any, error)
	Pins(ctx context.Context, user core.UserID, ch chat.ChannelID) ([]chat.Message, error)
}

// ChatDirectory serves member lists, the channel directory, profiles,
// autocomplete and the mentions inbox.
type ChatDirectory interface {
	Members(ctx context.Context, user core.UserID, ws chat.WorkspaceID, ch chat.ChannelID, after string, limit int) ([]chat.MemberRow, error)
	Channels(ctx context.Context, user core.UserID, ws chat.WorkspaceID, after string, limit int) ([]chat.ChannelInfo, error)
	Profiles(ctx context.Context, user core.UserID, ws chat.WorkspaceID, users []core.UserID) (map[core.UserID]chat.Suggestion, error)
	Autocomplete(ctx context.Context, user core.UserID, ws chat.WorkspaceID, ch chat.ChannelID, prefix string, limit int) ([]chat.Suggestion, error)
	Mentions(ctx context.Context, user core.UserID, ws chat.WorkspaceID, before string, limit int) (any, error)
}

// ChatFiles stores and serves uploads.
type ChatFiles interface {
	Upload(ctx context.Context, user core.UserID, ch chat.ChannelID, name string, body io.Reader) (chat.Upload, error)
	Download(ctx context.Context, user core.UserID, id string) (chat.Upload, *os.File, error)
}

// WebhookParams describe a webhook to create.
type WebhookParams struct {
	Kind     string           `json:"kind"` // incoming or outgoing
	Name     string           `json:"name"`
	Channel  chat.ChannelID   `json:"channel,omitempty"`
	URL      string           `json:"url,omitempty"`
	Events   []string         `json:"events,omitempty"`
	Channels []chat.ChannelID `json:"channels,omitempty"`
}

// ChatAdmin manages bots and webhooks (workspace admins only).
type ChatAdmin interface {
	CreateBot(ctx context.Context, user core.UserID, ws chat.WorkspaceID, handle, name string) (any, error)
	RotateBotToken(ctx context.Context, user core.UserID, ws chat.WorkspaceID, bot core.UserID) (string, error)
	DeleteBot(ctx context.Context, user core.UserID, ws chat.WorkspaceID, bot core.UserID) error
	CreateWebhook(ctx context.Context, user core.UserID, ws chat.WorkspaceID, p WebhookParams) (any, error)
	Webhooks(ctx context.Context, user core.UserID, ws chat.WorkspaceID) ([]chat.Webhook, error)
	DeleteWebhook(ctx context.Context, user core.UserID, ws chat.WorkspaceID, id string) error
	DeadLetters(ctx context.Context, user core.UserID, ws chat.WorkspaceID, id string) (any, error)
}

// ChatHooks takes posts through incoming webhooks.
type ChatHooks interface {
	Incoming(ctx context.Context, id, secret, text string, thread chat.MessageID, key string) (any, error)
}

// TokenVerifier checks bearer tokens (users' and bots').
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// ChatOptions are the collaborators of the chat endpoints.
type ChatOptions struct {
	Verifier       TokenVerifier
	Session        ChatSession
	Timeline       ChatTimeline
	Directory      ChatDirectory
	Files          ChatFiles
	Admin          ChatAdmin
	Hooks          ChatHooks
	MaxBody        int64
	MaxUploadBytes int64
	Log            *slog.Logger
}

type chatAPI struct{ ChatOptions }

// RegisterChat registers the chat endpoints on mux. The handlers are safe
// for concurrent use.
func RegisterChat(mux *http.ServeMux, o ChatOptions) {
	a := &chatAPI{o}
	mux.HandleFunc("GET /v1/chat/boot", a.authed(a.boot))
	mux.HandleFunc("POST /v1/chat/sync", a.authed(a.sync))
	mux.HandleFunc("GET /v1/chat/mentions", a.authed(a.mentions))
	mux.HandleFunc("GET /v1/chat/channels/{ch}", a.authed(a.channel))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/messages", a.authed(a.history))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/messages/{id}", a.authed(a.message("message")))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/messages/{id}/edits", a.authed(a.message("edits")))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/messages/{id}/reactions", a.authed(a.message("reactions")))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/threads/{id}", a.authed(a.thread))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/pins", a.authed(a.pins))
	mux.HandleFunc("GET /v1/chat/channels/{ch}/members", a.authed(a.channelMembers))
	mux.HandleFunc("POST /v1/chat/channels/{ch}/uploads", a.authed(a.upload))
	mux.HandleFunc("GET /v1/chat/uploads/{id}", a.authed(a.download))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/members", a.authed(a.members))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/channels", a.authed(a.channels))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/search", a.authed(a.search))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/autocomplete", a.authed(a.autocomplete))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/profiles", a.authed(a.profiles))
	mux.HandleFunc("POST /v1/chat/workspaces/{ws}/bots", a.authed(a.createBot))
	mux.HandleFunc("POST /v1/chat/workspaces/{ws}/bots/{bot}/token", a.authed(a.rotateBot))
	mux.HandleFunc("DELETE /v1/chat/workspaces/{ws}/bots/{bot}", a.authed(a.deleteBot))
	mux.HandleFunc("POST /v1/chat/workspaces/{ws}/webhooks", a.authed(a.createWebhook))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/webhooks", a.authed(a.webhooks))
	mux.HandleFunc("DELETE /v1/chat/workspaces/{ws}/webhooks/{id}", a.authed(a.deleteWebhook))
	mux.HandleFunc("GET /v1/chat/workspaces/{ws}/webhooks/{id}/dead_letters", a.authed(a.deadLetters))
	mux.HandleFunc("POST /v1/chat/hooks/{id}/{secret}", a.incoming)
}

func (a *chatAPI) authed(h func(w http.ResponseWriter, r *http.Request, user core.UserID)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := BearerToken(r)
		var c auth.Claims
		if err == nil {
			c, err = a.Verifier.Verify(tok)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
			WriteError(w, r, a.Log, err)
			return
		}
		h(w, r, c.UserID)
	}
}

// reply writes v, or err.
func (a *chatAPI) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	WriteJSON(w, http.StatusOK, v)
}

// query reads an integer query parameter; absent is 0.
func query(r *http.Request, name string) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		return 0, errs.E(errs.InvalidArgument, "%s must be a non-negative integer", name)
	}
	return v, nil
}

func queryInts(r *http.Request, names ...string) ([]uint64, error) {
	out := make([]uint64, len(names))
	for i, n := range names {
		v, err := query(r, n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (a *chatAPI) boot(w http.ResponseWriter, r *http.Request, user core.UserID) {
	raw, err := a.Session.Boot(r.Context(), user, chat.WorkspaceID(r.URL.Query().Get("workspace")))
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(raw, '\n'))
}

func (a *chatAPI) sync(w http.ResponseWriter, r *http.Request, user core.UserID) {
	var b struct {
		Cursor string `json:"cursor"`
	}
	if err := DecodeJSON(w, r, a.MaxBody, &b); err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	s, err := a.Session.Sync(r.Context(), user, b.Cursor)
	a.reply(w, r, s, err)
}

func (a *chatAPI) mentions(w http.ResponseWriter, r *http.Request, user core.UserID) {
	q := r.URL.Query()
	limit, err := query(r, "limit")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	v, err := a.Directory.Mentions(r.Context(), user, chat.WorkspaceID(q.Get("workspace")), q.Get("before"), int(limit))
	a.reply(w, r, v, err)
}

func (a *chatAPI) channel(w http.ResponseWriter, r *http.Request, user core.UserID) {
	v, err := a.Timeline.Channel(r.Context(), user, chat.ChannelID(r.PathValue("ch")))
	a.reply(w, r, v, err)
}

func (a *chatAPI) history(w http.ResponseWriter, r *http.Request, user core.UserID) {
	v, err := queryInts(r, "before", "after", "limit", "min_seq")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	q := chat.HistoryQuery{Before: v[0], After: v[1], Limit: int(v[2]), Around: chat.MessageID(r.URL.Query().Get("around"))}
	h, err := a.Timeline.History(r.Context(), user, chat.ChannelID(r.PathValue("ch")), q, v[3])
	a.reply(w, r, h, err)
}

func (a *chatAPI) thread(w http.ResponseWriter, r *http.Request, user core.UserID) {
	v, err := queryInts(r, "before", "after", "limit", "min_seq")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	q := chat.HistoryQuery{Before: v[0], After: v[1], Limit: int(v[2]), Thread: chat.MessageID(r.PathValue("id"))}
	h, err := a.Timeline.History(r.Context(), user, chat.ChannelID(r.PathValue("ch")), q, v[3])
	a.reply(w, r, h, err)
}

func (a *chatAPI) message(what string) func(http.ResponseWriter, *http.Request, core.UserID) {
	return func(w http.ResponseWriter, r *http.Request, user core.UserID) {
		v, err := a.Timeline.Message(r.Context(), user, chat.ChannelID(r.PathValue("ch")), chat.MessageID(r.PathValue("id")), what)
		a.reply(w, r, v, err)
	}
}

func (a *chatAPI) pins(w http.ResponseWriter, r *http.Request, user core.UserID) {
	ms, err := a.Timeline.Pins(r.Context(), user, chat.ChannelID(r.PathValue("ch")))
	a.reply(w, r, map[string]any{"pins": ms}, err)
}

func (a *chatAPI) channelMembers(w http.ResponseWriter, r *http.Request, user core.UserID) {
	limit, err := query(r, "limit")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	ms, err := a.Directory.Members(r.Context(), user, "", chat.ChannelID(r.PathValue("ch")), r.URL.Query().Get("after"), int(limit))
	a.reply(w, r, map[string]any{"members": ms}, err)
}

func (a *chatAPI) members(w http.ResponseWriter, r *http.Request, user core.UserID) {
	limit, err := query(r, "limit")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	ms, err := a.Directory.Members(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), "", r.URL.Query().Get("after"), int(limit))
	a.reply(w, r, map[string]any{"members": ms}, err)
}

func (a *chatAPI) channels(w http.ResponseWriter, r *http.Request, user core.UserID) {
	limit, err := query(r, "limit")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	cs, err := a.Directory.Channels(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), r.URL.Query().Get("after"), int(limit))
	a.reply(w, r, map[string]any{"channels": cs}, err)
}

func (a *chatAPI) search(w http.ResponseWriter, r *http.Request, user core.UserID) {
	v, err := queryInts(r, "limit", "offset")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	res, err := a.Session.Search(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), r.URL.Query().Get("q"), int(v[0]), int(v[1]))
	a.reply(w, r, res, err)
}

func (a *chatAPI) autocomplete(w http.ResponseWriter, r *http.Request, user core.UserID) {
	limit, err := query(r, "limit")
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	q := r.URL.Query()
	s, err := a.Directory.Autocomplete(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), chat.ChannelID(q.Get("channel")), q.Get("q"), int(limit))
	a.reply(w, r, map[string]any{"users": s}, err)
}

func (a *chatAPI) profiles(w http.ResponseWriter, r *http.Request, user core.UserID) {
	var ids []core.UserID
	for _, s := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			ids = append(ids, core.UserID(s))
		}
	}
	p, err := a.Directory.Profiles(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), ids)
	a.reply(w, r, map[string]any{"users": p}, err)
}

// upload takes the file as the raw request body; its name comes from the
// name query parameter or a Content-Disposition filename. The content
// type is sniffed from the bytes, whatever the request says.
func (a *chatAPI) upload(w http.ResponseWriter, r *http.Request, user core.UserID) {
	name := r.URL.Query().Get("name")
	if name == "" {
		if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
			name = params["filename"]
		}
	}
	if r.ContentLength > a.MaxUploadBytes {
		WriteError(w, r, a.Log, errs.E(errs.FrameTooLarge, "the file is larger than %d bytes", a.MaxUploadBytes))
		return
	}
	body := http.MaxBytesReader(w, r.Body, a.MaxUploadBytes+1)
	up, err := a.Files.Upload(r.Context(), user, chat.ChannelID(r.PathValue("ch")), name, body)
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	WriteJSON(w, http.StatusCreated, up)
}

// inline lists the sniffed types a browser may show in place; anything
// else (HTML, SVG, XML, scripts...) is served as an attachment so that an
// upload can never run in the server's origin.
var inline = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true, "application/pdf": true,
	"text/plain; charset=utf-8": true, "audio/mpeg": true, "audio/wave": true, "video/mp4": true, "video/webm": true}

func (a *chatAPI) download(w http.ResponseWriter, r *http.Request, user core.UserID) {
	up, f, err := a.Files.Download(r.Context(), user, r.PathValue("id"))
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	defer f.Close()
	disposition := "attachment"
	if inline[up.ContentType] {
		disposition = "inline"
	}
	w.Header().Set("Content-Type", up.ContentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": up.Name}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("ETag", `"`+up.SHA256+`"`)
	http.ServeContent(w, r, "", up.CreatedAt, f)
}

func (a *chatAPI) createBot(w http.ResponseWriter, r *http.Request, user core.UserID) {
	var b struct {
		Handle      string `json:"handle"`
		DisplayName string `json:"display_name"`
	}
	if err := DecodeJSON(w, r, a.MaxBody, &b); err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	v, err := a.Admin.CreateBot(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), b.Handle, b.DisplayName)
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	WriteJSON(w, http.StatusCreated, v)
}

func (a *chatAPI) rotateBot(w http.ResponseWriter, r *http.Request, user core.UserID) {
	tok, err := a.Admin.RotateBotToken(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), core.UserID(r.PathValue("bot")))
	a.reply(w, r, map[string]string{"token": tok}, err)
}

func (a *chatAPI) deleteBot(w http.ResponseWriter, r *http.Request, user core.UserID) {
	if err := a.Admin.DeleteBot(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), core.UserID(r.PathValue("bot"))); err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *chatAPI) createWebhook(w http.ResponseWriter, r *http.Request, user core.UserID) {
	var p WebhookParams
	if err := DecodeJSON(w, r, a.MaxBody, &p); err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	v, err := a.Admin.CreateWebhook(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), p)
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	WriteJSON(w, http.StatusCreated, v)
}

func (a *chatAPI) webhooks(w http.ResponseWriter, r *http.Request, user core.UserID) {
	hs, err := a.Admin.Webhooks(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")))
	a.reply(w, r, map[string]any{"webhooks": hs}, err)
}

func (a *chatAPI) deleteWebhook(w http.ResponseWriter, r *http.Request, user core.UserID) {
	if err := a.Admin.DeleteWebhook(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), r.PathValue("id")); err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *chatAPI) deadLetters(w http.ResponseWriter, r *http.Request, user core.UserID) {
	v, err := a.Admin.DeadLetters(r.Context(), user, chat.WorkspaceID(r.PathValue("ws")), r.PathValue("id"))
	a.reply(w, r, v, err)
}

// incoming takes {"text", "thread"?, "key"?} at an incoming webhook's
// secret URL; no Authorization header.
func (a *chatAPI) incoming(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Text   string         `json:"text"`
		Thread chat.MessageID `json:"thread"`
		Key    string         `json:"key"`
	}
	if err := DecodeJSON(w, r, a.MaxBody, &b); err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	v, err := a.Hooks.Incoming(r.Context(), r.PathValue("id"), r.PathValue("secret"), b.Text, b.Thread, b.Key)
	if err != nil {
		WriteError(w, r, a.Log, err)
		return
	}
	WriteJSON(w, http.StatusCreated, v)
}
