package media

import (
	"slices"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/errs"
)

// session is one media session: its participants and who sends. Lock order:
// Server.mu, then session.mu, then participant.mu.
type session struct {
	id  SessionID
	srv *Server

	mu      sync.Mutex
	parts   map[ParticipantID]*participant
	senders int
	dead    bool // removed from the server: Join must make a new one

	speakers []Speaker // last reported; used by the timer loop only
}

// add inserts p with policy pol. It returns joined false if the session died
// meanwhile (the caller retries with a new one), the participant p replaces,
// and the participants to renegotiate.
func (ss *session) add(p *participant, pol Policy) (joined bool, old *participant, reneg []*participant, err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.dead {
		return false, nil, nil, nil
	}
	old = ss.parts[p.id]
	n := len(ss.parts)
	if old != nil {
		n--
	}
	if n >= ss.srv.cfg.MaxParticipants {
		return false, nil, nil, errs.E(errs.LimitExceeded, "media session %s is full (%d participants)", ss.id, ss.srv.cfg.MaxParticipants)
	}
	if old != nil {
		// The replaced connection stops sending and its track leaves the
		// others now; drop finishes the rest.
		reneg = ss.detachLocked(old)
	}
	p.sess = ss
	ss.parts[p.id] = p
	p.policy = pol
	p.canSend.Store(pol.CanSend)
	p.forward.Store(pol.Forwards())
	for _, q := range ss.parts {
		if q == p {
			continue
		}
		if f := q.out.Load(); f != nil {
			sh, err := f.assign()
			if err == nil {
				err = p.addDowntrack(q.id, sh)
				if err != nil {
					f.release(sh)
				}
			}
			if err != nil {
				ss.detachLocked(p)
				return false, nil, nil, err
			}
		}
	}
	return true, old, uniq(reneg), nil
}

// publish gives p, a participant allowed to send whose first packet just
// arrived, a track at every other participant. Tracks exist only for
// senders that send: a call where everyone may speak but few do, or a stage
// of speakers who never unmute, costs the listeners no SDP section.
func (ss *session) publish(p *participant) {
	ss.mu.Lock()
	if ss.parts[p.id] != p || !p.policy.CanSend || p.out.Load() != nil {
		p.pubReq.Store(false)
		ss.mu.Unlock()
		return
	}
	if ss.senders >= ss.srv.cfg.MaxSenders {
		// pubReq stays set: the next policy change may try again.
		ss.mu.Unlock()
		ss.srv.cfg.Logger.Warn("media: sender refused, the session has the most senders", "session", ss.id, "participant", p.id, "max", ss.srv.cfg.MaxSenders)
		return
	}
	reneg, err := ss.makeSenderLocked(p)
	ss.mu.Unlock()
	if err != nil {
		ss.srv.cfg.Logger.Warn("media: publish", "session", ss.id, "participant", p.id, "err", err)
		return
	}
	for _, q := range reneg {
		q.negotiate()
	}
}

// makeSenderLocked gives p a track and adds it to every other participant.
func (ss *session) makeSenderLocked(p *participant) ([]*participant, error) {
	f, err := newFanout(ss.srv, p.id)
	if err != nil {
		return nil, err
	}
	p.out.Store(f)
	ss.senders++
	var reneg []*participant
	for _, q := range ss.parts {
		if q == p {
			continue
		}
		sh, err := f.assign()
		if err == nil {
			err = q.addDowntrack(p.id, sh)
			if err != nil {
				f.release(sh)
			}
		}
		if err != nil {
			ss.srv.cfg.Logger.Warn("media: add track", "session", ss.id, "from", p.id, "to", q.id, "err", err)
			continue
		}
		reneg = append(reneg, q)
	}
	return reneg, nil
}

// unmakeSenderLocked removes p's track from every other participant.
func (ss *session) unmakeSenderLocked(p *participant) []*participant {
	p.forward.Store(false)
	f := p.out.Swap(nil)
	if f == nil {
		return nil
	}
	f.close()
	ss.senders--
	var reneg []*participant
	for _, q := range ss.parts {
		if q != p && q.removeDowntrack(p.id) {
			reneg = append(reneg, q)
		}
	}
	return reneg
}

