package app_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
)

// TestChatBotsUseTheSameAPI: an admin mints a bot token; the bot connects
// and posts over the WebSocket and reads over HTTP like a person; a rotated
// token is refused and its connection closed. Non-admins cannot mint.
func TestChatBotsUseTheSameAPI(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann, bob := newPerson(t, n, "Ann"), newPerson(t, n, "Bob")
	ws := createWorkspace(t, ann, "Acme")
	join(t, ann, ws, bob)
	var made struct {
		Bot struct {
			ID string `json:"id"`
		} `json:"bot"`
		Token string `json:"token"`
	}
	err := n.API.Do(ctx(t), http.MethodPost, "/v1/chat/workspaces/"+ws.ID+"/bots", bob.token(t), map[string]string{"handle": "deploybot", "display_name": "Deploy Bot"}, &made)
	if codeOf(err) != "forbidden" {
		t.Fatalf("a member mints a bot: %v", err)
	}
	if err := n.API.Do(ctx(t), http.MethodPost, "/v1/chat/workspaces/"+ws.ID+"/bots", ann.token(t), map[string]string{"handle": "deploybot", "display_name": "Deploy Bot"}, &made); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(made.Token, "pbt_") {
		t.Fatalf("token %q", made.Token)
	}
	var closed []string
	var mu sync.Mutex
	bot, err := client.Dial(ctx(t), client.Options{URL: n.URL(), Token: client.StaticToken(made.Token), Reconnect: new(bool),
		OnState: func(up bool, err error) {
			if !up {
				mu.Lock()
				closed = append(closed, codeOf(err))
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bot.Close() })
	if bot.Hello().User != made.Bot.ID {
		t.Fatalf("bot connected as %s", bot.Hello().User)
	}
	var res postResult
	if err := bot.Request(ctx(t), "chat.post", map[string]any{"channel": ws.General, "text": "deployed v1.2 @" + bob.Handle}, &res); err != nil {
		t.Fatal(err)
	}
	var h history
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/chat/channels/"+ws.General+"/messages", made.Token, nil, &h); err != nil || len(h.Messages) != 1 || h.Messages[0].Author != made.Bot.ID {
		t.Fatalf("bot reads history: %+v %v", h, err)
	}
	apptest.Wait(t, 5*time.Second, "bob's mention by the bot", func() bool { return len(pushesOf(bob.ev, "chat.mention")) == 1 })
	var sugg struct {
		Users []struct {
			User string `json:"user"`
			Bot  bool   `json:"bot"`
		} `json:"users"`
	}
	bob.req(t, "chat.autocomplete", map[string]any{"workspace": ws.ID, "prefix": "depl"}, &sugg)
	if len(sugg.Users) != 1 || !sugg.Users[0].Bot {
		t.Fatalf("autocomplete %+v", sugg)
	}
	// Rotating the token revokes the old one at once.
	var rot struct {
		Token string `json:"token"`
	}
	if err := n.API.Do(ctx(t), http.MethodPost, "/v1/chat/workspaces/"+ws.ID+"/bots/"+made.Bot.ID+"/token", ann.token(t), nil, &rot); err != nil {
		t.Fatal(err)
	}
	apptest.Wait(t, 5*time.Second, "the old token's connection closed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(closed) == 1
	})
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/chat/boot", made.Token, nil, nil); codeOf(err) != "revoked" {
		t.Fatalf("old token: %v", err)
	}
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/chat/boot", rot.Token, nil, nil); err != nil {
		t.Fatalf("new token: %v", err)
	}
	if err := n.API.Do(ctx(t), http.MethodGet, "/v1/chat/boot", "pbt_t_nope.secret", nil, nil); codeOf(err) != "token_invalid" {
		t.Fatalf("forged token: %v", err)
	}
}

// TestChatIncomingWebhook: a secret URL posts to its channel as its bot;
// a wrong secret is refused.
func TestChatIncomingWebhook(t *testing.T) {
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann := newPerson(t, n, "Ann")
	ws := createWorkspace(t, ann, "Acme")
	ops := createChannel(t, ann, ws, "ops", true)
	var made struct {
		URL string `json:"url"`
	}
	if err := n.API.Do(ctx(t), http.MethodPost, "/v1/chat/workspaces/"+ws.ID+"/webhooks", ann.token(t), map[string]any{"kind": "incoming", "name": "CI", "channel": ops}, &made); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(made.URL, n.URL())
	var res postResult
	if err := n.API.Do(ctx(t), http.MethodPost, path, "", map[string]string{"text": "build #42 passed", "key": "build-42"}, &res); err != nil {
		t.Fatal(err)
	}
	// A retried delivery with the same key posts once.
	var again struct {
		postResult
		Duplicate bool `json:"duplicate"`
	}
	if err := n.API.Do(ctx(t), http.MethodPost, path, "", map[string]string{"text": "build #42 passed", "key": "build-42"}, &again); err != nil || !again.Duplicate || again.ID != res.ID {
		t.Fatalf("retry: %+v %v", again, err)
	}
	if err := n.API.Do(ctx(t), http.MethodPost, path+"x", "", map[string]string{"text": "forged"}, nil); codeOf(err) != "not_found" {
		t.Fatalf("wrong secret: %v", err)
	}
	if h := ann.history(t, ops, ""); texts(h) != "build #42 passed" {
		t.Fatalf("history %q", texts(h))
	}
}

