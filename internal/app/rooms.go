package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/analytics"
	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/rooms"
	"github.com/parleyhq/parley/internal/sqlite"
)

// roomStore is everything the rooms glue needs from the read-model store.
type roomStore interface {
	rooms.Listings
	rooms.Archives
	rooms.Blocks
	rooms.Follows
	rooms.Homes
	rooms.HomeReader
}

var (
	_ roomStore = (*sqlite.RoomStore)(nil)
	_ roomStore = (*postgres.RoomStore)(nil)
)

// roomsApp wires the rooms domain on one node: the room actors and their
// stream kinds, the protocol methods, the read-model projector, the hot
// state in the bus KV, the analytics and home workers, and the sweeper.
type roomsApp struct {
	m     *Main
	cfg   config.RoomsConfig
	lim   rooms.Limits
	store roomStore
	log   *slog.Logger

	workspaces rooms.Workspaces
	sink       rooms.Sink // nil when analytics are off
	sinkDir    string     // the Parquet directory, when the sink writes Parquet
	kv         *bus.KV
	analyticsQ *bus.Queue
	homeQ      *bus.Queue

	proj *projector
	hot  *hotWriter

	metaMu sync.Mutex
	meta   map[rooms.RoomID]roomMeta // immutable facts of rooms, read-through from the store

	stop chan struct{}
	wg   sync.WaitGroup
}

// roomMeta are a room's facts that never change.
type roomMeta struct {
	host       core.UserID
	workspace  string
	visibility rooms.Visibility
}

// noWorkspaces is the Workspaces of a node without the chat domain: nobody
// belongs to any workspace, so only public and invite-only rooms are open.
type noWorkspaces struct{}

func (noWorkspaces) IsMember(context.Context, string, core.UserID) (bool, error) { return false, nil }
func (noWorkspaces) WorkspacesOf(context.Context, core.UserID) ([]string, error) {
	return nil, nil
}

// limitsFrom converts the configuration into the rules' limits.
func limitsFrom(c config.RoomsConfig) rooms.Limits {
	l := rooms.DefaultLimits()
	l.Tick, l.MembershipInterval, l.ReactionInterval = c.Tick, c.MembershipInterval, c.ReactionInterval
	l.TallyInterval, l.CountsInterval, l.ReconnectGrace = c.TallyInterval, c.CountsInterval, c.ReconnectGrace
	l.HostGrace, l.HotStateTTL, l.MaxScheduleAhead = c.HostGrace, c.HotStateTTL, c.MaxScheduleAhead
	l.MaxTitle, l.MaxDescription, l.MaxTopics = c.MaxTitle, c.MaxDescription, c.MaxTopics
	l.MaxParticipants, l.MaxStage, l.MaxGuests = c.MaxParticipants, c.MaxStage, c.MaxGuests
	l.MaxComment, l.CommentRate, l.CommentBurst = c.MaxComment, c.CommentRate, c.CommentBurst
	l.MaxSlowMode, l.RecentComments, l.Reactions = c.MaxSlowMode, c.RecentComments, c.Reactions
	l.ReactionRate, l.ReactionBurst = c.ReactionRate, c.ReactionBurst
	l.MaxPollOptions, l.MaxPollDuration, l.MaxOpenPolls = c.MaxPollOptions, c.MaxPollDuration, c.MaxOpenPolls
	return l
}

