package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/rooms"
)

// Verifier checks bearer access tokens.
type Verifier interface {
	Verify(token string) (auth.Claims, error)
}

// RoomDirectory creates, finds and lists rooms for a user, applying the
// visibility and block rules.
type RoomDirectory interface {
	CreateRoom(ctx context.Context, user core.UserID, in rooms.Input) (map[string]any, error)
	RoomListing(ctx context.Context, user core.UserID, id rooms.RoomID) (rooms.Listing, error)
	ListRooms(ctx context.Context, user core.UserID, q rooms.ListQuery) ([]rooms.Listing, string, error)
	Home(ctx context.Context, user core.UserID) ([]rooms.HomeEntry, error)
}

// RoomSocial keeps follows and each host's block list.
type RoomSocial interface {
	SetFollow(ctx context.Context, follower, followee core.UserID, on bool) error
	Following(ctx context.Context, user core.UserID, after string, limit int) ([]core.UserID, string, error)
	SetBlock(ctx context.Context, host, user core.UserID, on bool) error
	BlockList(ctx context.Context, host core.UserID, after string, limit int) ([]core.UserID, string, error)
}

// RoomsDeps are what the rooms endpoints use.
type RoomsDeps struct {
	Verifier  Verifier
	Directory RoomDirectory
	Social    RoomSocial
	MaxBody   int64
	Log       *slog.Logger
}

// RegisterRooms registers the rooms endpoints on mux (see
// docs/http-api.md): room creation, listings (live and upcoming, public or
// per workspace), a room, its summary, the caller's home, follows and the
// caller's block list. Every endpoint needs a bearer access token. The
// handlers are safe for concurrent use.
func RegisterRooms(mux *http.ServeMux, d RoomsDeps) {
	a := &roomsAPI{d: d}
	mux.HandleFunc("POST /v1/rooms", a.authed(a.create))
	mux.HandleFunc("GET /v1/rooms", a.authed(a.list))
	mux.HandleFunc("GET /v1/rooms/{id}", a.authed(a.room))
	mux.HandleFunc("GET /v1/rooms/{id}/summary", a.authed(a.summary))
	mux.HandleFunc("GET /v1/home", a.authed(a.home))
	mux.HandleFunc("PUT /v1/users/{id}/follow", a.authed(a.follow(true)))
	mux.HandleFunc("DELETE /v1/users/{id}/follow", a.authed(a.follow(false)))
	mux.HandleFunc("GET /v1/me/following", a.authed(a.following))
	mux.HandleFunc("GET /v1/me/blocks", a.authed(a.blocks))
	mux.HandleFunc("PUT /v1/me/blocks/{id}", a.authed(a.block(true)))
	mux.HandleFunc("DELETE /v1/me/blocks/{id}", a.authed(a.block(false)))
}

type roomsAPI struct{ d RoomsDeps }

func (a *roomsAPI) authed(h func(http.ResponseWriter, *http.Request, core.UserID)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, err := BearerToken(r)
		var c auth.Claims
		if err == nil {
			c, err = a.d.Verifier.Verify(tok)
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley"`)
			WriteError(w, r, a.d.Log, err)
			return
		}
		h(w, r, c.UserID)
	}
}

// CreateRoomBody is the body of POST /v1/rooms.
type CreateRoomBody struct {
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Topics      []string         `json:"topics"`
	Visibility  rooms.Visibility `json:"visibility"`
	Workspace   string           `json:"workspace"`
	ScheduledAt *time.Time       `json:"scheduled_at"`
	OpenStage   bool             `json:"open_stage"`
	Key         string           `json:"key"`
}

func (a *roomsAPI) create(w http.ResponseWriter, r *http.Request, user core.UserID) {
	var b CreateRoomBody
	if err := DecodeJSON(w, r, a.d.MaxBody, &b); err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	in := rooms.Input{Title: &b.Title, Description: &b.Description, Topics: b.Topics, Visibility: b.Visibility,
		Workspace: b.Workspace, ScheduledAt: b.ScheduledAt, OpenStage: &b.OpenStage, Key: b.Key}
	res, err := a.d.Directory.CreateRoom(r.Context(), user, in)
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	WriteJSON(w, http.StatusCreated, res)
}

func limitParam(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 200 {
		return 0, errs.E(errs.InvalidArgument, "limit is 1 to 200")
	}
	return n, nil
}

// RoomPage is the answer of GET /v1/rooms.
type RoomPage struct {
	Rooms []rooms.Listing `json:"rooms"`
	Next  string          `json:"next,omitempty"`
}