// detachLocked removes p from the session map, its track from the others,
// and its place in the others' shards.
func (ss *session) detachLocked(p *participant) []*participant {
	reneg := ss.unmakeSenderLocked(p)
	for from, sh := range p.shards() {
		if q := ss.parts[from]; q != nil {
			if f := q.out.Load(); f != nil {
				f.release(sh)
			}
		}
	}
	if ss.parts[p.id] == p {
		delete(ss.parts, p.id)
	}
	return reneg
}

func uniq(list []*participant) []*participant {
	slices.SortFunc(list, func(a, b *participant) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	return slices.Compact(list)
}

// setPolicy applies pol to p.
func (ss *session) setPolicy(p *participant, pol Policy) error {
	ss.mu.Lock()
	if ss.parts[p.id] != p {
		ss.mu.Unlock()
		return nil
	}
	old := p.policy
	if pol.Version != 0 && pol.Version < old.Version {
		ss.mu.Unlock()
		return nil
	}
	var reneg []*participant
	if !pol.CanSend {
		reneg = ss.unmakeSenderLocked(p)
	}
	if pol.CanSend != old.CanSend {
		// A new sender gets its track at its next packet (publish).
		p.pubReq.Store(false)
	}
	p.canSend.Store(pol.CanSend)
	p.policy = pol
	// Forwarding stops or resumes here, at the next packet.
	p.forward.Store(pol.Forwards())
	ss.mu.Unlock()
	for _, q := range reneg {
		q.negotiate()
	}
	if old.CanSend != pol.CanSend || old.Muted != pol.Muted {
		p.sig.Policy(pol)
	}
	return nil
}

// drop removes p from the session and closes its connection. With notify,
// p's Signaler is told reason.
func (ss *session) drop(p *participant, reason string, notify bool) {
	ss.mu.Lock()
	present := ss.parts[p.id] == p
	reneg := ss.detachLocked(p)
	empty := len(ss.parts) == 0
	ss.mu.Unlock()
	if !p.close() {
		return // already closed
	}
	ss.srv.countRemoval(reason)
	for _, q := range reneg {
		q.negotiate()
	}
	if notify {
		p.sig.Closed(reason)
	}
	if present && empty {
		ss.maybeRemove()
	}
}

// maybeRemove deletes the session from the server if it is empty.
func (ss *session) maybeRemove() {
	s := ss.srv
	s.mu.Lock()
	ss.mu.Lock()
	gone := len(ss.parts) == 0 && !ss.dead
	if gone {
		ss.dead = true
		if s.sessions[ss.id] == ss {
			delete(s.sessions, ss.id)
		}
	}
	ss.mu.Unlock()
	s.mu.Unlock()
	if gone && s.cfg.OnSessionEmpty != nil {
		s.cfg.OnSessionEmpty(ss.id)
	}
}

// end removes every participant.
func (ss *session) end(reason string) {
	ss.mu.Lock()
	list := make([]*participant, 0, len(ss.parts))
	for _, p := range ss.parts {
		list = append(list, p)
	}
	ss.mu.Unlock()
	for _, p := range list {
		ss.drop(p, reason, true)
	}
	ss.maybeRemove()
}

// tick runs the timer work of one session: active speakers, bitrates and
// timeouts.
func (ss *session) tick(now time.Time) {
	cfg := &ss.srv.cfg
	ss.mu.Lock()
	list := make([]*participant, 0, len(ss.parts))
	for _, p := range ss.parts {
		list = append(list, p)
	}
	ss.mu.Unlock()
	var speakers []Speaker
	type removal struct {
		p      *participant
		reason string
	}
	var removals []removal
	for _, p := range list {
		if sp, ok := p.takeLevels(cfg); ok {
			speakers = append(speakers, sp)
		}
		p.updateRates(now)
		if reason := p.timedOut(now, cfg); reason != "" {
			removals = append(removals, removal{p, reason})
		}
	}
	slices.SortFunc(speakers, func(a, b Speaker) int {
		if a.Level != b.Level {
			return b.Level - a.Level
		}
		if a.Participant < b.Participant {
			return -1
		}
		return 1
	})
	if !sameSpeakers(speakers, ss.speakers) {
		ss.speakers = speakers
		if cfg.OnSpeakers != nil {
			cfg.OnSpeakers(ss.id, slices.Clone(speakers))
		}
	}
	for _, r := range removals {
		ss.drop(r.p, r.reason, true)
	}
}

// sameSpeakers compares who speaks, in order; levels alone changing is not
// worth a report.
func sameSpeakers(a, b []Speaker) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Participant != b[i].Participant {
			return false
		}
	}
	return true
}
