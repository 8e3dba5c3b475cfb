// Package presence keeps the session directory (which nodes hold a user's
// connections) and derives each user's presence from it: online when any
// connection anywhere is active, away when every connection is idle, offline
// when there is none.
//
// Each node writes one directory entry per connected user,
// "<user>.<node>" -> {connections, active connections}, with a TTL that it
// renews while the user stays connected; if the node dies its entries expire
// and its users go offline. Every node watches all entries, so each holds the
// whole directory in memory: pushes to a user find the user's nodes without a
// lookup, and presence changes are computed locally on every node.
package presence

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// Status is a user's derived presence.
type Status string

// The presence statuses.
const (
	Online  Status = "online"
	Away    Status = "away"
	Offline Status = "offline"
)

// Presence is a user's presence as seen by this node.
type Presence struct {
	User     core.UserID `json:"user"`
	Status   Status      `json:"status"`
	LastSeen time.Time   `json:"last_seen,omitzero"`
}

// KV is the directory's key-value store: NATS KV with per-key TTL.
type KV interface {
	PutTTL(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	// Watch calls fn with every current entry, then with every change, in
	// order, until stop is called. Deleted and expired keys come with
	// deleted set.
	Watch(ctx context.Context, fn func(key string, value []byte, deleted bool)) (stop func(), err error)
}

// LastSeen persists the time each user was last connected.
type LastSeen interface {
	Put(ctx context.Context, user core.UserID, at time.Time) error
	Get(ctx context.Context, user core.UserID) (time.Time, bool, error)
}

// entry is the value of a directory key.
type entry struct {
	Node   core.NodeID `json:"node"`
	Conns  int         `json:"conns"`
	Active int         `json:"active"`
	At     time.Time   `json:"at"`
}

type localUser struct {
	conns map[core.ConnID]bool // conn -> away
}

// Options configure a Directory.
type Options struct {
	Node     core.NodeID
	KV       KV
	LastSeen LastSeen
	// TTL of directory entries; they are renewed every TTL/3.
	TTL time.Duration
	// FlushInterval coalesces connection changes before they are written
	// (default 50ms), so a reconnection storm costs one write per user.
	FlushInterval time.Duration
	// OnChange is called, from one goroutine and in order, when a user's
	// derived presence changes.
	OnChange func(Presence)
	Clock    core.Clock
	Logger   *slog.Logger
}

// Directory is the session directory of one node. It is safe for
// concurrent use. Connected, Disconnected and SetAway never block on I/O.
type Directory struct {
	o Options

	mu     sync.Mutex
	local  map[core.UserID]*localUser
	dirty  map[core.UserID]struct{}
	view   map[core.UserID]map[core.NodeID]entry
	status map[core.UserID]Status
	seen   map[core.UserID]time.Time

	kick      chan struct{}
	stop      chan struct{}
	done      sync.WaitGroup
	stopWatch func()
	changes   chan Presence
}

// New returns a Directory; Start begins watching and writing.
func New(o Options) *Directory {
	if o.FlushInterval <= 0 {
		o.FlushInterval = 50 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = core.SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Directory{
		o:       o,
		local:   map[core.UserID]*localUser{},
		dirty:   map[core.UserID]struct{}{},
		view:    map[core.UserID]map[core.NodeID]entry{},
		status:  map[core.UserID]Status{},
		seen:    map[core.UserID]time.Time{},
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		changes: make(chan Presence, 4096),
	}
}

// Start loads and watches the directory, and starts the writer.
func (d *Directory) Start(ctx context.Context) error {
	// The watch lives as long as the directory, not as long as ctx.
	stop, err := d.o.KV.Watch(context.WithoutCancel(ctx), d.onEntry)
	if err != nil {
		return err
	}
	d.stopWatch = stop
	d.done.Add(2)
	go d.writer()
	go d.notifier()
	return nil
}

// Close stops the writer after deleting this node's entries, so its users
// go offline at once rather than when the entries expire.
func (d *Directory) Close() {
	if !d.halt() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.mu.Lock()
	users := make([]core.UserID, 0, len(d.local))
	for u := range d.local {
		users = append(users, u)
	}
	d.mu.Unlock()
	for _, u := range users {
		_ = d.o.KV.Delete(ctx, d.key(u))
	}
}

// Abandon stops the directory without deleting its entries, as a crash
// would: other nodes see its users go offline when the entries expire.
func (d *Directory) Abandon() { d.halt() }

// halt stops the watch, the writer and the notifier; it reports whether
// this call stopped them.
func (d *Directory) halt() bool {
	select {
	case <-d.stop:
		return false
	default:
		close(d.stop)
	}
	if d.stopWatch != nil {
		d.stopWatch()
	}
	d.done.Wait()
	return true
}

func (d *Directory) key(u core.UserID) string { return string(u) + "." + string(d.o.Node) }

// Connected records a new connection of user on this node.
func (d *Directory) Connected(user core.UserID, conn core.ConnID) {
	d.mu.Lock()
	lu := d.local[user]
	if lu == nil {
		lu = &localUser{conns: map[core.ConnID]bool{}}
		d.local[user] = lu
	}
	lu.conns[conn] = false
	d.dirty[user] = struct{}{}
	d.mu.Unlock()
	d.signal()
}

// Disconnected records that a connection ended.
func (d *Directory) Disconnected(user core.UserID, conn core.ConnID) {
	d.mu.Lock()
	if lu := d.local[user]; lu != nil {
		delete(lu.conns, conn)
		d.dirty[user] = struct{}{}
	}
	d.mu.Unlock()
	d.signal()
}

// SetAway records whether a connection is idle.
func (d *Directory) SetAway(user core.UserID, conn core.ConnID, away bool) {
	d.mu.Lock()
	if lu := d.local[user]; lu != nil {
		if _, ok := lu.conns[conn]; ok {
			lu.conns[conn] = away
			d.dirty[user] = struct{}{}
		}
	}
	d.mu.Unlock()
	d.signal()
}

func (d *Directory) signal() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// writer writes dirty users' entries (coalesced over FlushInterval) and
// renews all of this node's entries every TTL/3.
func (d *Directory) writer() {
	defer d.done.Done()
	renew := time.NewTicker(d.o.TTL / 3)
	defer renew.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-d.kick:
			select {
			case <-time.After(d.o.FlushInterval):
			case <-d.stop:
				return
			}
			d.flush(false)
		case <-renew.C:
			d.flush(true)
		}
	}
}

