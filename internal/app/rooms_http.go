package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/rooms"
)

// roomDirectory serves the rooms HTTP endpoints from the read model, with
// the visibility and block rules of the room actors.
type roomDirectory struct{ r *roomsApp }

var _ httpapi.RoomDirectory = roomDirectory{}

func (d roomDirectory) CreateRoom(ctx context.Context, user core.UserID, in rooms.Input) (map[string]any, error) {
	res, err := d.r.create(ctx, user, in)
	if err != nil {
		return nil, err
	}
	m, _ := res.(map[string]any)
	return m, nil
}

// RoomListing returns a room's row if user may see the room; a room the
// user may not see is not found.
func (d roomDirectory) RoomListing(ctx context.Context, user core.UserID, id rooms.RoomID) (rooms.Listing, error) {
	if !id.Valid() {
		return rooms.Listing{}, errs.E(errs.NotFound, "no such room")
	}
	l, err := d.r.store.Listing(ctx, id)
	if err != nil {
		return l, err
	}
	mt := roomMeta{host: l.Host, workspace: l.Workspace, visibility: l.Visibility}
	acc, err := d.r.access(ctx, mt, user)
	if err != nil {
		return l, err
	}
	if l.Visibility != rooms.Public || acc.Blocked {
		_, err := d.r.m.host.Do(ctx, id.Stream(), actor.Command{Name: rooms.CmdView, Actor: user, Data: rooms.Encode(rooms.Input{}, acc)})
		if errs.Is(err, errs.Forbidden) {
			return rooms.Listing{}, errs.E(errs.NotFound, "no such room")
		}
		if err != nil {
			return rooms.Listing{}, err
		}
	}
	return l, nil
}

func (d roomDirectory) ListRooms(ctx context.Context, user core.UserID, q rooms.ListQuery) ([]rooms.Listing, string, error) {
	if q.Workspace != "" {
		ok, err := d.r.workspaces.IsMember(ctx, q.Workspace, user)
		if err != nil {
			return nil, "", errs.Wrap(errs.Unavailable, err, "read workspace membership")
		}
		if !ok {
			return nil, "", errs.E(errs.Forbidden, "you are not a member of workspace %s", q.Workspace)
		}
	}
	q.Viewer = user
	return d.r.store.ListRooms(ctx, q)
}

// homeSkew widens the fix-up window so that a room that changed while the
// home was being rebuilt is not missed.
const homeSkew = 5 * time.Second

// Home returns user's home: the precomputed entries with the read-time
// fix-ups (rooms that ended are dropped; followed rooms that changed since
// the home was computed, and the rooms of the user's workspaces, are
// added), leaving out the rooms of hosts who blocked the user.
func (d roomDirectory) Home(ctx context.Context, user core.UserID) ([]rooms.HomeEntry, error) {
	r := d.r
	size := r.cfg.HomeSize
	pre, built, err := r.store.HomeOf(ctx, user, size)
	if err != nil {
		return nil, err
	}
	since := time.Time{}
	if !built.IsZero() {
		since = built.Add(-homeSkew)
	}
	followed, err := r.store.FollowedRooms(ctx, user, since, size)
	if err != nil {
		return nil, err
	}
	var fresh []rooms.HomeEntry
	for _, l := range followed {
		fresh = append(fresh, rooms.HomeEntry{HomeItem: rooms.HomeItem{Room: l.Room, Via: l.Host, Reason: rooms.ReasonHosting, At: l.SortAt()}, Listing: l})
	}
	wss, err := r.workspaces.WorkspacesOf(ctx, user)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, err, "read workspaces")
	}
	for _, ws := range wss {
		for _, st := range []rooms.Status{rooms.Live, rooms.Scheduled} {
			ls, _, err := r.store.ListRooms(ctx, rooms.ListQuery{Status: st, Workspace: ws, Viewer: user, Limit: size})
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				fresh = append(fresh, rooms.HomeEntry{HomeItem: rooms.HomeItem{Room: l.Room, Via: l.Host, Reason: rooms.ReasonWorkspace, At: l.SortAt()}, Listing: l})
			}
		}
	}
	merged := rooms.MergeHome(pre, fresh, size)
	blocked := map[core.UserID]bool{}
	out := merged[:0]
	for _, e := range merged {
		h := e.Listing.Host
		b, seen := blocked[h]
		if !seen {
			if b, err = r.store.Blocked(ctx, h, user); err != nil {
				return nil, err
			}
			blocked[h] = b
		}
		if !b {
			out = append(out, e)
		}
	}
	return out, nil
}

// roomSocial serves follows and block lists.
type roomSocial struct{ r *roomsApp }

var _ httpapi.RoomSocial = roomSocial{}

func (s roomSocial) SetFollow(ctx context.Context, follower, followee core.UserID, on bool) error {
	if on {
		if _, err := s.r.m.auth.User(ctx, followee); err != nil {
			return err
		}
		if err := s.r.store.Follow(ctx, follower, followee, s.r.m.Clock.Now()); err != nil {
			return err
		}
	} else if err := s.r.store.Unfollow(ctx, follower, followee); err != nil {
		return err
	}
	data, _ := json.Marshal(homeJobData{Kind: homeRebuild, User: follower})
	return s.r.homeQ.Enqueue(ctx, "", data)
}

func (s roomSocial) Following(ctx context.Context, user core.UserID, after string, limit int) ([]core.UserID, string, error) {
	return s.r.store.Following(ctx, user, after, limit)
}

func (s roomSocial) SetBlock(ctx context.Context, host, user core.UserID, on bool) error {
	if !on {
		return s.r.store.Unblock(ctx, host, user)
	}
	return s.r.store.Block(ctx, host, user, host, s.r.m.Clock.Now())
}

func (s roomSocial) BlockList(ctx context.Context, host core.UserID, after string, limit int) ([]core.UserID, string, error) {
	return s.r.store.BlockList(ctx, host, after, limit)
}
