package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/gateway"
	"github.com/parleyhq/parley/internal/httpapi"
	"github.com/parleyhq/parley/internal/media"
	"github.com/parleyhq/parley/internal/metrics"
	"github.com/parleyhq/parley/internal/presence"
	"github.com/parleyhq/parley/internal/protocol"
)

// The media glue: it connects the protocol (media.* methods and pushes) to
// the SFU in internal/media, and the domains that own audio sessions (live
// rooms, calls) to the SFU's per-participant policy. The SFU knows nothing of
// rooms or users: a media session is named by the stream it belongs to
// ("room:r_1", "call:c_1") and a participant by its user id.

// Pushes of the media protocol, sent to the one connection that joined.
const (
	PushMediaOffer  = "media.offer"  // a renegotiation offer: answer with media.answer
	PushMediaPolicy = "media.policy" // the participant's rights changed
	PushMediaClosed = "media.closed" // the server removed the participant
	// EventMediaSpeakers is the ephemeral event with a session's active
	// speakers, on the session's stream.
	EventMediaSpeakers = "media.speakers"
)

// MediaRules decides who may join the audio of the streams of one kind, and
// with which policy. The domain that owns the kind implements it (rooms:
// speakers send, everyone listens; calls: every member sends).
type MediaRules interface {
	// MediaJoin is asked when user joins session's audio. It returns the
	// user's policy, or why the user may not join.
	MediaJoin(ctx context.Context, session core.StreamID, user core.UserID) (media.Policy, error)
	// MediaLeft is told when user's audio connection to session ended:
	// reason is "left", "disconnected", "join_failed" or one of the
	// media.Reason values.
	MediaLeft(session core.StreamID, user core.UserID, reason string)
}

// conversationMembers lists the members of a channel or DM, for calls in
// it. The chat domain provides it; until it is wired, calls take an explicit
// member list.
type conversationMembers interface {
	Members(ctx context.Context, conversation core.StreamID) ([]core.UserID, error)
}

type mediaKind struct {
	rules MediaRules
	// stream makes the media glue register an ephemeral stream kind for the
	// kind's speaker events, open to any signed-in user (kinds without a
	// domain of their own: development and tests).
	stream bool
}

type mediaKey struct {
	session core.StreamID
	user    core.UserID
}

// mediaApp is the media glue's state in Main.
type mediaApp struct {
	kinds   map[string]mediaKind
	srv     *media.Server
	members conversationMembers
	cluster *mediaCluster // nil on a single node
	follow  mediaFollowers

	mu      sync.Mutex
	holder  map[mediaKey]core.ConnID                   // the connection each participant joined through
	conns   map[core.ConnID]map[core.StreamID]struct{} // the sessions each connection joined
	joining map[mediaKey]*media.Policy                 // policies that arrived while a join was in flight
}

// RegisterMediaKind declares that streams of kind have audio, joined under
// rules. With ownStream, the kind also gets an ephemeral stream kind for its
// speaker events, open to any signed-in user (for kinds without a domain of
// their own). It must be called before Run.
func (m *Main) RegisterMediaKind(kind string, rules MediaRules, ownStream bool) {
	if m.media.kinds == nil {
		m.media.kinds = map[string]mediaKind{}
	}
	m.media.kinds[kind] = mediaKind{rules: rules, stream: ownStream}
}

// MediaServer returns the node's SFU (nil when media is disabled).
func (m *Main) MediaServer() *media.Server { return m.media.srv }

// SetMediaPolicy changes what user may do in session's audio (the domains
// call it when a speaker is muted or leaves the stage). A policy older than
// the one in force (by Version) is ignored.
func (m *Main) SetMediaPolicy(session core.StreamID, user core.UserID, p media.Policy) error {
	if m.media.srv == nil {
		return nil
	}
	ok, err := m.media.srv.SetPolicy(media.SessionID(session), media.ParticipantID(user), p)
	if err != nil || ok {
		return err
	}
	if m.media.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		home, err := m.mediaHome(ctx, session, false)
		if err != nil {
			return err
		}
		if home != "" && home != m.node {
			rep, err := m.askMedia(ctx, home, mediaRequest{Op: "policy", Session: session, User: user, Policy: p})
			if err != nil || rep.Found {
				return err
			}
		}
	}
	// Not in the session: a join may be in flight, with a policy read before
	// this change; keep the change for it.
	k := mediaKey{session, user}
	m.media.mu.Lock()
	if pend, joining := m.media.joining[k]; joining && (pend == nil || p.Version == 0 || p.Version >= pend.Version) {
		m.media.joining[k] = &p
	}
	m.media.mu.Unlock()
	return nil
}

