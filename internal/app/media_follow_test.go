package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/app"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/eventlog"
	"github.com/parleyhq/parley/internal/media"
)

// topicStage plays a room's stage on a topic stream: every message carries
// the whole stage ({"stage": {user: policy}}), as a room's stage events do,
// and the media server follows them.
type topicStage struct{ n *apptest.Node }

type stageMsg struct {
	Data struct {
		Stage map[core.UserID]media.Policy `json:"stage"`
	} `json:"data"`
}

func (r *topicStage) MediaJoin(ctx context.Context, s core.StreamID, u core.UserID) (media.Policy, error) {
	_, last, err := r.n.Log().Bounds(ctx, s)
	if err != nil {
		return media.Policy{}, err
	}
	var pol media.Policy
	evs, err := r.n.Log().Read(ctx, s, 0, int(last))
	if err != nil {
		return media.Policy{}, err
	}
	for i := range evs {
		if stage, _, ok := r.MediaPolicies(&evs[i]); ok {
			pol = stage[u]
		}
	}
	pol.Version = last
	return pol, nil
}

func (r *topicStage) MediaLeft(core.StreamID, core.UserID, string) {}

func (r *topicStage) MediaPolicies(ev *eventlog.Event) (map[core.UserID]media.Policy, bool, bool) {
	var m stageMsg
	if ev.Type != "topic.published" || json.Unmarshal(ev.Data, &m) != nil || m.Data.Stage == nil {
		return nil, false, false
	}
	return m.Data.Stage, true, true
}

var _ app.MediaEventRules = (*topicStage)(nil)

// TestMediaFollowsStageEvents: the media server applies the stage carried by
// the session's stream events: a listener brought on stage is heard, a
// muted speaker is not, one sent back to the audience loses its track.
func TestMediaFollowsStageEvents(t *testing.T) {
	rules := &topicStage{}
	n := apptest.Start(t, func(m *app.Main) { m.RegisterMediaKind("topic", rules, false) })
	rules.n = n
	const room = "topic:stage1"
	host, aud := connect(t, n, "Host"), connect(t, n, "Aud")
	stage := func(s map[string]media.Policy) {
		n.PublishTopic(t, room, map[string]any{"stage": s})
	}
	stage(map[string]media.Policy{host.u.ID: {CanSend: true}})
	host.join(t, room, cmedia.PeerOptions{Publish: true})
	aud.join(t, room, cmedia.PeerOptions{Publish: true})
	apptest.Wait(t, 10*time.Second, "the audience hears the host", func() bool { return aud.heard(host) > 10 })
	if aud.sess.Peer().Sent() != 0 {
		t.Fatal("a listener sent audio")
	}

	stage(map[string]media.Policy{host.u.ID: {CanSend: true}, aud.u.ID: {CanSend: true}})
	apptest.Wait(t, 10*time.Second, "the host hears the new speaker", func() bool { return host.heard(aud) > 10 })

	stage(map[string]media.Policy{host.u.ID: {CanSend: true, Muted: true}, aud.u.ID: {CanSend: true}})
	apptest.Wait(t, 5*time.Second, "the host told of the mute", func() bool { return host.sess.Policy().Muted })
	time.Sleep(60 * time.Millisecond)
	before := aud.heard(host)
	time.Sleep(300 * time.Millisecond)
	if aud.heard(host) != before {
		t.Fatal("a muted host is heard")
	}

	// The stage leaves aud out: back to the audience.
	stage(map[string]media.Policy{host.u.ID: {CanSend: true}})
	apptest.Wait(t, 5*time.Second, "aud back in the audience", func() bool { return !aud.sess.Policy().CanSend })
	apptest.Wait(t, 10*time.Second, "the host hears again", func() bool { return aud.heard(host) > before+10 })
}