// startRooms wires the rooms domain: its stores, actors, stream kinds and
// protocol methods, and starts its background work.
func (m *Main) startRooms(ctx context.Context) error {
	cfg := m.Config.Rooms
	if !cfg.Enabled {
		return nil
	}
	r := &roomsApp{
		m: m, cfg: cfg, lim: limitsFrom(cfg), log: m.Logger.With("component", "rooms"),
		workspaces: noWorkspaces{}, meta: map[rooms.RoomID]roomMeta{}, stop: make(chan struct{}),
	}
	if m.pg != nil {
		r.store = postgres.NewRoomStore(m.pg)
	} else {
		r.store = sqlite.NewRoomStore(m.sqlApp)
	}
	switch sink := cfg.AnalyticsSink; {
	case sink == "off":
	case sink == "postgres" || (sink == "auto" && m.pg != nil):
		if m.pg == nil {
			return errors.New("rooms.analytics_sink postgres needs database.url")
		}
		r.sink = postgres.NewAnalyticsSink(m.pg)
	default:
		r.sinkDir = cfg.AnalyticsDir
		if r.sinkDir == "" {
			r.sinkDir = filepath.Join(m.Config.DataDir, "analytics")
		}
		r.sink = analytics.NewSink(r.sinkDir)
	}
	if roomsSinkHook != nil && r.sink != nil {
		roomsSinkHook(r.sink)
	}
	var err error
	r.kv, err = m.bus.KV(ctx, bus.KVConfig{Name: bus.BucketRooms, Storage: bus.FileStorage, LimitMarkerTTL: time.Second})
	if err != nil {
		return err
	}
	r.analyticsQ, err = m.bus.Queue(ctx, bus.QueueConfig{Name: bus.QueueRoomsAnalytics, AckWait: cfg.AnalyticsAckWait,
		Backoff: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}, MaxDeliver: 10})
	if err != nil {
		return err
	}
	r.homeQ, err = m.bus.Queue(ctx, bus.QueueConfig{Name: bus.QueueRoomsHome, AckWait: time.Minute})
	if err != nil {
		return err
	}
	r.proj = newProjector(r)
	r.hot = newHotWriter(r)
	m.rooms = r

	m.host.Register(rooms.Kind, rooms.NewFactory(r.lim))
	m.host.Register(rooms.ModKind, rooms.NewModLog)
	m.host.Observe(rooms.Kind, r.observe)
	m.gw.RegisterKind(rooms.Kind, gateway.Kind{
		Authorize:    r.authorizeRoom,
		Subscribed:   func(u core.UserID, c core.ConnID, s core.StreamID) { r.tellConn(s, u, c, rooms.CmdAttach) },
		Unsubscribed: func(u core.UserID, c core.ConnID, s core.StreamID) { r.tellConn(s, u, c, rooms.CmdDetach) },
	})
	m.gw.RegisterKind(rooms.ModKind, gateway.Kind{Authorize: r.authorizeModInbox})
	m.RegisterMediaKind(rooms.Kind, roomMedia{r}, false)
	for _, name := range rooms.ClientCommands {
		m.gw.Handle("room."+name, r.method(name))
	}

	evictSub, err := m.bus.Subscribe(bus.Evict, func(_ string, data []byte) {
		var e eviction
		if json.Unmarshal(data, &e) != nil {
			return
		}
		room, _ := rooms.RoomOf(e.Stream)
		if e.User != "" {
			m.gw.EndSubscriptions(e.User, func(s core.StreamID) bool { return s == e.Stream }, errs.E(errs.Forbidden, "%s", e.Reason))
		}
		m.dropFromAudio(room, e.User)
	})
	if err != nil {
		return err
	}
	// The consumers outlive Run's context: they stop with the node.
	if r.sink != nil {
		stopA, err := r.analyticsQ.Consume(context.Background(), "rooms-analytics", cfg.AnalyticsConcurrency, r.analyticsJob)
		if err != nil {
			return err
		}
		m.closers = append(m.closers, func() error { stopA(); return nil })
	}
	stopH, err := r.homeQ.Consume(context.Background(), "rooms-home", cfg.HomeConcurrency, r.homeJob)
	if err != nil {
		return err
	}
	r.wg.Add(3)
	go r.proj.run()
	go r.hot.run()
	go r.sweep()
	m.closers = append(m.closers, func() error {
		stopH()
		_ = evictSub.Unsubscribe()
		close(r.stop)
		r.wg.Wait()
		return nil
	})
	return nil
}

