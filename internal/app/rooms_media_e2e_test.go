package app_test

import (
	"slices"
	"testing"
	"time"

	cmedia "github.com/parleyhq/parley/client/media"
	"github.com/parleyhq/parley/internal/app/apptest"
	"github.com/parleyhq/parley/internal/media"
)

// audioUser is a room participant with a media client.
func audioUser(t *testing.T, n *apptest.Node, name string) (*member, *roomUser) {
	mb := connect(t, n, name)
	return mb, &roomUser{User: mb.u, c: mb.c, ev: mb.ev}
}

// quiet reports, after a short wait, whether l heard nothing more from s.
func quiet(l, s *member) bool {
	before := l.heard(s)
	time.Sleep(300 * time.Millisecond)
	return l.heard(s)-before <= 2
}

// TestRoomAudioFollowsTheStage: a room's audio follows its stage: speakers
// are heard once they unmute, a moderator's mute silences a speaker whose
// client keeps sending, moving to the audience takes the right to send,
// a kicked listener loses the audio, and the room's end ends it.
func TestRoomAudioFollowsTheStage(t *testing.T) {
	n := roomNode(t)
	hostM, host := audioUser(t, n, "Host")
	spkM, spk := audioUser(t, n, "Speaker")
	lisM, lis := audioUser(t, n, "Listener")
	room := host.createRoom(t, nil)
	session := string(room.Stream())
	host.join(t, room)
	spk.join(t, room)
	lis.join(t, room)
	host.must(t, "role", map[string]any{"room": room, "user": spk.ID, "role": "speaker"})
	outsider := connect(t, n, "Outsider")
	if _, err := outsider.mc.Join(ctx(t), outsider.c, session, cmedia.Options{PeerOptions: cmedia.PeerOptions{Loopback: true}}); !isCode(err, "forbidden") {
		t.Fatalf("a user outside the room joined its audio: %v", err)
	}
	hostM.join(t, session, cmedia.PeerOptions{Publish: true})
	spkM.join(t, session, cmedia.PeerOptions{Publish: true, IgnorePolicy: true})
	lisM.join(t, session, cmedia.PeerOptions{Publish: true})
	// Everyone on the stage starts muted.
	if !quiet(lisM, spkM) || !quiet(lisM, hostM) {
		t.Fatal("a muted stage member is heard")
	}
	host.must(t, "mute", map[string]any{"room": room, "muted": false})
	spk.must(t, "mute", map[string]any{"room": room, "muted": false})
	apptest.Wait(t, 20*time.Second, "the listener to hear both", func() bool { return lisM.heard(hostM) > 10 && lisM.heard(spkM) > 10 })
	if lisM.sess.Peer().Sent() != 0 {
		t.Fatal("a listener sent audio")
	}
	// A moderator's mute silences a client that ignores it.
	host.must(t, "mute", map[string]any{"room": room, "user": spk.ID, "muted": true, "locked": true})
	apptest.Wait(t, 10*time.Second, "the speaker silenced", func() bool { return quiet(lisM, spkM) })
	if quiet(lisM, hostM) {
		t.Fatal("the host was silenced too")
	}
	// Back to the audience: no right to send at all.
	host.must(t, "stage.remove", map[string]any{"room": room, "user": spk.ID})
	apptest.Wait(t, 10*time.Second, "the speaker's right to send withdrawn", func() bool { return !spkM.sess.Policy().CanSend })
	if !quiet(lisM, spkM) {
		t.Fatal("a speaker moved to the audience is heard")
	}
	// A kicked listener leaves the audio.
	host.must(t, "kick", map[string]any{"room": room, "user": lis.ID})
	apptest.Wait(t, 10*time.Second, "the kicked listener out of the audio", func() bool {
		return !slices.Contains(n.MediaServer().Participants(media.SessionID(session)), media.ParticipantID(lis.ID))
	})
	// The end of a room ends its audio (a second room, in a steady state).
	other := host.createRoom(t, map[string]any{"title": "Short"})
	host.join(t, other)
	solo, soloRoom := audioUser(t, n, "Solo")
	soloRoom.join(t, other)
	solo.join(t, string(other.Stream()), cmedia.PeerOptions{})
	host.must(t, "end", map[string]any{"room": other})
	select {
	case <-solo.sess.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("the room's audio did not end with the room")
	}
	if p := n.MediaServer().Participants(media.SessionID(other.Stream())); len(p) != 0 {
		t.Fatalf("audio participants after the end: %v", p)
	}
}