// startMedia starts the SFU and registers the calls domain and the media
// methods.
func (m *Main) startMedia(ctx context.Context) error {
	cfg := m.Config.Media
	if !cfg.Enabled {
		return nil
	}
	ma := &m.media
	ma.holder = map[mediaKey]core.ConnID{}
	ma.conns = map[core.ConnID]map[core.StreamID]struct{}{}
	ma.joining = map[mediaKey]*media.Policy{}
	loopback := cfg.IncludeLoopback
	if host, _, err := net.SplitHostPort(cfg.UDPAddr); err == nil {
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			loopback = true
		}
	}
	srv, err := media.New(media.Config{
		UDPAddr:            cfg.UDPAddr,
		PortMin:            uint16(cfg.PortMin),
		PortMax:            uint16(cfg.PortMax),
		PublicIPs:          cfg.PublicIPs,
		IncludeLoopback:    loopback,
		SpeakerInterval:    cfg.SpeakerInterval,
		SpeakerThreshold:   cfg.SpeakerThreshold,
		NegotiationTimeout: cfg.NegotiationTimeout,
		ConnectTimeout:     cfg.ConnectTimeout,
		MaxParticipants:    cfg.MaxParticipants,
		MaxSenders:         cfg.MaxSenders,
		MaxCandidates:      cfg.MaxCandidates,
		FanoutShard:        cfg.FanoutShard,
		OnSpeakers:         m.mediaSpeakers,
		OnSessionEmpty:     m.mediaSessionEmpty,
		Logger:             m.Logger.With("component", "media"),
	})
	if err != nil {
		return err
	}
	ma.srv = srv
	m.closers = append(m.closers, func() error { srv.Close(); return nil })
	m.closers = append(m.closers, m.closeFollowers)
	m.Logger.Info("media server listening", "udp", fmt.Sprint(srv.UDPAddr()))

	if !m.bus.Embedded() {
		if err := m.startMediaCluster(ctx); err != nil {
			return err
		}
	}
	m.registerCalls()
	for kind, k := range ma.kinds {
		if k.stream {
			m.gw.RegisterKind(kind, gateway.Kind{
				Ephemeral: true,
				Authorize: func(context.Context, core.UserID, core.StreamID) error { return nil },
			})
		}
	}
	m.gw.Handle("media.join", m.mediaJoin)
	m.gw.Handle("media.answer", m.mediaAnswer)
	m.gw.Handle("media.candidate", m.mediaCandidate)
	m.gw.Handle("media.leave", m.mediaLeave)
	m.gw.Handle("media.stats", m.mediaStatsMethod)
	// A participant's audio lives as long as the connection it joined
	// through: watch connections end, next to the session directory.
	m.gw.SetDirectory(connWatch{Directory: m.dir, gone: m.mediaConnGone})
	m.metrics.RegisterMedia(m.mediaSnapshot)
	return nil
}

// mediaRoutes registers the media HTTP endpoints.
func (m *Main) mediaRoutes(mux *http.ServeMux) {
	if m.media.srv == nil {
		return
	}
	mux.HandleFunc("GET /v1/media/sessions/{session}/stats", m.mediaStatsHTTP)
	if m.Config.Media.TestPage {
		mux.HandleFunc("GET /test/media.html", serveMediaTestPage)
	}
}

// connWatch tells the media glue when a connection ends, and passes every
// call on to the session directory.
type connWatch struct {
	*presence.Directory
	gone func(user core.UserID, conn core.ConnID)
}

func (w connWatch) Disconnected(user core.UserID, conn core.ConnID) {
	w.Directory.Disconnected(user, conn)
	w.gone(user, conn)
}

// mediaSignaler pushes the SFU's signaling to the connection that joined.
type mediaSignaler struct {
	m       *Main
	session core.StreamID
	caller  gateway.Caller
}

func (s *mediaSignaler) push(event string, data any) {
	b, _ := json.Marshal(data)
	f := protocol.MustEncode(protocol.Push{Type: protocol.TypePush, Event: event, Time: s.m.Clock.Now().UTC(), Data: b})
	s.m.gw.SendToConn(s.caller.User, s.caller.Conn, f)
}

func (s *mediaSignaler) Offer(o media.Offer) {
	s.push(PushMediaOffer, map[string]any{"session": s.session, "rev": o.Rev, "sdp": o.SDP})
}

func (s *mediaSignaler) Policy(p media.Policy) {
	s.push(PushMediaPolicy, map[string]any{"session": s.session, "policy": p})
}