func (a *roomsAPI) list(w http.ResponseWriter, r *http.Request, user core.UserID) {
	q := r.URL.Query()
	lq := rooms.ListQuery{Workspace: q.Get("workspace"), Cursor: q.Get("cursor"), Viewer: user}
	switch q.Get("status") {
	case "", "live":
		lq.Status = rooms.Live
	case "upcoming", "scheduled":
		lq.Status = rooms.Scheduled
	default:
		WriteError(w, r, a.d.Log, errs.E(errs.InvalidArgument, "status is live or upcoming"))
		return
	}
	var err error
	if lq.Limit, err = limitParam(r); err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	list, next, err := a.d.Directory.ListRooms(r.Context(), user, lq)
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	if list == nil {
		list = []rooms.Listing{}
	}
	WriteJSON(w, http.StatusOK, RoomPage{Rooms: list, Next: next})
}

func (a *roomsAPI) room(w http.ResponseWriter, r *http.Request, user core.UserID) {
	l, err := a.d.Directory.RoomListing(r.Context(), user, rooms.RoomID(r.PathValue("id")))
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	WriteJSON(w, http.StatusOK, l)
}

func (a *roomsAPI) summary(w http.ResponseWriter, r *http.Request, user core.UserID) {
	l, err := a.d.Directory.RoomListing(r.Context(), user, rooms.RoomID(r.PathValue("id")))
	if err == nil && l.Summary == nil {
		err = errs.E(errs.NotFound, "the room has not ended: no summary yet")
	}
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	WriteJSON(w, http.StatusOK, l.Summary)
}

// HomePage is the answer of GET /v1/home.
type HomePage struct {
	Rooms []rooms.HomeEntry `json:"rooms"`
}

func (a *roomsAPI) home(w http.ResponseWriter, r *http.Request, user core.UserID) {
	es, err := a.d.Directory.Home(r.Context(), user)
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	if es == nil {
		es = []rooms.HomeEntry{}
	}
	WriteJSON(w, http.StatusOK, HomePage{Rooms: es})
}

func pathUser(r *http.Request, self core.UserID) (core.UserID, error) {
	u := core.UserID(r.PathValue("id"))
	if !core.ValidToken(string(u)) || len(u) > 64 {
		return "", errs.E(errs.InvalidArgument, "bad user id")
	}
	if u == self {
		return "", errs.E(errs.InvalidArgument, "not on yourself")
	}
	return u, nil
}

func (a *roomsAPI) follow(on bool) func(http.ResponseWriter, *http.Request, core.UserID) {
	return func(w http.ResponseWriter, r *http.Request, user core.UserID) {
		target, err := pathUser(r, user)
		if err == nil {
			err = a.d.Social.SetFollow(r.Context(), user, target, on)
		}
		if err != nil {
			WriteError(w, r, a.d.Log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func (a *roomsAPI) block(on bool) func(http.ResponseWriter, *http.Request, core.UserID) {
	return func(w http.ResponseWriter, r *http.Request, user core.UserID) {
		target, err := pathUser(r, user)
		if err == nil {
			err = a.d.Social.SetBlock(r.Context(), user, target, on)
		}
		if err != nil {
			WriteError(w, r, a.d.Log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// UserPage is a page of user ids.
type UserPage struct {
	Users []core.UserID `json:"users"`
	Next  string        `json:"next,omitempty"`
}

func (a *roomsAPI) userPage(w http.ResponseWriter, r *http.Request, fn func(after string, limit int) ([]core.UserID, string, error)) {
	limit, err := limitParam(r)
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	users, next, err := fn(r.URL.Query().Get("after"), limit)
	if err != nil {
		WriteError(w, r, a.d.Log, err)
		return
	}
	if users == nil {
		users = []core.UserID{}
	}
	WriteJSON(w, http.StatusOK, UserPage{Users: users, Next: next})
}

func (a *roomsAPI) following(w http.ResponseWriter, r *http.Request, user core.UserID) {
	a.userPage(w, r, func(after string, limit int) ([]core.UserID, string, error) {
		return a.d.Social.Following(r.Context(), user, after, limit)
	})
}

func (a *roomsAPI) blocks(w http.ResponseWriter, r *http.Request, user core.UserID) {
	a.userPage(w, r, func(after string, limit int) ([]core.UserID, string, error) {
		return a.d.Social.BlockList(r.Context(), user, after, limit)
	})
}
