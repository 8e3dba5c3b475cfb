package actor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
)

// Leases record which node owns each stream, so that in a cluster every
// stream has one writer. A lease lives for a TTL and its owner renews it
// while its actor runs; if the owner dies, the lease expires and the next
// node that receives a command for the stream takes it and rebuilds the
// actor from the log. Implementations compare revisions, so a node that lost
// its lease cannot renew it.
type Leases interface {
	// Acquire makes node the owner of stream if nobody owns it and returns
	// the lease's revision; if another node owns it, it returns that owner
	// and a zero revision.
	Acquire(ctx context.Context, stream core.StreamID, node core.NodeID, ttl time.Duration) (rev uint64, owner core.NodeID, err error)
	// Renew extends the lease held at rev and returns its new revision, or
	// an errs.Conflict error if the lease was lost.
	Renew(ctx context.Context, stream core.StreamID, node core.NodeID, rev uint64, ttl time.Duration) (uint64, error)
	// Release gives up the lease held at rev.
	Release(ctx context.Context, stream core.StreamID, rev uint64) error
}

// Forwarder runs a command on the node that owns its stream (Host.Serve
// there) and returns the outcome. A remote Result's Reply is the JSON of
// the owner's reply, as a json.RawMessage.
type Forwarder interface {
	Forward(ctx context.Context, node core.NodeID, stream core.StreamID, cmd Command) (Result, error)
}

// NotOwnerError says the stream is owned by another node (Owner, or unknown
// when empty). Host.Do handles it by forwarding; Host.Serve returns it to
// the forwarding node, which looks the owner up again.
type NotOwnerError struct{ Owner core.NodeID }

func (e *NotOwnerError) Error() string {
	if e.Owner == "" {
		return "actor: this node does not own the stream"
	}
	return fmt.Sprintf("actor: stream owned by node %s", e.Owner)
}

// ErrUnreachable is returned by a Forwarder when the owner did not answer
// (it may have died); Host.Do retries until the owner's lease expires and
// another node takes the stream.
var ErrUnreachable = errors.New("actor: owner node unreachable")

// owners caches the owner of streams this node does not own, for a short
// time, so that forwarding a command costs no lease lookup.
type owners struct {
	mu sync.Mutex
	m  map[core.StreamID]ownerEntry
}

type ownerEntry struct {
	node  core.NodeID
	until time.Time
}

func (o *owners) get(s core.StreamID) (core.NodeID, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.m[s]
	if !ok || time.Now().After(e.until) {
		delete(o.m, s)
		return "", false
	}
	return e.node, true
}

func (o *owners) set(s core.StreamID, n core.NodeID, ttl time.Duration) {
	o.mu.Lock()
	if o.m == nil {
		o.m = map[core.StreamID]ownerEntry{}
	}
	if len(o.m) > 100000 {
		clear(o.m)
	}
	o.m[s] = ownerEntry{node: n, until: time.Now().Add(ttl)}
	o.mu.Unlock()
}

func (o *owners) forget(s core.StreamID) {
	o.mu.Lock()
	delete(o.m, s)
	o.mu.Unlock()
}

// Serve runs a command forwarded by another node on this node's actor of
// stream. It never forwards again: if this node does not own the stream it
// returns a *NotOwnerError.
func (h *Host) Serve(ctx context.Context, stream core.StreamID, cmd Command) (Result, error) {
	if err := h.check(stream, &cmd); err != nil {
		return Result{}, err
	}
	return h.local(ctx, stream, cmd)
}

// route runs cmd where stream is owned: on this node's actor, or forwarded
// to the owner. It retries while ownership moves (an owner died and its
// lease has not expired yet) until ctx ends.
func (h *Host) route(ctx context.Context, stream core.StreamID, cmd Command) (Result, error) {
	backoff := 20 * time.Millisecond
	for {
		var res Result
		var err error
		if owner, ok := h.owners.get(stream); ok {
			res, err = h.opts.Forwarder.Forward(ctx, owner, stream, cmd)
		} else {
			res, err = h.local(ctx, stream, cmd)
		}
		var no *NotOwnerError
		switch {
		case errors.As(err, &no) && no.Owner != "" && no.Owner != h.opts.Node:
			h.owners.set(stream, no.Owner, h.opts.LeaseTTL/2)
			continue
		case errors.As(err, &no), errors.Is(err, ErrUnreachable):
			h.owners.forget(stream)
		default:
			return res, err
		}
		select {
		case <-ctx.Done():
			return Result{}, errs.Wrap(errs.Unavailable, ctx.Err(), "the stream's owner did not answer")
		case <-time.After(backoff):
		}
		if backoff < 500*time.Millisecond {
			backoff *= 2
		}
	}
}

// leaseKey maps a stream to its lease's key.
func leaseCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}
