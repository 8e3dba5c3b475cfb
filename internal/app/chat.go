package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/blob"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/postgres"
	"github.com/parleyhq/parley/internal/protocol"
	"github.com/parleyhq/parley/internal/sqlite"
)

// chatNode is the chat domain's wiring on one node: its store, its actor
// host (one writer per workspace, channel and inbox stream), the View, the
// feed that keeps both current, uploads, bots and webhooks.
type chatNode struct {
	m      *Main
	cfg    config.ChatConfig
	lim    chat.Limits
	log    *slog.Logger
	store  chat.Store
	host   *actor.Host
	view   *chat.View
	feed   *chatFeed
	blobs  *blob.Disk
	bots   *botVerifier
	hooks  *webhooks
	sender auth.Sender

	metrics chatMetrics

	typingMu sync.Mutex
	typing   map[typingKey]time.Time
}

type typingKey struct {
	user core.UserID
	ch   chat.ChannelID
}

// chatMetrics are the chat collectors, registered on the node's registry.
type chatMetrics struct {
	projectionErrors prometheus.Counter
	boots            prometheus.Counter
}

// chatLimits turns the configuration into the domain's limits.
func chatLimits(c config.ChatConfig) chat.Limits {
	l := chat.DefaultLimits()
	l.MaxMessageChars, l.MaxAttachments, l.MaxReactions, l.MaxPins, l.MaxGroupDM = c.MaxMessageChars, c.MaxAttachments, c.MaxReactions, c.MaxPins, c.MaxGroupDM
	return l
}

// startChat wires the chat domain: its stores, actors, stream kinds and
// protocol methods.
func (m *Main) startChat(ctx context.Context) error {
	cfg := m.Config.Chat
	if !cfg.Enabled {
		return nil
	}
	n := &chatNode{m: m, cfg: cfg, lim: chatLimits(cfg), log: m.Logger.With("component", "chat"), typing: map[typingKey]time.Time{}}
	if m.pg != nil {
		n.store = postgres.NewChatStore(m.pg)
	} else {
		n.store = sqlite.NewChatStore(m.sqlApp)
	}
	dir := cfg.UploadDir
	if dir == "" {
		dir = filepath.Join(m.Config.DataDir, "uploads")
	}
	var err error
	if n.blobs, err = blob.NewDisk(dir); err != nil {
		return err
	}
	n.sender = m.Sender
	if n.sender == nil {
		if n.sender, err = auth.NewSender(m.Config.Auth, n.log); err != nil {
			return err
		}
	}
	n.metrics = chatMetrics{
		projectionErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_chat_projection_errors_total", Help: "Chat projection batches that failed after retries (the resync retries them)."}),
		boots:            prometheus.NewCounter(prometheus.CounterOpts{Name: "parley_chat_boots_total", Help: "Chat boot payloads served."}),
	}
	m.metrics.Registry.MustRegister(n.metrics.projectionErrors, n.metrics.boots)
	m.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "parley_chat_view_streams", Help: "Chat streams held by this node's in-memory view."},
		func() float64 { return float64(n.view.Stats().Streams) }))
	m.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "parley_chat_boot_cache_hits_total", Help: "Chat boot payloads served from the per-user cache."},
		func() float64 { return float64(n.view.BootCacheHits()) }))

	n.view = chat.NewView(cfg.BootCache)
	n.feed = newChatFeed(n)
	n.host = m.host
	n.host.Register(chat.KindWorkspace, chat.NewWorkspace(n.lim))
	n.host.Register(chat.KindChannel, chat.NewChannel(n.lim))
	n.host.Register(chat.KindInbox, chat.NewInbox())
	for _, kind := range chatKinds {
		m.observeCommits(kind, func(_ core.StreamID, evs []eventlog.Event) { n.feed.committed(evs) })
	}
	m.chat = n

	if err := n.feed.start(ctx); err != nil {
		return err
	}
	// Closed after the actor host (closers run in reverse), so that what
	// the actors committed last is projected.
	m.closers = append(m.closers, n.feed.close)

	n.bots = newBotVerifier(n)
	m.addVerifier(botTokenPrefix, n.bots.Verify)
	if err := n.bots.start(); err != nil {
		return err
	}
	if n.hooks, err = newWebhooks(ctx, n); err != nil {
		return err
	}
	m.closers = append(m.closers, n.hooks.close)

	n.registerKinds()
	n.registerMethods()
	m.presenceRule = n.presenceRule
	m.auth.SetOnProfileChange(n.profileChanged)
	return nil
}