// roomsRoutes registers the rooms domain's HTTP endpoints.
func (m *Main) roomsRoutes(mux *http.ServeMux) {
	if m.rooms == nil {
		return
	}
	httpapi.RegisterRooms(mux, httpapi.RoomsDeps{
		Verifier:  m.auth,
		Directory: roomDirectory{m.rooms},
		Social:    roomSocial{m.rooms},
		MaxBody:   m.Config.HTTP.MaxBodyBytes,
		Log:       m.Logger.With("component", "http"),
	})
}

// SetRoomWorkspaces sets the workspace membership the rooms rules use (the
// chat domain provides it).
func (m *Main) SetRoomWorkspaces(w rooms.Workspaces) {
	if m.rooms != nil && w != nil {
		m.rooms.workspaces = w
	}
}

// RoomStage returns a room's stage: who may send audio, and whether each is
// muted and locked. The media domain follows it (and the stage carried by
// the room's events).
func (m *Main) RoomStage(ctx context.Context, room rooms.RoomID) ([]rooms.StageMember, error) {
	if m.rooms == nil {
		return nil, errs.E(errs.Unavailable, "rooms are disabled")
	}
	if _, err := m.rooms.roomMeta(ctx, room); err != nil {
		return nil, err
	}
	res, err := m.host.Do(ctx, room.Stream(), actor.Command{Name: rooms.CmdStage})
	if err != nil {
		return nil, err
	}
	return replyAs[[]rooms.StageMember](res.Reply)
}

// CanSpeak reports whether user is on room's stage and unmuted, the media
// server's test for forwarding their audio.
func (m *Main) CanSpeak(ctx context.Context, room rooms.RoomID, user core.UserID) (bool, error) {
	stage, err := m.RoomStage(ctx, room)
	if err != nil {
		return false, err
	}
	for _, s := range stage {
		if s.User == user {
			return !s.Muted, nil
		}
	}
	return false, nil
}

// roomMeta returns the immutable facts of a room, or errs.NotFound.
func (r *roomsApp) roomMeta(ctx context.Context, id rooms.RoomID) (roomMeta, error) {
	if !id.Valid() {
		return roomMeta{}, errs.E(errs.InvalidArgument, "room is required")
	}
	r.metaMu.Lock()
	mt, ok := r.meta[id]
	r.metaMu.Unlock()
	if ok {
		return mt, nil
	}
	l, err := r.store.Listing(ctx, id)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return roomMeta{}, errs.E(errs.NotFound, "no such room")
		}
		return roomMeta{}, errs.Wrap(errs.Unavailable, err, "read room")
	}
	mt = roomMeta{host: l.Host, workspace: l.Workspace, visibility: l.Visibility}
	r.remember(id, mt)
	return mt, nil
}

func (r *roomsApp) remember(id rooms.RoomID, mt roomMeta) {
	r.metaMu.Lock()
	if len(r.meta) > 100000 {
		clear(r.meta)
	}
	r.meta[id] = mt
	r.metaMu.Unlock()
}

// access gathers the facts outside the room that its rules need about
// user: workspace membership and the host's block list.
func (r *roomsApp) access(ctx context.Context, mt roomMeta, user core.UserID) (rooms.Access, error) {
	var acc rooms.Access
	if user == mt.host {
		return acc, nil
	}
	blocked, err := r.store.Blocked(ctx, mt.host, user)
	if err != nil {
		return acc, errs.Wrap(errs.Unavailable, err, "read block list")
	}
	acc.Blocked = blocked
	if mt.workspace != "" {
		if acc.Member, err = r.workspaces.IsMember(ctx, mt.workspace, user); err != nil {
			return acc, errs.Wrap(errs.Unavailable, err, "read workspace membership")
		}
	}
	return acc, nil
}

// needsAccess lists the commands whose rules read the access facts (a
// visitor's: participants were checked when they joined).
var needsAccess = map[string]bool{
	rooms.CmdGet: true, rooms.CmdJoin: true, rooms.CmdInterest: true, rooms.CmdHand: true, rooms.CmdView: true,
}