func (d *Directory) flush(all bool) {
	now := d.o.Clock.Now().UTC()
	type write struct {
		user core.UserID
		e    entry
		del  bool
	}
	d.mu.Lock()
	var writes []write
	add := func(u core.UserID) {
		lu := d.local[u]
		if lu == nil || len(lu.conns) == 0 {
			delete(d.local, u)
			writes = append(writes, write{user: u, del: true})
			return
		}
		e := entry{Node: d.o.Node, Conns: len(lu.conns), At: now}
		for _, away := range lu.conns {
			if !away {
				e.Active++
			}
		}
		writes = append(writes, write{user: u, e: e})
	}
	if all {
		for u := range d.local {
			add(u)
		}
		for u := range d.dirty {
			if _, ok := d.local[u]; !ok {
				add(u)
			}
		}
	} else {
		for u := range d.dirty {
			add(u)
		}
	}
	clear(d.dirty)
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, w := range writes {
		var err error
		if w.del {
			err = d.o.KV.Delete(ctx, d.key(w.user))
			if err == nil && d.o.LastSeen != nil {
				err = d.o.LastSeen.Put(ctx, w.user, now)
			}
		} else {
			var b []byte
			b, err = json.Marshal(w.e)
			if err == nil {
				err = d.o.KV.PutTTL(ctx, d.key(w.user), b, d.o.TTL)
			}
		}
		if err != nil {
			d.o.Logger.Warn("directory write failed; will retry", "user", string(w.user), "err", err)
			d.mu.Lock()
			d.dirty[w.user] = struct{}{}
			d.mu.Unlock()
			d.signal()
		}
	}
}

// onEntry applies a watched directory change to the view.
func (d *Directory) onEntry(key string, value []byte, deleted bool) {
	user, node, ok := strings.Cut(key, ".")
	if !ok || !core.ValidToken(user) || !core.ValidToken(node) {
		return
	}
	u := core.UserID(user)
	d.mu.Lock()
	nodes := d.view[u]
	if deleted {
		delete(nodes, core.NodeID(node))
		if len(nodes) == 0 {
			delete(d.view, u)
		}
	} else {
		var e entry
		if err := json.Unmarshal(value, &e); err != nil {
			d.mu.Unlock()
			return
		}
		if nodes == nil {
			nodes = map[core.NodeID]entry{}
			d.view[u] = nodes
		}
		nodes[core.NodeID(node)] = e
	}
	st := aggregate(d.view[u])
	prev, had := d.status[u]
	if !had {
		prev = Offline
	}
	if st == Offline {
		delete(d.status, u)
	} else {
		d.status[u] = st
	}
	var p Presence
	changed := st != prev
	if changed {
		now := d.o.Clock.Now().UTC()
		if st == Offline {
			d.seen[u] = now
		}
		p = Presence{User: u, Status: st, LastSeen: d.seen[u]}
		if st != Offline {
			p.LastSeen = now
		}
	}
	d.mu.Unlock()
	if changed {
		select {
		case d.changes <- p:
		default:
			d.o.Logger.Warn("presence change queue full; dropping change", "user", user)
		}
	}
}

func aggregate(nodes map[core.NodeID]entry) Status {
	if len(nodes) == 0 {
		return Offline
	}
	for _, e := range nodes {
		if e.Active > 0 {
			return Online
		}
	}
	return Away
}

func (d *Directory) notifier() {
	defer d.done.Done()
	for {
		select {
		case <-d.stop:
			return
		case p := <-d.changes:
			if d.o.OnChange != nil {
				d.o.OnChange(p)
			}
		}
	}
}

// Get returns user's presence as this node sees it.
func (d *Directory) Get(ctx context.Context, user core.UserID) Presence {
	d.mu.Lock()
	st, ok := d.status[user]
	seen := d.seen[user]
	d.mu.Unlock()
	if ok {
		return Presence{User: user, Status: st, LastSeen: d.o.Clock.Now().UTC()}
	}
	if seen.IsZero() && d.o.LastSeen != nil {
		if t, found, err := d.o.LastSeen.Get(ctx, user); err == nil && found {
			seen = t
		}
	}
	return Presence{User: user, Status: Offline, LastSeen: seen}
}

// Nodes returns the nodes that hold connections of user.
func (d *Directory) Nodes(user core.UserID) []core.NodeID {
	d.mu.Lock()
	defer d.mu.Unlock()
	nodes := d.view[user]
	out := make([]core.NodeID, 0, len(nodes))
	for n := range nodes {
		out = append(out, n)
	}
	return out
}

// OnlineCount returns how many users are online or away.
func (d *Directory) OnlineCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.status)
}