// chatRoutes registers the chat domain's HTTP endpoints.
func (m *Main) chatRoutes(mux *http.ServeMux) {
	if m.chat == nil {
		return
	}
	httpapi.RegisterChat(mux, httpapi.ChatOptions{
		Verifier:       tokenVerifier{m},
		Session:        m.chat,
		Timeline:       m.chat,
		Directory:      m.chat,
		Files:          m.chat,
		Admin:          m.chat,
		Hooks:          m.chat,
		MaxBody:        m.Config.HTTP.MaxBodyBytes,
		MaxUploadBytes: m.Config.Chat.MaxUploadBytes,
		Log:            m.Logger.With("component", "http"),
	})
}

func (n *chatNode) registerKinds() {
	gw := n.m.gw
	gw.RegisterKind(chat.KindWorkspace, gateway.Kind{
		Authorize: func(_ context.Context, user core.UserID, s core.StreamID) error {
			role, ok := n.view.Role(chat.WorkspaceID(s.ID()), user)
			switch {
			case !ok:
				return errs.E(errs.NotFound, "no such workspace")
			case role == chat.RoleGuest:
				return errs.E(errs.Forbidden, "guests do not see the workspace's member list and channel directory")
			}
			return nil
		},
		Revokes: revokesWorkspace,
	})
	gw.RegisterKind(chat.KindChannel, gateway.Kind{
		Authorize: func(_ context.Context, user core.UserID, s core.StreamID) error {
			_, err := n.view.Access(user, chat.ChannelID(s.ID()))
			return err
		},
		Revokes: n.revokesChannel,
	})
	gw.RegisterKind(chat.KindInbox, gateway.Kind{
		Authorize: func(_ context.Context, user core.UserID, s core.StreamID) error {
			if core.UserID(s.ID()) != user {
				return errs.E(errs.Forbidden, "an inbox is visible to its user only")
			}
			return nil
		},
	})
}

var (
	evLeft    = []byte(`"event":"` + chat.EvMemberLeft + `"`)
	evRemoved = []byte(`"event":"` + chat.EvMemberRemoved + `"`)
	evRole    = []byte(`"event":"` + chat.EvMemberRole + `"`)
)

// memberChange decodes an event frame that removes a member, or changes a
// member's role when roles is set: the frame's stream, the user and the
// new role. Other frames are not decoded.
func memberChange(payload []byte, roles bool) (core.StreamID, core.UserID, chat.Role, bool) {
	if !bytes.Contains(payload, evLeft) && !bytes.Contains(payload, evRemoved) && !(roles && bytes.Contains(payload, evRole)) {
		return "", "", "", false
	}
	var f struct {
		Stream core.StreamID `json:"stream"`
		Data   struct {
			User core.UserID `json:"user"`
			Role chat.Role   `json:"role"`
		} `json:"data"`
	}
	if json.Unmarshal(payload, &f) != nil || f.Data.User == "" {
		return "", "", "", false
	}
	return f.Stream, f.Data.User, f.Data.Role, true
}

// revokesWorkspace ends the workspace subscription of a member who left,
// was removed or became a guest.
func revokesWorkspace(payload []byte) []core.UserID {
	_, user, role, ok := memberChange(payload, true)
	if !ok || (role != "" && role != chat.RoleGuest) {
		return nil
	}
	return []core.UserID{user}
}