// Closed runs on the media server's goroutines (its timer loop among
// them): the domain is told on a goroutine of its own.
func (s *mediaSignaler) Closed(reason string) {
	s.push(PushMediaClosed, map[string]any{"session": s.session, "reason": reason})
	go s.m.mediaGone(s.session, s.caller.User, s.caller.Conn, reason)
}

// mediaGone forgets a participant's connection and tells the domain, if conn
// still held the participant.
func (m *Main) mediaGone(session core.StreamID, user core.UserID, conn core.ConnID, reason string) {
	k := mediaKey{session, user}
	ma := &m.media
	ma.mu.Lock()
	held := ma.holder[k] == conn
	if held {
		m.setMediaRemote(k, "")
		delete(ma.holder, k)
		if set := ma.conns[conn]; set != nil {
			delete(set, session)
			if len(set) == 0 {
				delete(ma.conns, conn)
			}
		}
	}
	ma.mu.Unlock()
	if held {
		if kind, ok := ma.kinds[session.Kind()]; ok {
			kind.rules.MediaLeft(session, user, reason)
		}
	}
}

// mediaConnGone ends the audio of every session joined through conn.
func (m *Main) mediaConnGone(user core.UserID, conn core.ConnID) {
	ma := &m.media
	ma.mu.Lock()
	sessions := ma.conns[conn]
	delete(ma.conns, conn)
	var mine []core.StreamID
	for s := range sessions {
		k := mediaKey{s, user}
		if ma.holder[k] == conn {
			delete(ma.holder, k)
			mine = append(mine, s)
		}
	}
	ma.mu.Unlock()
	for _, s := range mine {
		m.leaveMedia(s, user)
		m.setMediaRemote(mediaKey{s, user}, "")
		if kind, ok := ma.kinds[s.Kind()]; ok {
			kind.rules.MediaLeft(s, user, "disconnected")
		}
	}
}

// MediaSessionParams name a session (media.leave, media.stats).
type MediaSessionParams struct {
	Session core.StreamID `json:"session"`
}

// MediaJoinResult answers media.join.
type MediaJoinResult struct {
	Session     core.StreamID     `json:"session"`
	Participant core.UserID       `json:"participant"`
	Offer       media.Offer       `json:"offer"`
	Policy      media.Policy      `json:"policy"`
	PublishMid  string            `json:"publish_mid"`
	ICEServers  []media.ICEServer `json:"ice_servers"`
}

func (m *Main) mediaKindOf(s core.StreamID) (mediaKind, error) {
	if err := s.Validate(); err != nil {
		return mediaKind{}, errs.Wrap(errs.InvalidArgument, err, "bad session")
	}
	k, ok := m.media.kinds[s.Kind()]
	if !ok {
		return mediaKind{}, errs.E(errs.NotFound, "%s streams have no audio", s.Kind())
	}
	return k, nil
}

func (m *Main) mediaJoin(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p MediaSessionParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	kind, err := m.mediaKindOf(p.Session)
	if err != nil {
		return nil, err
	}
	ma := &m.media
	k := mediaKey{p.Session, c.User}
	ma.mu.Lock()
	if set := ma.conns[c.Conn]; len(set) >= m.Config.Media.MaxSessionsPerConn {
		if _, again := set[p.Session]; !again {
			ma.mu.Unlock()
			return nil, errs.E(errs.LimitExceeded, "a connection may be in at most %d audio sessions", m.Config.Media.MaxSessionsPerConn)
		}
	}
	ma.joining[k] = nil
	ma.mu.Unlock()
	pol, err := kind.rules.MediaJoin(ctx, p.Session, c.User)
	var (
		offer media.Offer
		home  core.NodeID
	)
	if err == nil {
		offer, home, err = m.joinMedia(ctx, p.Session, c, pol)
		if err != nil {
			// The domain counted the user in: tell it the join failed.
			defer kind.rules.MediaLeft(p.Session, c.User, "join_failed")
		}
	}
	ma.mu.Lock()
	pending := ma.joining[k]
	delete(ma.joining, k)
	if err == nil {
		if prev, ok := ma.holder[k]; ok && prev != c.Conn {
			if set := ma.conns[prev]; set != nil {
				delete(set, p.Session)
			}
		}
		ma.holder[k] = c.Conn
		if home != m.node {
			m.setMediaRemote(k, home)
		} else {
			m.setMediaRemote(k, "")
		}
		if ma.conns[c.Conn] == nil {
			ma.conns[c.Conn] = map[core.StreamID]struct{}{}
		}
		ma.conns[c.Conn][p.Session] = struct{}{}
	}
	ma.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if pending != nil && (pending.Version == 0 || pending.Version >= pol.Version) {
		pol = *pending
		if err := m.SetMediaPolicy(p.Session, c.User, pol); err != nil {
			return nil, err
		}
	}
	return MediaJoinResult{
		Session:     p.Session,
		Participant: c.User,
		Offer:       offer,
		Policy:      pol,
		PublishMid:  "0",
		ICEServers:  m.iceServersFor(c.User),
	}, nil
}

