package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley/client"
)

// Policy is what the server lets a participant do.
type Policy struct {
	CanSend bool   `json:"can_send"`
	Muted   bool   `json:"muted"`
	Version uint64 `json:"version,omitempty"`
}

// Forwards reports whether the server forwards a participant's audio.
func (p Policy) Forwards() bool { return p.CanSend && !p.Muted }

// Client routes the media pushes of one connection to its sessions. Make it
// before dialing and pass its OnPush and OnState to client.Options
// (directly, or from your own callbacks).
type Client struct {
	mu       sync.Mutex
	sessions map[string]*Session
}

// NewClient returns a Client.
func NewClient() *Client { return &Client{sessions: map[string]*Session{}} }

// OnPush handles the media pushes (media.offer, media.policy,
// media.closed) and reports whether p was one. It never blocks.
func (mc *Client) OnPush(p client.Push) bool {
	switch p.Type {
	case "media.offer", "media.policy", "media.closed":
	default:
		return false
	}
	var d struct {
		Session string `json:"session"`
		Rev     uint64 `json:"rev"`
		SDP     string `json:"sdp"`
		Policy  Policy `json:"policy"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(p.Data, &d); err != nil {
		return true
	}
	mc.mu.Lock()
	s := mc.sessions[d.Session]
	mc.mu.Unlock()
	if s == nil {
		return true
	}
	switch p.Type {
	case "media.offer":
		s.enqueue(func() { s.renegotiate(d.Rev, d.SDP) })
	case "media.policy":
		s.setPolicy(d.Policy)
	case "media.closed":
		s.closedBy(d.Reason)
	}
	return true
}

// OnState takes the connection's state changes: pass it to
// client.Options.OnState (directly, or from your own). When the connection
// drops, the server ends its audio sessions, so each Session of this Client
// is closed with Reason "disconnected"; join again once reconnected.
func (mc *Client) OnState(connected bool, _ error) {
	if connected {
		return
	}
	mc.mu.Lock()
	list := make([]*Session, 0, len(mc.sessions))
	for _, s := range mc.sessions {
		list = append(list, s)
	}
	mc.mu.Unlock()
	for _, s := range list {
		s.closedBy("disconnected")
	}
}

// Options configure a Session.
type Options struct {
	PeerOptions
	// OnError, if set, is told of signaling failures after the join (a
	// renegotiation that could not be answered).
	OnError func(error)
}

// Session is a joined audio session.
type Session struct {
	ID          string
	Participant string
	// JoinStart is when the join request was sent; the time to first audio
	// is Peer().FirstPacket() minus JoinStart.
	JoinStart time.Time

	mc   *Client
	c    *client.Client
	peer *Peer
	opts Options

	mu     sync.Mutex
	policy Policy
	reason string
	closed chan struct{}
	queue  chan func()
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

type joinResult struct {
	Session     string `json:"session"`
	Participant string `json:"participant"`
	Offer       struct {
		Rev uint64 `json:"rev"`
		SDP string `json:"sdp"`
	} `json:"offer"`
	Policy     Policy      `json:"policy"`
	PublishMid string      `json:"publish_mid"`
	ICEServers []ICEServer `json:"ice_servers"`
}

// Join joins session's audio over c: media.join, then the answer. It
// returns once the server has the answer; audio follows as soon as ICE and
// DTLS are up.
func (mc *Client) Join(ctx context.Context, c *client.Client, session string, o Options) (*Session, error) {
	s := &Session{
		ID: session, mc: mc, c: c, opts: o,
		closed: make(chan struct{}), queue: make(chan func(), 16), done: make(chan struct{}),
	}
	mc.mu.Lock()
	if _, dup := mc.sessions[session]; dup {
		mc.mu.Unlock()
		return nil, fmt.Errorf("media: already in %s", session)
	}
	mc.sessions[session] = s
	mc.mu.Unlock()
	fail := func(err error) (*Session, error) {
		s.shutdown()
		return nil, err
	}
	var res joinResult
	s.JoinStart = time.Now()
	if err := c.Request(ctx, "media.join", map[string]string{"session": session}, &res); err != nil {
		return fail(err)
	}
	s.Participant = res.Participant
	if res.PublishMid != "" && res.PublishMid != PublishMid {
		return fail(fmt.Errorf("media: the server publishes on mid %q, this client on %q", res.PublishMid, PublishMid))
	}
	po := o.PeerOptions
	if len(po.ICEServers) == 0 {
		po.ICEServers = res.ICEServers
	}
	peer, err := NewPeer(po)
	if err != nil {
		return fail(err)
	}
	s.peer = peer
	s.setPolicy(res.Policy)
	if err := s.answer(ctx, res.Offer.Rev, res.Offer.SDP); err != nil {
		return fail(err)
	}
	s.wg.Add(1)
	go s.signaling()
	return s, nil
}

func (s *Session) answer(ctx context.Context, rev uint64, offer string) error {
	ans, err := s.peer.Answer(ctx, offer)
	if err != nil {
		return err
	}
	return s.c.Request(ctx, "media.answer", map[string]any{"session": s.ID, "rev": rev, "sdp": ans}, nil)
}

// signaling answers renegotiation offers, one at a time, in order.
func (s *Session) signaling() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case fn := <-s.queue:
			fn()
		}
	}
}

func (s *Session) enqueue(fn func()) {
	select {
	case s.queue <- fn:
	case <-s.done:
	default:
		s.report(errors.New("media: signaling queue full"))
	}
}

func (s *Session) renegotiate(rev uint64, sdp string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.answer(ctx, rev, sdp); err != nil {
		s.report(fmt.Errorf("media: answer offer %d: %w", rev, err))
	}
}

func (s *Session) report(err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(err)
	}
}

func (s *Session) setPolicy(p Policy) {
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
	if s.peer != nil {
		s.peer.SetAllowed(p.Forwards())
	}
}

// closedBy runs on the connection's reading goroutine: shutting down waits
// for the signaling goroutine, which may wait for a response read there.
func (s *Session) closedBy(reason string) {
	s.mu.Lock()
	s.reason = reason
	s.mu.Unlock()
	go s.shutdown()
}

// Policy returns the participant's current policy.
func (s *Session) Policy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// Peer returns the session's WebRTC peer (counters, first packet times).
func (s *Session) Peer() *Peer { return s.peer }

// Closed is closed when the session ended (Leave, or removal by the
// server: see Reason).
func (s *Session) Closed() <-chan struct{} { return s.closed }

// Reason returns why the server removed the participant, if it did.
func (s *Session) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Leave leaves the session and closes the peer.
func (s *Session) Leave(ctx context.Context) error {
	err := s.c.Request(ctx, "media.leave", map[string]string{"session": s.ID}, nil)
	s.shutdown()
	return err
}

// Close closes the peer without telling the server (as a crashed client
// would); the server notices when the connection or ICE ends.
func (s *Session) Close() { s.shutdown() }

func (s *Session) shutdown() {
	s.once.Do(func() {
		s.mc.mu.Lock()
		if s.mc.sessions[s.ID] == s {
			delete(s.mc.sessions, s.ID)
		}
		s.mc.mu.Unlock()
		close(s.done)
		s.wg.Wait()
		if s.peer != nil {
			_ = s.peer.Close()
		}
		close(s.closed)
	})
}
