package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/client"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/eventlog"
)

// chatConfig makes chat tests quick: short resync and counts intervals.
func chatConfig(c *config.Config) {
	c.Chat.CountsInterval = 20 * time.Millisecond
	c.Chat.WebhookPrivateIP = true
	c.Chat.WebhookBackoff = 50 * time.Millisecond
	c.Chat.WebhookBackoffMax = 200 * time.Millisecond
	c.Chat.WebhookTimeout = 2 * time.Second
	c.Gateway.RatePerSecond = 1000
	c.Gateway.RateBurst = 2000
}

// person is a signed-up user with one connected device.
type person struct {
	*apptest.User
	n  *apptest.Node
	c  *client.Client
	ev *apptest.Events
}

func newPerson(t *testing.T, n *apptest.Node, name string) *person {
	t.Helper()
	u := n.SignUp(t, name)
	p := &person{User: u, n: n}
	p.ev, p.c = p.device(t)
	return p
}

// device connects another device of p.
func (p *person) device(t *testing.T) (*apptest.Events, *client.Client) {
	t.Helper()
	ev := &apptest.Events{}
	return ev, p.n.Dial(t, p.User, ev.Options())
}

// req calls a protocol method and fails the test on error.
func (p *person) req(t *testing.T, method string, params any, out any) {
	t.Helper()
	apptest.Request(t, p.c, method, params, out)
}

// try calls a protocol method and returns its error code ("" on success).
func (p *person) try(method string, params any, out any) string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return codeOf(p.c.Request(ctx, method, params, out))
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return "error: " + err.Error()
}

func (p *person) token(t *testing.T) string {
	t.Helper()
	tok, err := p.Session.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// get calls GET path with p's token and returns the error code ("" on
// success).
func (p *person) get(t *testing.T, path string, out any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return codeOf(p.n.API.Do(ctx, http.MethodGet, path, p.token(t), nil, out))
}

// upload posts a file to a channel and returns the upload id, or the error
// code.
func (p *person) upload(t *testing.T, ch, name string, body []byte) (string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.n.URL()+"/v1/chat/channels/"+ch+"/uploads?name="+name, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+p.token(t))
	req.Header.Set("Content-Type", "text/html") // a claim the server ignores
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ID          string `json:"id"`
		ContentType string `json:"content_type"`
		Error       struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		return "", out.Error.Code
	}
	return out.ID, ""
}

// download fetches an upload and returns its bytes and headers, or the
// error code.
func (p *person) download(t *testing.T, id string) ([]byte, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.n.URL()+"/v1/chat/uploads/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+p.token(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return nil, resp.Header, e.Error.Code
	}
	return body, resp.Header, ""
}

// workspace is a workspace with its #general.
type workspace struct {
	ID      string
	General string
}

func createWorkspace(t *testing.T, owner *person, name string) workspace {
	t.Helper()
	var res struct {
		Workspace struct {
			ID string `json:"id"`
		} `json:"workspace"`
		General string `json:"general"`
	}
	owner.req(t, "chat.workspace.create", map[string]any{"name": name}, &res)
	return workspace{ID: res.Workspace.ID, General: res.General}
}

// invite makes an invite code in ws.
func invite(t *testing.T, by *person, ws workspace, params map[string]any) string {
	t.Helper()
	params["workspace"] = ws.ID
	var res struct {
		Code string `json:"code"`
	}
	by.req(t, "chat.invite.create", params, &res)
	return res.Code
}

// join makes p join ws with a member invite from by.
func join(t *testing.T, by *person, ws workspace, ps ...*person) {
	t.Helper()
	code := invite(t, by, ws, map[string]any{"max_uses": 100})
	for _, p := range ps {
		p.req(t, "chat.workspace.join", map[string]any{"code": code}, nil)
	}
}

type postResult struct {
	ID  string `json:"id"`
	Seq uint64 `json:"seq"`
}

func (p *person) post(t *testing.T, ch, text string, extra ...any) postResult {
	t.Helper()
	params := map[string]any{"channel": ch, "text": text}
	for i := 0; i+1 < len(extra); i += 2 {
		params[extra[i].(string)] = extra[i+1]
	}
	var res postResult
	p.req(t, "chat.post", params, &res)
	return res
}

func createChannel(t *testing.T, by *person, ws workspace, name string, private bool, members ...*person) string {
	t.Helper()
	var ids []string
	for _, m := range members {
		ids = append(ids, m.ID)
	}
	var res struct {
		ID string `json:"id"`
	}
	by.req(t, "chat.channel.create", map[string]any{"workspace": ws.ID, "name": name, "private": private, "users": ids}, &res)
	return res.ID
}

// countsPush is the data of a chat.counts push.
type countsPush struct {
	Channel  string `json:"channel"`
	Unread   int    `json:"unread"`
	Mentions int    `json:"mentions"`
	ReadSeq  uint64 `json:"read_seq"`
}

// lastCounts returns the latest counts pushed for ch, and whether any was.
func lastCounts(ev *apptest.Events, ch string) (countsPush, bool) {
	var out countsPush
	found := false
	for _, p := range ev.Pushes() {
		if p.Type != "chat.counts" {
			continue
		}
		var c countsPush
		if json.Unmarshal(p.Data, &c) == nil && c.Channel == ch {
			out, found = c, true
		}
	}
	return out, found
}

func pushesOf(ev *apptest.Events, typ string) []client.Push {
	var out []client.Push
	for _, p := range ev.Pushes() {
		if p.Type == typ {
			out = append(out, p)
		}
	}
	return out
}

func texts(h history) string {
	var out []string
	for _, m := range h.Messages {
		out = append(out, m.Text)
	}
	return strings.Join(out, "|")
}

type message struct {
	ID        string `json:"id"`
	Seq       uint64 `json:"seq"`
	Text      string `json:"text"`
	Author    string `json:"author"`
	Thread    string `json:"thread"`
	Deleted   bool   `json:"deleted"`
	Pinned    bool   `json:"pinned"`
	Replies   int    `json:"reply_count"`
	EditedAt  *time.Time
	Reactions []struct {
		Emoji string   `json:"emoji"`
		Count int      `json:"count"`
		Users []string `json:"users"`
	} `json:"reactions"`
}

type history struct {
	Messages   []message `json:"messages"`
	MoreBefore bool      `json:"more_before"`
	MoreAfter  bool      `json:"more_after"`
}

func (p *person) history(t *testing.T, ch string, query string) history {
	t.Helper()
	var h history
	if code := p.get(t, "/v1/chat/channels/"+ch+"/messages"+query, &h); code != "" {
		t.Fatalf("history of %s as %s: %s", ch, p.Handle, code)
	}
	return h
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%s", b)
}

func hasType(evs []eventlog.Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}