// joinMedia joins c's user to session's audio on the session's home node:
// this one, or the one another node claimed first.
func (m *Main) joinMedia(ctx context.Context, session core.StreamID, c gateway.Caller, pol media.Policy) (media.Offer, core.NodeID, error) {
	for range 2 {
		home, err := m.mediaHome(ctx, session, true)
		if err != nil {
			return media.Offer{}, "", err
		}
		if home == m.node {
			offer, err := m.media.srv.Join(ctx, media.SessionID(session), media.ParticipantID(c.User), pol, &mediaSignaler{m: m, session: session, caller: c})
			if err == nil {
				m.followMedia(session)
			}
			return offer, home, err
		}
		rep, err := m.askMedia(ctx, home, mediaRequest{Op: "join", Session: session, User: c.User, Node: m.node, Conn: c.Conn, Policy: pol})
		if err != nil {
			return media.Offer{}, "", err
		}
		if !rep.NotHome {
			return rep.Offer, home, nil
		}
	}
	return media.Offer{}, "", errs.E(errs.Unavailable, "the media server of %s moved; retry", session)
}

// leaveMedia removes user's participant from session, wherever it is
// hosted.
func (m *Main) leaveMedia(session core.StreamID, user core.UserID) {
	if home, ok := m.mediaRemote(mediaKey{session, user}); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := m.askMedia(ctx, home, mediaRequest{Op: "leave", Session: session, User: user}); err != nil {
			m.Logger.Warn("media leave on the home node", "session", string(session), "node", string(home), "err", err)
		}
		return
	}
	m.media.srv.Leave(media.SessionID(session), media.ParticipantID(user))
}

// holds reports whether connection c holds user's participant in session.
func (m *Main) holds(session core.StreamID, c gateway.Caller) error {
	m.media.mu.Lock()
	conn, ok := m.media.holder[mediaKey{session, c.User}]
	m.media.mu.Unlock()
	if !ok || conn != c.Conn {
		return errs.E(errs.NotFound, "this connection has not joined the audio of %s", session)
	}
	return nil
}

// MediaAnswerParams are the params of media.answer.
type MediaAnswerParams struct {
	Session core.StreamID `json:"session"`
	Rev     uint64        `json:"rev"`
	SDP     string        `json:"sdp"`
}

func (m *Main) mediaAnswer(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p MediaAnswerParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := m.holds(p.Session, c); err != nil {
		return nil, err
	}
	if home, ok := m.mediaRemote(mediaKey{p.Session, c.User}); ok {
		_, err := m.askMedia(ctx, home, mediaRequest{Op: "answer", Session: p.Session, User: c.User, Rev: p.Rev, SDP: p.SDP})
		return struct{}{}, err
	}
	return struct{}{}, m.media.srv.Answer(media.SessionID(p.Session), media.ParticipantID(c.User), p.Rev, p.SDP)
}

// MediaCandidateParams are the params of media.candidate.
type MediaCandidateParams struct {
	Session   core.StreamID   `json:"session"`
	Candidate media.Candidate `json:"candidate"`
}

func (m *Main) mediaCandidate(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p MediaCandidateParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := m.holds(p.Session, c); err != nil {
		return nil, err
	}
	if home, ok := m.mediaRemote(mediaKey{p.Session, c.User}); ok {
		_, err := m.askMedia(ctx, home, mediaRequest{Op: "candidate", Session: p.Session, User: c.User, Candidate: p.Candidate})
		return struct{}{}, err
	}
	return struct{}{}, m.media.srv.AddCandidate(media.SessionID(p.Session), media.ParticipantID(c.User), p.Candidate)
}

func (m *Main) mediaLeave(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p MediaSessionParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if err := m.holds(p.Session, c); err != nil {
		return nil, err
	}
	m.leaveMedia(p.Session, c.User)
	m.mediaGone(p.Session, c.User, c.Conn, "left")
	return struct{}{}, nil
}

// MediaStatsResult answers media.stats and its HTTP twin.
type MediaStatsResult struct {
	Session      core.StreamID            `json:"session"`
	Participants []media.ParticipantStats `json:"participants"`
}