// method returns the handler of protocol method "room.<name>".
func (r *roomsApp) method(name string) gateway.Handler {
	return func(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
		var in rooms.Input
		if err := gateway.DecodeParams(params, &in); err != nil {
			return nil, err
		}
		if name == rooms.CmdCreate {
			return r.create(ctx, c.User, in)
		}
		return r.do(ctx, name, c.User, c.Conn, in)
	}
}

// do runs a client command on a room.
func (r *roomsApp) do(ctx context.Context, name string, user core.UserID, conn core.ConnID, in rooms.Input) (any, error) {
	mt, err := r.roomMeta(ctx, in.Room)
	if err != nil {
		return nil, err
	}
	var acc rooms.Access
	if needsAccess[name] {
		if acc, err = r.access(ctx, mt, user); err != nil {
			return nil, err
		}
	}
	acc.Conn = conn
	res, err := r.m.host.Do(ctx, in.Room.Stream(), actor.Command{Name: name, Actor: user, Data: rooms.Encode(in, acc), Key: in.Key})
	if err != nil {
		return nil, err
	}
	switch name {
	case rooms.CmdReport:
		return r.fileReport(ctx, in.Room, user, res.Reply)
	case rooms.CmdBlock:
		if err := r.store.Block(ctx, mt.host, in.User, user, r.m.Clock.Now()); err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "store the block")
		}
	case rooms.CmdUnblock:
		if err := r.store.Unblock(ctx, mt.host, in.User); err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "store the unblock")
		}
	}
	reply := res.Reply
	if reply == nil {
		reply = struct{}{}
	}
	if len(res.Events) > 0 {
		if mp, err := replyAs[map[string]any](reply); err == nil && mp != nil {
			mp["seq"] = res.Events[len(res.Events)-1].Seq
			reply = mp
		}
	}
	return reply, nil
}

// replyAs returns a command's reply as T: the value itself from this
// node's actor, decoded from its JSON when the command was forwarded to
// the stream's owner on another node.
func replyAs[T any](reply any) (T, error) {
	var v T
	switch r := reply.(type) {
	case T:
		return r, nil
	case json.RawMessage:
		err := json.Unmarshal(r, &v)
		return v, err
	case nil:
		return v, nil
	}
	return v, errs.E(errs.Internal, "unexpected reply %T", reply)
}

// create makes a room with a new id, as user, and projects it at once so
// that it is listed when the answer arrives.
func (r *roomsApp) create(ctx context.Context, user core.UserID, in rooms.Input) (any, error) {
	id := rooms.NewRoomID()
	var acc rooms.Access
	if in.Workspace != "" {
		ok, err := r.workspaces.IsMember(ctx, in.Workspace, user)
		if err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "read workspace membership")
		}
		acc.Member = ok
	}
	in.Room = id
	res, err := r.m.host.Do(ctx, id.Stream(), actor.Command{Name: rooms.CmdCreate, Actor: user, Data: rooms.Encode(in, acc), Key: in.Key})
	if err != nil {
		return nil, err
	}
	r.remember(id, roomMeta{host: user, workspace: in.Workspace, visibility: visibilityOf(in.Visibility)})
	if err := r.proj.catchUp(ctx, id); err != nil {
		r.log.Warn("project new room", "room", id, "err", err)
	}
	reply, _ := replyAs[map[string]any](res.Reply)
	if reply == nil {
		reply = map[string]any{"room": id}
	}
	if len(res.Events) > 0 {
		reply["seq"] = res.Events[len(res.Events)-1].Seq
	}
	return reply, nil
}

func visibilityOf(v rooms.Visibility) rooms.Visibility {
	if v == "" {
		return rooms.Public
	}
	return v
}

