package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/parleyhq/parley/internal/actor"
	"github.com/parleyhq/parley/internal/bus"
	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// Stream ownership in a cluster: a lease per stream in a KV bucket, and
// commands forwarded to the owner over the bus. A single node on the
// embedded bus needs neither.

// leases implements actor.Leases over a KV bucket with per-key TTL.
type leases struct{ kv *bus.KV }

var _ actor.Leases = leases{}

// leaseKey maps "room:abc" to "room.abc" (KV keys cannot hold a colon).
func leaseKey(s core.StreamID) string { return s.Kind() + "." + s.ID() }

func (l leases) Acquire(ctx context.Context, s core.StreamID, node core.NodeID, ttl time.Duration) (uint64, core.NodeID, error) {
	rev, err := l.kv.Create(ctx, leaseKey(s), []byte(node), ttl)
	if err == nil {
		return rev, node, nil
	}
	if !errs.Is(err, errs.AlreadyExists) {
		return 0, "", err
	}
	e, err := l.kv.Get(ctx, leaseKey(s))
	if errs.Is(err, errs.NotFound) {
		// Released or expired between the two calls: try once more.
		rev, err := l.kv.Create(ctx, leaseKey(s), []byte(node), ttl)
		if err != nil {
			return 0, "", err
		}
		return rev, node, nil
	}
	if err != nil {
		return 0, "", err
	}
	owner := core.NodeID(e.Value)
	if owner == node {
		// Left behind by an earlier actor of this node: take it over.
		return e.Revision, node, nil
	}
	return 0, owner, nil
}

func (l leases) Renew(ctx context.Context, s core.StreamID, node core.NodeID, rev uint64, ttl time.Duration) (uint64, error) {
	return l.kv.Update(ctx, leaseKey(s), []byte(node), rev, ttl)
}

func (l leases) Release(ctx context.Context, s core.StreamID, rev uint64) error {
	return l.kv.DeleteRevision(ctx, leaseKey(s), rev)
}

// forwarded is a command sent to the owner node.
type forwarded struct {
	Stream core.StreamID   `json:"stream"`
	Name   string          `json:"name"`
	Actor  core.UserID     `json:"actor,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	Key    string          `json:"key,omitempty"`
}

// forwardedResult is the owner's answer.
type forwardedResult struct {
	Reply     json.RawMessage  `json:"reply,omitempty"`
	Events    []eventlog.Event `json:"events,omitempty"`
	Duplicate bool             `json:"duplicate,omitempty"`
	Code      errs.Code        `json:"code,omitempty"`
	Message   string           `json:"message,omitempty"`
	NotOwner  bool             `json:"not_owner,omitempty"`
	Owner     core.NodeID      `json:"owner,omitempty"`
}

// forwarder implements actor.Forwarder over bus requests.
type forwarder struct{ b *bus.Bus }

var _ actor.Forwarder = forwarder{}

func (f forwarder) Forward(ctx context.Context, node core.NodeID, s core.StreamID, cmd actor.Command) (actor.Result, error) {
	req, _ := json.Marshal(forwarded{Stream: s, Name: cmd.Name, Actor: cmd.Actor, Data: cmd.Data, Key: cmd.Key})
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	data, err := f.b.Request(rctx, bus.NodeCommands(node), req)
	if err != nil {
		if ctx.Err() != nil {
			return actor.Result{}, ctx.Err()
		}
		return actor.Result{}, actor.ErrUnreachable
	}
	var r forwardedResult
	if err := json.Unmarshal(data, &r); err != nil {
		return actor.Result{}, errs.Wrap(errs.Internal, err, "bad answer from the owner node")
	}
	switch {
	case r.NotOwner:
		return actor.Result{}, &actor.NotOwnerError{Owner: r.Owner}
	case r.Code != "":
		return actor.Result{}, errs.E(r.Code, "%s", r.Message)
	}
	res := actor.Result{Events: r.Events, Duplicate: r.Duplicate}
	if len(r.Reply) > 0 {
		res.Reply = r.Reply
	}
	return res, nil
}

// serveForwarded runs a forwarded command on this node's actor.
func (m *Main) serveForwarded(ctx context.Context, data []byte) []byte {
	var f forwarded
	if err := json.Unmarshal(data, &f); err != nil {
		out, _ := json.Marshal(forwardedResult{Code: errs.InvalidArgument, Message: "bad forwarded command"})
		return out
	}
	res, err := m.host.Serve(ctx, f.Stream, actor.Command{Name: f.Name, Actor: f.Actor, Data: f.Data, Key: f.Key})
	var r forwardedResult
	var no *actor.NotOwnerError
	switch {
	case errors.As(err, &no):
		r.NotOwner, r.Owner = true, no.Owner
	case err != nil:
		r.Code, r.Message = errs.Public(err)
	default:
		r.Events, r.Duplicate = res.Events, res.Duplicate
		if res.Reply != nil {
			reply, err := json.Marshal(res.Reply)
			if err != nil {
				r.Code, r.Message = errs.Internal, "reply is not JSON"
			} else {
				r.Reply = reply
			}
		}
	}
	out, _ := json.Marshal(r)
	return out
}
