package media_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/internal/media"
)

type nopSignaler struct{}

func (nopSignaler) Offer(media.Offer)   {}
func (nopSignaler) Policy(media.Policy) {}
func (nopSignaler) Closed(string)       {}

// FuzzAnswer feeds client answers and candidates, as they come from the
// protocol, to a participant: whatever they hold, the server answers with
// an error or applies them, and never panics.
func FuzzAnswer(f *testing.F) {
	f.Add(uint64(1), "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n", "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host")
	f.Add(uint64(1), "", "")
	f.Add(uint64(2), "v=0", "candidate:garbage")
	f.Add(uint64(1), "m=audio 1 RTP/AVP 0\r\n", "candidate:1 1 tcp 1 ::1 1 typ relay raddr x rport y")
	srv := newServer(f, nil)
	f.Fuzz(func(t *testing.T, rev uint64, sdp, cand string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := srv.Join(ctx, "room:fuzz", "p", media.Policy{CanSend: true}, nopSignaler{}); err != nil {
			t.Fatal(err)
		}
		_ = srv.Answer("room:fuzz", "p", rev, sdp)
		_ = srv.AddCandidate("room:fuzz", "p", media.Candidate{Candidate: cand})
		srv.Leave("room:fuzz", "p")
	})
}