// fileReport writes a report the room accepted to its moderation inbox.
func (r *roomsApp) fileReport(ctx context.Context, room rooms.RoomID, user core.UserID, checked any) (any, error) {
	rc, err := replyAs[rooms.ReportCheck](checked)
	if err != nil {
		return nil, err
	}
	data, _ := json.Marshal(rooms.Report{User: rc.User, Comment: rc.Comment, Text: rc.Text, Reason: rc.Reason})
	res, err := r.m.host.Do(ctx, room.ModStream(), actor.Command{Name: rooms.CmdReport, Actor: user, Data: data})
	if err != nil {
		return nil, err
	}
	return res.Reply, nil
}

// authorizeRoom is the rule of subscribing to room:<id>: the view row of
// the permission table, decided by the room's actor.
func (r *roomsApp) authorizeRoom(ctx context.Context, user core.UserID, s core.StreamID) error {
	id, _ := rooms.RoomOf(s)
	mt, err := r.roomMeta(ctx, id)
	if err != nil {
		return err
	}
	acc, err := r.access(ctx, mt, user)
	if err != nil {
		return err
	}
	_, err = r.m.host.Do(ctx, s, actor.Command{Name: rooms.CmdView, Actor: user, Data: rooms.Encode(rooms.Input{}, acc)})
	return err
}

// authorizeModInbox lets the host and the moderators of a room read its
// moderation inbox.
func (r *roomsApp) authorizeModInbox(ctx context.Context, user core.UserID, s core.StreamID) error {
	id, _ := rooms.RoomOf(s)
	if _, err := r.roomMeta(ctx, id); err != nil {
		return err
	}
	res, err := r.m.host.Do(ctx, id.Stream(), actor.Command{Name: rooms.CmdWhois, Actor: user})
	if err != nil {
		return err
	}
	if role, _ := replyAs[rooms.Role](res.Reply); role != rooms.RoleHost && role != rooms.RoleModerator {
		return errs.E(errs.Forbidden, "the moderation inbox is for the host and moderators")
	}
	return nil
}

// tellConn queues an attach or detach of a watching connection to the
// room's actor, in order (the gateway calls it from the connection's
// goroutine), without waiting for the answer.
func (r *roomsApp) tellConn(s core.StreamID, user core.UserID, conn core.ConnID, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.m.host.Tell(ctx, s, actor.Command{Name: name, Actor: user, Data: rooms.Encode(rooms.Input{}, rooms.Access{Conn: conn})})
	if err != nil && !errors.Is(err, actor.ErrClosed) {
		r.log.Warn("tell room about a connection", "stream", s, "op", name, "err", err)
	}
}

// eviction asks every node to end a user's subscriptions to a room's
// stream and take them out of its audio; with no user, to end the room's
// audio (it ended).
type eviction struct {
	Stream core.StreamID `json:"stream"`
	User   core.UserID   `json:"user"`
	Reason string        `json:"reason"`
}

// evict ends user's subscriptions to the room on every node.
func (r *roomsApp) evict(room rooms.RoomID, user core.UserID, reason string) {
	e := eviction{Stream: room.Stream(), User: user, Reason: reason}
	data, _ := json.Marshal(e)
	if err := r.m.bus.Publish(bus.Evict, data); err != nil {
		r.log.Warn("publish eviction", "err", err)
	}
}

// RoomHotState returns a room's hot state as the bus KV holds it (every
// node can read it; it is absent once the room ended or its TTL ran out).
func (m *Main) RoomHotState(ctx context.Context, room rooms.RoomID) (rooms.Hot, bool, error) {
	var h rooms.Hot
	if m.rooms == nil {
		return h, false, errs.E(errs.Unavailable, "rooms are disabled")
	}
	e, err := m.rooms.kv.Get(ctx, HotKey(room))
	if errs.Is(err, errs.NotFound) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	return h, true, json.Unmarshal(e.Value, &h)
}

// RoomAnalyticsDir returns the directory of the Parquet analytics files,
// or "" when the node writes analytics elsewhere or not at all.
func (m *Main) RoomAnalyticsDir() string {
	if m.rooms == nil {
		return ""
	}
	return m.rooms.sinkDir
}
