package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parleyhq/parley/internal/auth"
	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/chat"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/httpapi"
)

var (
	_ httpapi.ChatAdmin = (*chatNode)(nil)
	_ httpapi.ChatHooks = (*chatNode)(nil)
)

func invitationMessage(to, workspace, code, link string) auth.Message {
	return auth.Message{Channel: "email", To: to, Subject: "You are invited to " + workspace + " on Parley",
		Body: fmt.Sprintf("You are invited to join %s on Parley.\n\nOpen %s\nor enter the invite code %s in the app.\n", workspace, link, code)}
}

// randomSecret returns 32 random bytes, base64url.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Bot tokens are "pbt_<token id>.<secret>". Only the SHA-256 of the secret
// is stored (the secret is 256 random bits, so a fast hash is enough).
const botTokenPrefix = "pbt_"

// botTokenTTL is how long a verified bot token keeps a connection open
// before the client must send it again in a refresh frame (the Go SDK does
// this by itself).
const botTokenTTL = 24 * time.Hour

// botCacheTTL bounds how long a verified bot token is trusted without
// asking the store again; revocations also reach every node at once over
// the bus.
const botCacheTTL = time.Minute

// botVerifier checks bot tokens for the gateway and the HTTP API.
type botVerifier struct {
	n     *chatNode
	mu    sync.Mutex
	cache map[string]botEntry
	sub   *bus.Subscription
}

type botEntry struct {
	tok     chat.BotToken
	checked time.Time
}

func newBotVerifier(n *chatNode) *botVerifier {
	return &botVerifier{n: n, cache: map[string]botEntry{}}
}

