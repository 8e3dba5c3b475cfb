// Package eventlog defines Parley's event log: every state change of a
// conversation is an Event appended to a named stream with a per-stream
// sequence number that starts at 1 and has no holes. The log is the source of
// truth; NATS only carries copies for fast fan-out, and clients close every gap
// by reading the log.
//
// Adapters (internal/sqlite, internal/postgres) implement Store. Log wraps a
// Store with group commit, in-process follow notifications and metrics.
package eventlog

import (
	"context"
	"encoding/json"
	"time"

	"github.com/parleyhq/parley/internal/core"
)

// AnySeq as AppendRequest.Expected disables the expected-sequence check.
const AnySeq int64 = -1

// MaxKeyLen bounds an idempotency key.
const MaxKeyLen = 128

// Event is one entry of a stream. Events are immutable once appended.
type Event struct {
	Stream core.StreamID   `json:"stream"`
	Seq    uint64          `json:"seq"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Actor  core.UserID     `json:"actor,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	// Key is the idempotency key of the append that wrote this event, or "".
	Key string `json:"key,omitempty"`
}

// Draft is an event before it is appended: the log assigns Stream, Seq, Time
// and Key.
type Draft struct {
	Type  string
	Actor core.UserID
	Data  json.RawMessage
}

// AppendRequest asks to append Events, in order, to Stream.
type AppendRequest struct {
	Stream core.StreamID
	// Expected is the sequence the writer believes is the stream's last
	// (0 for an empty stream), or AnySeq. If the stream's last sequence differs,
	// the append fails with an errs.Conflict error and writes nothing.
	Expected int64
	// Key, if set, makes the append idempotent within its stream: a second
	// append with the same key writes nothing and returns the events the first
	// one wrote, with Duplicate set, whatever its Expected says.
	Key    string
	Events []Draft
	// Time, if set, is stamped on the events instead of the commit time. A
	// stream's single writer sets it so that the state it built before the
	// commit equals the state a replay rebuilds.
	Time time.Time
}

// AppendResult is the outcome of a successful append.
type AppendResult struct {
	Events    []Event
	Duplicate bool
}

// BatchItem is one request inside a group commit. The Store fills Result or
// Err for each item.
type BatchItem struct {
	Req    *AppendRequest
	Time   time.Time // the time to stamp on the request's events
	Result AppendResult
	Err    error

	// validated records that Log.Append already ran Validate on Req, so
	// that the store's Plan does not parse the request's JSON again.
	validated bool
}

// Store is a durable event log. Implementations are safe for concurrent use.
type Store interface {
	// AppendBatch applies every item in one transaction and, when it returns
	// nil, has made every successful item durable. Items are applied in order,
	// so a later item sees the sequences an earlier item of the same stream
	// took. An item that fails its expected-sequence check gets an
	// errs.Conflict Err and writes nothing, without failing the others. A
	// non-nil return means the transaction failed and nothing was written.
	AppendBatch(ctx context.Context, items []BatchItem) error
	// Read returns up to limit events of stream with Seq > after, in order
	// (DefaultReadLimit events when limit <= 0).
	Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]Event, error)
	// ReadSince returns up to limit events of stream with Time >= since, in
	// sequence order (DefaultReadLimit events when limit <= 0).
	ReadSince(ctx context.Context, stream core.StreamID, since time.Time, limit int) ([]Event, error)
	// Bounds returns the first and last sequence still stored for stream
	// (0, 0 for a stream that never had events). First is above 1 once older
	// events were truncated; last never decreases, so once Truncate removed
	// every event first is last+1.
	Bounds(ctx context.Context, stream core.StreamID) (first, last uint64, err error)
	// Truncate deletes the events of stream with Seq < before. Sequences are
	// never reused. An idempotency key is forgotten once all the events its
	// append wrote are deleted.
	Truncate(ctx context.Context, stream core.StreamID, before uint64) error
}

// StreamInfo names a stream and its last sequence.
type StreamInfo struct {
	Stream core.StreamID `json:"stream"`
	Last   uint64        `json:"last"`
}

// Lister enumerates the streams of a log, for consumers that follow every
// stream of a kind (read-model projectors, rebuilds, caches). Both adapters
// implement it; it is separate from Store so that other Store
// implementations need not.
type Lister interface {
	// Streams returns up to limit streams of kind (DefaultReadLimit when
	// limit <= 0) whose names sort after after, in name order, each with its
	// last sequence. Streams that never had an event are left out. Paging
	// with the last name returned visits every stream once; streams created
	// meanwhile may or may not be seen.
	Streams(ctx context.Context, kind string, after core.StreamID, limit int) ([]StreamInfo, error)
}