// mediaStats returns session's stats to one of its participants.
func (m *Main) mediaStats(session core.StreamID, user core.UserID) (MediaStatsResult, error) {
	if _, err := m.mediaKindOf(session); err != nil {
		return MediaStatsResult{}, err
	}
	st, ok := m.media.srv.Stats(media.SessionID(session))
	if !ok && m.media.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if home, err := m.mediaHome(ctx, session, false); err == nil && home != "" && home != m.node {
			rep, err := m.askMedia(ctx, home, mediaRequest{Op: "stats", Session: session})
			if err != nil {
				return MediaStatsResult{}, err
			}
			st, ok = rep.Stats, rep.Stats != nil
		}
	}
	in := false
	for _, s := range st {
		in = in || s.Participant == media.ParticipantID(user)
	}
	if !ok || !in {
		return MediaStatsResult{}, errs.E(errs.NotFound, "not in the audio of %s", session)
	}
	return MediaStatsResult{Session: session, Participants: st}, nil
}

func (m *Main) mediaStatsMethod(ctx context.Context, c gateway.Caller, params json.RawMessage) (any, error) {
	var p MediaSessionParams
	if err := gateway.DecodeParams(params, &p); err != nil {
		return nil, err
	}
	return m.mediaStats(p.Session, c.User)
}

func (m *Main) mediaStatsHTTP(w http.ResponseWriter, r *http.Request) {
	log := m.Logger.With("component", "http")
	tok, err := httpapi.BearerToken(r)
	if err != nil {
		httpapi.WriteError(w, r, log, err)
		return
	}
	claims, err := m.auth.Verify(tok)
	if err != nil {
		httpapi.WriteError(w, r, log, err)
		return
	}
	res, err := m.mediaStats(core.StreamID(r.PathValue("session")), claims.UserID)
	if err != nil {
		httpapi.WriteError(w, r, log, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, res)
}

// iceServersFor returns the STUN/TURN servers handed to user: with a TURN
// shared secret, TURN URLs get credentials of the TURN REST API (user name
// "<expiry>:<user>", password base64(HMAC-SHA1(secret, user name))), as
// coturn's use-auth-secret expects.
func (m *Main) iceServersFor(user core.UserID) []media.ICEServer {
	cfg := m.Config.Media
	out := []media.ICEServer{}
	var stun, turn []string
	for _, u := range cfg.ICEURLs {
		if strings.HasPrefix(u, "turn") {
			turn = append(turn, u)
		} else {
			stun = append(stun, u)
		}
	}
	if len(stun) > 0 {
		out = append(out, media.ICEServer{URLs: stun})
	}
	if len(turn) > 0 {
		s := media.ICEServer{URLs: turn, Username: cfg.TURNUsername, Credential: cfg.TURNPassword}
		if cfg.TURNSecret != "" {
			s.Username, s.Credential = turnCredentials(cfg.TURNSecret, user, m.Clock.Now().Add(cfg.TURNTTL))
		}
		out = append(out, s)
	}
	return out
}

func turnCredentials(secret string, user core.UserID, expires time.Time) (username, password string) {
	username = fmt.Sprintf("%d:%s", expires.Unix(), user)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// mediaSpeakers publishes a session's active speakers as an ephemeral event
// on the session's stream.
func (m *Main) mediaSpeakers(s media.SessionID, speakers []media.Speaker) {
	if speakers == nil {
		speakers = []media.Speaker{}
	}
	stream := core.StreamID(s)
	data, _ := json.Marshal(map[string]any{"speakers": speakers})
	f := protocol.EncodeEphemeral(stream, EventMediaSpeakers, m.Clock.Now(), "", data)
	if err := m.bus.Publish(bus.StreamEphemeral(stream), f.Payload()); err != nil {
		m.Logger.Debug("publish speakers", "session", string(s), "err", err)
	}
}

func (m *Main) mediaSnapshot() metrics.MediaSnapshot {
	t := m.media.srv.Totals()
	snap := metrics.MediaSnapshot{
		Sessions: t.Sessions, Participants: t.Participants, Joins: t.Joins,
		PacketsIn: t.PacketsIn, BytesIn: t.BytesIn, PacketsDropped: t.PacketsDropped,
		PacketsOut: t.PacketsOut, BytesOut: t.BytesOut, Removals: t.Removals,
	}
	for _, s := range m.media.srv.SenderStats() {
		snap.Senders = append(snap.Senders, metrics.MediaSender{
			Session: string(s.Session), Participant: string(s.Participant),
			Packets: s.Up.Packets, Bytes: s.Up.Bytes, Lost: s.Up.Lost, Dropped: s.Up.Dropped,
			JitterSeconds: s.Up.JitterMS / 1000, BitrateBPS: s.Up.BitrateBPS,
		})
	}
	return snap
}