// start follows revocations so that a revoked bot token stops working on
// every node at once.
func (b *botVerifier) start() error {
	sub, err := b.n.m.bus.Subscribe(bus.AuthRevoked, func(_ string, data []byte) {
		if id, ok := strings.CutPrefix(string(data), "bot_"); ok {
			b.mu.Lock()
			delete(b.cache, id)
			b.mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	b.sub = sub
	b.n.m.closers = append(b.n.m.closers, sub.Unsubscribe)
	return nil
}

// Verify checks a bot token and returns claims naming the bot. Its session
// id is "bot_<token id>", which revocation uses.
func (b *botVerifier) Verify(token string) (auth.Claims, error) {
	rest := strings.TrimPrefix(token, botTokenPrefix)
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || !core.ValidToken(id) || len(id) > 64 || secret == "" {
		return auth.Claims{}, errs.E(errs.TokenInvalid, "malformed bot token")
	}
	now := b.n.m.Clock.Now()
	b.mu.Lock()
	e, hit := b.cache[id]
	b.mu.Unlock()
	if !hit || now.Sub(e.checked) > botCacheTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tok, err := b.n.store.BotToken(ctx, id)
		cancel()
		if errs.Is(err, errs.NotFound) {
			return auth.Claims{}, errs.E(errs.TokenInvalid, "unknown bot token")
		}
		if err != nil {
			return auth.Claims{}, errs.Wrap(errs.Unavailable, err, "bot token lookup failed")
		}
		e = botEntry{tok: tok, checked: now}
		b.mu.Lock()
		if len(b.cache) > 100_000 {
			clear(b.cache)
		}
		b.cache[id] = e
		b.mu.Unlock()
	}
	if subtle.ConstantTimeCompare(e.tok.Hash, sha(secret)) != 1 {
		return auth.Claims{}, errs.E(errs.TokenInvalid, "unknown bot token")
	}
	if !e.tok.RevokedAt.IsZero() {
		return auth.Claims{}, errs.E(errs.Revoked, "the bot token was revoked")
	}
	return auth.Claims{UserID: e.tok.Bot, SessionID: "bot_" + id, IssuedAt: now, ExpiresAt: now.Add(botTokenTTL), KeyID: "bot"}, nil
}

// admin checks that user administers ws.
func (n *chatNode) admin(ws chat.WorkspaceID, user core.UserID) error {
	role, err := n.member(ws, user)
	if err != nil {
		return err
	}
	if !role.Admin() {
		return errs.E(errs.Forbidden, "only workspace admins manage bots and webhooks")
	}
	return nil
}

// newBotToken stores a new token for bot and returns it.
func (n *chatNode) newBotToken(ctx context.Context, by core.UserID, ws chat.WorkspaceID, bot core.UserID) (string, error) {
	id := core.NewID("t")
	secret := randomSecret()
	err := n.store.PutBotToken(ctx, chat.BotToken{ID: id, Bot: bot, Workspace: ws, Hash: sha(secret), CreatedBy: by, CreatedAt: chat.TimeOf(n.m.Clock.Now())})
	if err != nil {
		return "", err
	}
	return botTokenPrefix + id + "." + secret, nil
}

// CreateBot implements httpapi.ChatAdmin: a bot user in ws, in #general,
// and its first token (shown once).
func (n *chatNode) CreateBot(ctx context.Context, user core.UserID, ws chat.WorkspaceID, handle, name string) (any, error) {
	if err := n.admin(ws, user); err != nil {
		return nil, err
	}
	h, err := auth.NormalizeHandle(handle)
	if err != nil {
		return nil, err
	}
	dn, err := auth.NormalizeDisplayName(name)
	if err != nil {
		return nil, err
	}
	bot := chat.NewBotID()
	prof := chat.Profile{Handle: h, DisplayName: dn}
	if _, err := n.do(ctx, ws.Stream(), chat.CmdBotCreate, user, chat.AddMember{User: bot, Role: chat.RoleMember, Profile: prof}, ""); err != nil {
		return nil, err
	}
	if err := n.joinDefaults(ctx, ws, bot, chat.RoleMember, nil); err != nil {
		return nil, err
	}
	tok, err := n.newBotToken(ctx, user, ws, bot)
	if err != nil {
		return nil, err
	}
	return map[string]any{"bot": map[string]any{"id": bot, "profile": prof}, "token": tok}, nil
}

// RotateBotToken implements httpapi.ChatAdmin: it revokes the bot's tokens
// (closing its connections) and returns a new one.
func (n *chatNode) RotateBotToken(ctx context.Context, user core.UserID, ws chat.WorkspaceID, bot core.UserID) (string, error) {
	if err := n.checkBot(ws, user, bot); err != nil {
		return "", err
	}
	if err := n.revokeBot(ctx, bot); err != nil {
		return "", err
	}
	return n.newBotToken(ctx, user, ws, bot)
}

func (n *chatNode) checkBot(ws chat.WorkspaceID, user, bot core.UserID) error {
	if err := n.admin(ws, user); err != nil {
		return err
	}
	if _, _, isBot, ok := n.view.Member(ws, bot); !ok || !isBot {
		return errs.E(errs.NotFound, "no such bot")
	}
	return nil
}

func (n *chatNode) revokeBot(ctx context.Context, bot core.UserID) error {
	ids, err := n.store.RevokeBotTokens(ctx, bot, chat.TimeOf(n.m.Clock.Now()))
	if err != nil {
		return err
	}
	for _, id := range ids {
		sid := "bot_" + id
		n.bots.mu.Lock()
		delete(n.bots.cache, id)
		n.bots.mu.Unlock()
		n.m.gw.RevokeSession(sid)
		_ = n.m.bus.Publish(bus.AuthRevoked, []byte(sid))
	}
	return nil
}

// DeleteBot implements httpapi.ChatAdmin.
func (n *chatNode) DeleteBot(ctx context.Context, user core.UserID, ws chat.WorkspaceID, bot core.UserID) error {
	if err := n.checkBot(ws, user, bot); err != nil {
		return err
	}
	if err := n.revokeBot(ctx, bot); err != nil {
		return err
	}
	channels := n.view.UserChannels(bot, ws)
	if _, err := n.do(ctx, ws.Stream(), chat.CmdMemberRemove, user, chat.UserRef{User: bot}, ""); err != nil {
		return err
	}
	n.leaveChannels(ctx, user, bot, channels)
	return nil
}

// WebhookParams describe a webhook to create.
type WebhookParams = httpapi.WebhookParams

// CreateWebhook implements httpapi.ChatAdmin. An incoming webhook gets a
// bot user that posts to its channel and a secret URL (shown once); an
// outgoing one gets a signing secret (shown once).
func (n *chatNode) CreateWebhook(ctx context.Context, user core.UserID, ws chat.WorkspaceID, p WebhookParams) (any, error) {
	if err := n.admin(ws, user); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(p.Name)
	if name == "" || len(name) > 64 {
		return nil, errs.E(errs.InvalidArgument, "a webhook's name has 1-64 characters")
	}
	h := chat.Webhook{ID: core.NewID("h"), Workspace: ws, Name: name, CreatedBy: user, CreatedAt: chat.TimeOf(n.m.Clock.Now())}
	secret := randomSecret()
	switch p.Kind {
	case "incoming":
		a, err := n.view.Access(user, p.Channel)
		if err != nil || a.Channel.Workspace != ws || !a.Member {
			return nil, errs.E(errs.NotFound, "no channel %s of yours in this workspace", p.Channel)
		}
		h.Channel, h.Bot, h.Hash = p.Channel, chat.NewBotID(), sha(secret)
		handle := "hook-" + strings.ToLower(h.ID[len(h.ID)-8:])
		if _, err := n.do(ctx, ws.Stream(), chat.CmdBotCreate, user, chat.AddMember{User: h.Bot, Role: chat.RoleMember, Profile: chat.Profile{Handle: handle, DisplayName: name}}, ""); err != nil {
			return nil, err
		}
		if _, err := n.do(ctx, p.Channel.Stream(), chat.CmdChannelInvite, user, chat.ChannelUsers{As: chat.As{System: true}, Users: []chat.ChannelMember{{User: h.Bot}}}, ""); err != nil {
			return nil, err
		}
		if err := n.store.PutWebhook(ctx, h); err != nil {
			return nil, err
		}
		n.hooks.invalidate()
		return map[string]any{"webhook": h, "url": strings.TrimRight(n.m.URL(), "/") + "/v1/chat/hooks/" + h.ID + "/" + secret}, nil
	case "outgoing":
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(p.URL) > 2048 {
			return nil, errs.E(errs.InvalidArgument, "an outgoing webhook needs an http(s) URL")
		}
		for _, ch := range p.Channels {
			a, err := n.view.Access(user, ch)
			if err != nil || a.Channel.Workspace != ws || (!a.Member && a.Channel.Kind != chat.Public) {
				return nil, errs.E(errs.NotFound, "no channel %s of yours in this workspace", ch)
			}
		}
		h.Outgoing, h.URL, h.Secret, h.Events, h.Channels = true, p.URL, secret, p.Events, p.Channels
		if err := n.store.PutWebhook(ctx, h); err != nil {
			return nil, err
		}
		n.hooks.invalidate()
		return map[string]any{"webhook": h, "secret": secret}, nil
	}
	return nil, errs.E(errs.InvalidArgument, "kind must be incoming or outgoing")
}

// Webhooks implements httpapi.ChatAdmin.
func (n *chatNode) Webhooks(ctx context.Context, user core.UserID, ws chat.WorkspaceID) ([]chat.Webhook, error) {
	if err := n.admin(ws, user); err != nil {
		return nil, err
	}
	return n.store.Webhooks(ctx, ws)
}

// DeleteWebhook implements httpapi.ChatAdmin.
func (n *chatNode) DeleteWebhook(ctx context.Context, user core.UserID, ws chat.WorkspaceID, id string) error {
	if err := n.admin(ws, user); err != nil {
		return err
	}
	hooks, err := n.store.Webhooks(ctx, ws)
	if err != nil {
		return err
	}
	if err := n.store.DeleteWebhook(ctx, ws, id); err != nil {
		return err
	}
	n.hooks.invalidate()
	for _, h := range hooks {
		if h.ID == id && h.Bot != "" {
			channels := n.view.UserChannels(h.Bot, ws)
			if _, err := n.do(ctx, ws.Stream(), chat.CmdMemberRemove, user, chat.UserRef{User: h.Bot}, ""); err == nil {
				n.leaveChannels(ctx, user, h.Bot, channels)
			}
		}
	}
	return nil
}

// DeadLetters implements httpapi.ChatAdmin: the deliveries of an outgoing
// webhook that failed for good, oldest first.
func (n *chatNode) DeadLetters(ctx context.Context, user core.UserID, ws chat.WorkspaceID, id string) (any, error) {
	if err := n.admin(ws, user); err != nil {
		return nil, err
	}
	dls, err := n.hooks.q.DeadLetters(ctx, 1000)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, d := range dls {
		var j webhookJob
		if json.Unmarshal(d.Data, &j) != nil || j.Webhook != id {
			continue
		}
		out = append(out, map[string]any{"delivery": d.JobID, "event": j.Event, "attempts": d.Attempts, "error": d.Error, "failed_at": d.Failed})
	}
	return map[string]any{"dead_letters": out}, nil
}

// Incoming implements httpapi.ChatHooks: a post through an incoming
// webhook's secret URL, as its bot.
func (n *chatNode) Incoming(ctx context.Context, id, secret, text string, thread chat.MessageID, key string) (any, error) {
	for attempt := 0; attempt < 2; attempt++ {
		hooks, err := n.hooks.all(ctx)
		if err != nil {
			return nil, err
		}
		for _, h := range hooks {
			if h.ID == id && !h.Outgoing {
				if subtle.ConstantTimeCompare(h.Hash, sha(secret)) != 1 {
					return nil, errs.E(errs.NotFound, "no such webhook")
				}
				return n.postAs(ctx, h.Bot, &messageParams{Channel: h.Channel, Text: text, Thread: thread, Key: key})
			}
		}
		n.hooks.invalidateOlder(time.Second) // made on another node a moment ago?
	}
	return nil, errs.E(errs.NotFound, "no such webhook")
}

// webhookQueue is the work queue of outgoing webhook deliveries.
const webhookQueue = "chat_webhooks"

// webhookJob is one delivery: a chat event for one outgoing webhook.
type webhookJob struct {
	Webhook string       `json:"webhook"`
	Event   WebhookEvent `json:"event"`
}

// WebhookEvent is the body POSTed to an outgoing webhook.
type WebhookEvent struct {
	Workspace chat.WorkspaceID `json:"workspace"`
	Channel   chat.ChannelID   `json:"channel"`
	Seq       uint64           `json:"seq"`
	Type      string           `json:"type"`
	Time      time.Time        `json:"time"`
	Actor     core.UserID      `json:"actor"`
	Data      json.RawMessage  `json:"data"`
}

// webhooks delivers chat events to outgoing webhooks: the projector
// enqueues one job per event and matching webhook (deduplicated by
// "<webhook>:<stream>:<seq>", so projecting an event twice enqueues it
// once), and workers on every node pull jobs, POST them signed with
// HMAC-SHA256, and retry with backoff until the job is dead-lettered.
type webhooks struct {
	n      *chatNode
	q      *bus.Queue
	client *http.Client
	stop   func()
	done   chan struct{}

	mu     sync.Mutex
	cached []chat.Webhook
	at     time.Time
}

func newWebhooks(ctx context.Context, n *chatNode) (*webhooks, error) {
	var backoff []time.Duration
	for d := n.cfg.WebhookBackoff; len(backoff) < n.cfg.WebhookAttempts; d *= 2 {
		backoff = append(backoff, min(d, n.cfg.WebhookBackoffMax))
	}
	q, err := n.m.bus.Queue(ctx, bus.QueueConfig{Name: webhookQueue, Storage: bus.FileStorage, AckWait: n.cfg.WebhookTimeout + 5*time.Second,
		MaxDeliver: n.cfg.WebhookAttempts, Backoff: backoff, DeadLetterMaxAge: 30 * 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !n.cfg.WebhookPrivateIP {
		dialer.Control = publicOnly
	}
	w := &webhooks{n: n, q: q, done: make(chan struct{}), client: &http.Client{
		Timeout:       n.cfg.WebhookTimeout,
		Transport:     &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if w.stop, err = q.Consume(context.Background(), "chat-webhooks", n.cfg.WebhookWorkers, w.deliver); err != nil {
		return nil, err
	}
	go w.gauge()
	return w, nil
}

// publicOnly refuses connections to loopback, private, link-local and
// unspecified addresses, so that webhooks cannot reach inside the
// deployment's network.
func publicOnly(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("webhook address %s is not public", host)
	}
	return nil
}

// gauge publishes the queue's depth and dead letters every five seconds.
func (w *webhooks) gauge() {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	depth := w.n.m.metrics.WorkQueueDepth.WithLabelValues(webhookQueue)
	dead := w.n.m.metrics.WorkQueueDead.WithLabelValues(webhookQueue)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if d, err := w.q.Depth(ctx); err == nil {
			depth.Set(float64(d))
		}
		if d, err := w.q.DeadLetterDepth(ctx); err == nil {
			dead.Set(float64(d))
		}
		cancel()
		select {
		case <-w.done:
			return
		case <-t.C:
		}
	}
}

func (w *webhooks) close() error {
	close(w.done)
	if w.stop != nil {
		w.stop()
	}
	return nil
}

// invalidateOlder drops the cached webhooks if they are older than d (so
// that unknown ids cannot make every request reload them).
func (w *webhooks) invalidateOlder(d time.Duration) {
	w.mu.Lock()
	if time.Since(w.at) > d {
		w.at = time.Time{}
	}
	w.mu.Unlock()
}

func (w *webhooks) invalidate() {
	w.mu.Lock()
	w.at = time.Time{}
	w.mu.Unlock()
}

// all returns every webhook, cached for a few seconds (other nodes'
// changes show within that time).
func (w *webhooks) all(ctx context.Context) ([]chat.Webhook, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.at) < 5*time.Second {
		return w.cached, nil
	}
	hs, err := w.n.store.Webhooks(ctx, "")
	if err != nil {
		return nil, err
	}
	w.cached, w.at = hs, time.Now()
	return hs, nil
}

// enqueue queues the deliveries of channel events to the outgoing webhooks
// that want them: events of the channels they name, or of public channels
// when they name none.
func (w *webhooks) enqueue(ctx context.Context, evs []eventlog.Event) {
	hooks, err := w.all(ctx)
	if err != nil {
		w.n.log.Warn("webhooks unavailable; events not delivered", "err", err)
		return
	}
	var out []chat.Webhook
	for _, h := range hooks {
		if h.Outgoing {
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		return
	}
	for i := range evs {
		ev := &evs[i]
		if ev.Stream.Kind() != chat.KindChannel {
			continue
		}
		ch := chat.ChannelID(ev.Stream.ID())
		info, ok := w.n.view.Channel(ch)
		if !ok {
			continue
		}
		for _, h := range out {
			if h.Workspace != info.Workspace || !wants(h, ev.Type, ch, info.Kind) {
				continue
			}
			job := webhookJob{Webhook: h.ID, Event: WebhookEvent{Workspace: info.Workspace, Channel: ch, Seq: ev.Seq, Type: ev.Type, Time: ev.Time, Actor: ev.Actor, Data: ev.Data}}
			data, _ := json.Marshal(job)
			id := fmt.Sprintf("%s:%s:%d", h.ID, ev.Stream, ev.Seq)
			if err := w.q.Enqueue(ctx, id, data); err != nil {
				w.n.log.Warn("webhook delivery not queued", "webhook", h.ID, "err", err)
			}
		}
	}
}

func wants(h chat.Webhook, typ string, ch chat.ChannelID, kind chat.ChannelKind) bool {
	if len(h.Events) > 0 && !contains(h.Events, typ) {
		return false
	}
	if len(h.Channels) > 0 {
		return contains(h.Channels, ch)
	}
	return kind == chat.Public
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Signature returns the X-Parley-Signature header of body sent at t with
// secret: "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">".
func Signature(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver POSTs one job. A 2xx answer delivers it; 408, 429 and 5xx
// answers and network errors are retried; other 4xx answers dead-letter it
// at once.
func (w *webhooks) deliver(ctx context.Context, j bus.Job) error {
	var job webhookJob
	if err := json.Unmarshal(j.Data, &job); err != nil {
		return bus.Permanent(err)
	}
	hooks, err := w.all(ctx)
	if err != nil {
		return err
	}
	var hook *chat.Webhook
	for i := range hooks {
		if hooks[i].ID == job.Webhook {
			hook = &hooks[i]
		}
	}
	if hook == nil {
		return nil // deleted since: nothing to deliver
	}
	body, _ := json.Marshal(job.Event)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return bus.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Parley-Webhook/1")
	req.Header.Set("X-Parley-Webhook", hook.ID)
	req.Header.Set("X-Parley-Delivery", j.ID)
	req.Header.Set("X-Parley-Event", job.Event.Type)
	req.Header.Set("X-Parley-Attempt", strconv.Itoa(j.Attempt))
	req.Header.Set("X-Parley-Signature", Signature(hook.Secret, w.n.m.Clock.Now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", hook.ID, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook %s answered %d", hook.ID, resp.StatusCode)
	}
	return bus.Permanent(fmt.Errorf("webhook %s answered %d", hook.ID, resp.StatusCode))
}