// TestChatOutgoingWebhookRetries: a receiver that fails twice gets the
// event on the third delivery, exactly once, signed with HMAC-SHA256; the
// work queue's depth is on /metrics.
func TestChatOutgoingWebhookRetries(t *testing.T) {
	type delivery struct {
		id, sig string
		body    []byte
		status  int
	}
	var mu sync.Mutex
	var got []delivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		status := http.StatusOK
		if len(got) < 2 {
			status = http.StatusServiceUnavailable
		}
		got = append(got, delivery{id: r.Header.Get("X-Parley-Delivery"), sig: r.Header.Get("X-Parley-Signature"), body: body, status: status})
		w.WriteHeader(status)
	}))
	t.Cleanup(recv.Close)
	n := apptest.Start(t, apptest.WithConfig(chatConfig))
	ann := newPerson(t, n, "Ann")
	ws := createWorkspace(t, ann, "Acme")
	var made struct {
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
		Secret string `json:"secret"`
	}
	err := n.API.Do(ctx(t), http.MethodPost, "/v1/chat/workspaces/"+ws.ID+"/webhooks", ann.token(t),
		map[string]any{"kind": "outgoing", "name": "audit", "url": recv.URL + "/hook", "events": []string{"message.posted"}}, &made)
	if err != nil {
		t.Fatal(err)
	}
	ann.post(t, ws.General, "ship it")
	apptest.Wait(t, 10*time.Second, "three deliveries", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3
	})
	time.Sleep(time.Second) // nothing more may arrive: the third delivery succeeded
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[2].status != http.StatusOK {
		t.Fatalf("%d deliveries", len(got))
	}
	for _, d := range got {
		if d.id != got[0].id || string(d.body) != string(got[0].body) {
			t.Fatalf("deliveries differ: %q %q", d.id, got[0].id)
		}
		ts, sig, _ := strings.Cut(d.sig, ",v1=")
		mac := hmac.New(sha256.New, []byte(made.Secret))
		mac.Write([]byte(strings.TrimPrefix(ts, "t=") + "."))
		mac.Write(d.body)
		if hex.EncodeToString(mac.Sum(nil)) != sig {
			t.Fatalf("bad signature %q", d.sig)
		}
	}
	var ev struct {
		Channel string          `json:"channel"`
		Type    string          `json:"type"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(got[2].body, &ev); err != nil || ev.Type != "message.posted" || ev.Channel != ws.General || !strings.Contains(string(ev.Data), "ship it") {
		t.Fatalf("body %s", got[2].body)
	}
	resp, err := http.Get(n.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(m), `parley_workqueue_depth{queue="chat_webhooks"}`) {
		t.Fatal("no webhook queue depth on /metrics")
	}
}

// TestChatOutgoingWebhookDeadLetters: a receiver that keeps failing has
// its event dead-lettered after the configured attempts, listed for
// admins.
func TestChatOutgoingWebhookDeadLetters(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(recv.Close)
	n := apptest.Start(t, apptest.WithConfig(chatConfig), apptest.WithConfig(func(c *config.Config) { c.Chat.WebhookAttempts = 3 }))
	ann := newPerson(t, n, "Ann")
	ws := createWorkspace(t, ann, "Acme")
	var made struct {
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
	}
	if err := n.API.Do(ctx(t), http.MethodPost, "/v1/chat/workspaces/"+ws.ID+"/webhooks", ann.token(t),
		map[string]any{"kind": "outgoing", "name": "audit", "url": recv.URL}, &made); err != nil {
		t.Fatal(err)
	}
	ann.post(t, ws.General, "doomed")
	var dl struct {
		DeadLetters []struct {
			Attempts int    `json:"attempts"`
			Error    string `json:"error"`
		} `json:"dead_letters"`
	}
	apptest.Wait(t, 10*time.Second, "a dead letter", func() bool {
		err := n.API.Do(context.Background(), http.MethodGet, "/v1/chat/workspaces/"+ws.ID+"/webhooks/"+made.Webhook.ID+"/dead_letters", ann.token(t), nil, &dl)
		return err == nil && len(dl.DeadLetters) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 || dl.DeadLetters[0].Attempts != 3 || !strings.Contains(dl.DeadLetters[0].Error, "500") {
		t.Fatalf("%d calls, dead letter %+v", calls, dl.DeadLetters)
	}
}