// revokesChannel ends the channel subscription of a member who left or
// was removed, unless the channel is public and they are not a guest
// (public channels stay readable to the workspace's members).
func (n *chatNode) revokesChannel(payload []byte) []core.UserID {
	stream, user, _, ok := memberChange(payload, false)
	if !ok {
		return nil
	}
	info, known := n.view.Channel(chat.ChannelID(stream.ID()))
	if known && info.Kind == chat.Public {
		if role, member := n.view.Role(info.Workspace, user); member && role != chat.RoleGuest {
			return nil
		}
	}
	return []core.UserID{user}
}

// presenceRule lets people who share a workspace see each other's
// presence. Users who belong to no workspace keep the platform's rule
// (anyone signed in), so deployments that use only rooms are unaffected.
func (n *chatNode) presenceRule(_ context.Context, viewer, target core.UserID) error {
	if viewer == target || n.view.ShareWorkspace(viewer, target) || len(n.view.Workspaces(target)) == 0 {
		return nil
	}
	return errs.E(errs.Forbidden, "presence is visible to people who share a workspace")
}

// profileChanged copies a changed profile into every workspace of the user.
func (n *chatNode) profileChanged(u auth.User) {
	p := chat.Profile{Handle: u.Handle, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL}
	data, _ := json.Marshal(chat.MemberUpdated{User: u.ID, Profile: p})
	for _, ws := range n.view.Workspaces(u.ID) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := n.host.Do(ctx, ws.Stream(), actor.Command{Name: chat.CmdMemberProfile, Actor: u.ID, Data: data}); err != nil {
			n.log.Warn("copy profile to workspace", "workspace", string(ws), "err", err)
		}
		cancel()
	}
}

// deliverNotes pushes notes to this node's connections of their users, and
// ends the subscriptions that membership changes withdrew.
func (n *chatNode) deliverNotes(notes []chat.Note) {
	gw := n.m.gw
	now := n.m.Clock.Now().UTC()
	for _, note := range notes {
		if gw.LocalConnections(note.User) == 0 {
			continue
		}
		data, _ := json.Marshal(note.Data)
		gw.DeliverToUser(note.User, protocol.MustEncode(protocol.Push{Type: protocol.TypePush, Event: note.Event, Time: now, Data: data}))
		switch note.Event {
		case chat.PushChannelRemoved:
			ch := note.Data.(chat.MembershipNote).Channel
			if _, err := n.view.Access(note.User, ch); err != nil {
				gw.EndSubscriptions(note.User, func(s core.StreamID) bool { return s == ch.Stream() },
					errs.E(errs.Forbidden, "no longer a member of the channel"))
			}
		case chat.PushWorkspaceGone:
			ws := note.Data.(chat.MembershipNote).Workspace
			gw.EndSubscriptions(note.User, func(s core.StreamID) bool {
				switch s.Kind() {
				case chat.KindWorkspace:
					return chat.WorkspaceID(s.ID()) == ws
				case chat.KindChannel:
					info, ok := n.view.Channel(chat.ChannelID(s.ID()))
					return ok && info.Workspace == ws
				}
				return false
			}, errs.E(errs.Forbidden, "no longer a member of the workspace"))
		}
	}
}

// do runs a chat command and waits until this node's View and read models
// hold its events, so that the caller reads its own write.
func (n *chatNode) do(ctx context.Context, stream core.StreamID, name string, who core.UserID, data any, key string) (actor.Result, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return actor.Result{}, errs.Wrap(errs.Internal, err, "encode command")
	}
	res, err := n.host.Do(ctx, stream, actor.Command{Name: name, Actor: who, Data: raw, Key: key})
	if err != nil {
		return res, err
	}
	if len(res.Events) > 0 {
		n.feed.applied(ctx, stream, res.Events[len(res.Events)-1].Seq)
	}
	return res, nil
}
