package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// EventLog is the PostgreSQL implementation of eventlog.Store. It is safe
// for concurrent use, also by several processes sharing the database: an
// append transaction first locks the head rows of the streams it touches,
// in name order (so two appenders never wait on each other in a cycle), and
// whoever takes a head second sees the first one's committed sequences. A
// transaction that still fails with a serialization failure or a deadlock
// is retried. Statements are prepared once per connection (pgx's statement
// cache) and each batch costs a fixed number of round trips, whatever its
// size. A batch that AppendBatch acknowledged is committed.
type EventLog struct {
	db    *DB
	owned bool
	plans sync.Pool
}

var _ eventlog.Store = (*EventLog)(nil)

// maxAttempts bounds the tries of one batch that keeps hitting serialization
// failures, deadlocks or concurrently created streams.
const maxAttempts = 10

// OpenEventLog connects to url with at most maxConns connections, applies
// the migrations and returns the store, which closes the pool when it is
// closed.
func OpenEventLog(ctx context.Context, url string, maxConns int) (*EventLog, error) {
	db, err := Open(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	l := NewEventLog(db)
	l.owned = true
	return l, nil
}

// NewEventLog returns the event log store over db. Close does not close db.
func NewEventLog(db *DB) *EventLog {
	return &EventLog{db: db, plans: sync.Pool{New: func() any { return new(eventlog.Plan) }}}
}

// DB returns the database the store uses.
func (l *EventLog) DB() *DB { return l.db }

// Close closes the pool if the store was made by OpenEventLog.
func (l *EventLog) Close() error {
	if l.owned {
		return l.db.Close()
	}
	return nil
}

// errMissingStreams reports that some streams of a batch have no head row
// yet; AppendBatch creates them outside the batch's transaction and tries
// again.
type errMissingStreams struct{ names []string }

func (e *errMissingStreams) Error() string { return fmt.Sprintf("%d new streams", len(e.names)) }

// AppendBatch implements eventlog.Store.
func (l *EventLog) AppendBatch(ctx context.Context, items []eventlog.BatchItem) error {
	p := l.plans.Get().(*eventlog.Plan)
	defer l.plans.Put(p)
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		p.Reset(items)
		names := p.Names()
		if len(names) == 0 {
			return nil // every item is invalid
		}
		if err = l.appendOnce(ctx, p, names); err == nil {
			return nil
		}
		p.Fail()
		var missing *errMissingStreams
		switch {
		case errors.As(err, &missing):
			if err = l.createStreams(ctx, missing.names); err != nil {
				return fmt.Errorf("postgres: append to event log: %w", err)
			}
		case IsRetryable(err):
			// Let the transaction that won go first.
			t := time.NewTimer(time.Duration(attempt) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("postgres: append to event log: %w", ctx.Err())
			case <-t.C:
			}
		default:
			return fmt.Errorf("postgres: append to event log: %w", err)
		}
	}
	return fmt.Errorf("postgres: append to event log: gave up after %d attempts: %w", maxAttempts, err)
}

// createStreams inserts head rows for streams that have none, in name
// order, in a transaction of its own that holds no other lock.
func (l *EventLog) createStreams(ctx context.Context, names []string) error {
	_, err := l.db.Pool.Exec(ctx, `INSERT INTO eventlog_streams (name, first_seq, last_seq)
		SELECT n, 1, 0 FROM unnest($1::text[]) WITH ORDINALITY AS u(n, i) ORDER BY i
		ON CONFLICT (name) DO NOTHING`, names)
	return err
}

const (
	lockHeadsSQL = `SELECT id, name, first_seq, last_seq FROM eventlog_streams
		WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE`
	keysSQL = `SELECT s.name, k.key, k.first_seq, k.last_seq
		FROM unnest($1::text[], $2::text[]) AS u(name, key)
		JOIN eventlog_streams s ON s.name = u.name
		JOIN eventlog_keys k ON k.sid = s.id AND k.key = u.key`
	setLastSQL = `UPDATE eventlog_streams AS s SET last_seq = u.last
		FROM unnest($1::bigint[], $2::bigint[]) AS u(id, last) WHERE s.id = u.id`
	insertEventsSQL = `INSERT INTO eventlog_events (sid, seq, type, at, actor, data, key)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::bytea[], $7::text[])`
	insertKeysSQL = `INSERT INTO eventlog_keys (sid, key, first_seq, last_seq)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[])`
	selectEvents = `SELECT seq, type, at, actor, data, key FROM eventlog_events `
	readSQL      = selectEvents + `WHERE sid = (SELECT id FROM eventlog_streams WHERE name = $1)
		AND seq > $2 ORDER BY seq LIMIT $3`
	// The first sequence stamped at or after since comes from the time
	// index; events are then read in sequence order from there, still
	// filtered by time since clocks may step back.
	readSinceSQL = selectEvents + `WHERE sid = (SELECT id FROM eventlog_streams WHERE name = $1)
		AND seq >= (SELECT min(seq) FROM eventlog_events
			WHERE sid = (SELECT id FROM eventlog_streams WHERE name = $1) AND at >= $2)
		AND at >= $2 ORDER BY seq LIMIT $3`
	keyEventsSQL = selectEvents + `WHERE sid = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq`
)

type keyRange struct{ first, last int64 }

type nameKey struct{ name, key string }

// appendOnce runs one attempt of a batch in one transaction: lock the heads
// and read the recorded keys (one round trip), plan, write heads, events and
// keys (one round trip), commit.
func (l *EventLog) appendOnce(ctx context.Context, p *eventlog.Plan, streams []core.StreamID) error {
	names := make([]string, len(streams))
	for i, s := range streams {
		names[i] = string(s)
	}
	tx, err := l.db.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	var keyNames, keyKeys []string
	for _, k := range keyedPairs(p) {
		keyNames = append(keyNames, k.name)
		keyKeys = append(keyKeys, k.key)
	}
	b := &pgx.Batch{}
	b.Queue(lockHeadsSQL, names)
	if len(keyKeys) > 0 {
		b.Queue(keysSQL, keyNames, keyKeys)
	}
	src := &txSource{tx: tx, heads: make(map[core.StreamID]eventlog.StreamHead, len(names))}
	br := tx.SendBatch(ctx, b)
	rows, _ := br.Query()
	var (
		h           eventlog.StreamHead
		name        string
		first, last int64
	)
	_, err = pgx.ForEachRow(rows, []any{&h.ID, &name, &first, &last}, func() error {
		src.heads[core.StreamID(name)] = eventlog.StreamHead{ID: h.ID, Exists: true, First: uint64(first), Last: uint64(last)}
		return nil
	})
	if err == nil && len(keyKeys) > 0 {
		rows, _ := br.Query()
		src.keys = make(map[nameKey]keyRange)
		var key string
		_, err = pgx.ForEachRow(rows, []any{&name, &key, &first, &last}, func() error {
			src.keys[nameKey{name, key}] = keyRange{first, last}
			return nil
		})
	}
	if err := errors.Join(err, br.Close()); err != nil {
		return err
	}
	if len(src.heads) < len(names) {
		var missing []string
		for _, n := range names {
			if _, ok := src.heads[core.StreamID(n)]; !ok {
				missing = append(missing, n)
			}
		}
		return &errMissingStreams{missing}
	}

	if err := p.Build(ctx, src); err != nil {
		return err
	}
	if err := write(ctx, tx, p); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// keyedPairs lists the (stream, key) pairs of the plan's valid keyed items.
func keyedPairs(p *eventlog.Plan) []nameKey {
	var out []nameKey
	for _, it := range p.Items() {
		if it.Err == nil && it.Req.Key != "" {
			out = append(out, nameKey{string(it.Req.Stream), it.Req.Key})
		}
	}
	return out
}

// write sends the plan's heads, events and keys in one pipeline.
func write(ctx context.Context, tx pgx.Tx, p *eventlog.Plan) error {
	var (
		ids, lasts             []int64
		sids, seqs             []int64
		types, actors, keys    []string
		ats                    []time.Time
		datas                  [][]byte
		kSids, kFirsts, kLasts []int64
		kKeys                  []string
		nevents                int
	)
	for _, ps := range p.Streams {
		nevents += len(ps.Events)
	}
	if nevents == 0 {
		return nil
	}
	sids, seqs = make([]int64, 0, nevents), make([]int64, 0, nevents)
	types, actors, keys = make([]string, 0, nevents), make([]string, 0, nevents), make([]string, 0, nevents)
	ats, datas = make([]time.Time, 0, nevents), make([][]byte, 0, nevents)
	for _, ps := range p.Streams {
		if len(ps.Events) == 0 {
			continue
		}
		ids = append(ids, ps.ID)
		lasts = append(lasts, int64(ps.Last))
		for i := range ps.Events {
			e := &ps.Events[i]
			sids = append(sids, ps.ID)
			seqs = append(seqs, int64(e.Seq))
			types = append(types, e.Type)
			ats = append(ats, e.Time)
			actors = append(actors, string(e.Actor))
			datas = append(datas, e.Data)
			keys = append(keys, e.Key)
		}
		for _, k := range ps.Keys {
			kSids = append(kSids, ps.ID)
			kKeys = append(kKeys, k.Key)
			kFirsts = append(kFirsts, int64(k.First))
			kLasts = append(kLasts, int64(k.Last))
		}
	}
	b := &pgx.Batch{}
	b.Queue(setLastSQL, ids, lasts)
	b.Queue(insertEventsSQL, sids, seqs, types, ats, actors, datas, keys)
	if len(kSids) > 0 {
		b.Queue(insertKeysSQL, kSids, kKeys, kFirsts, kLasts)
	}
	return tx.SendBatch(ctx, b).Close()
}

// txSource serves the plan the heads locked by appendOnce and the keys it
// read.
type txSource struct {
	tx    pgx.Tx
	heads map[core.StreamID]eventlog.StreamHead
	keys  map[nameKey]keyRange
}

func (s *txSource) Head(ctx context.Context, stream core.StreamID) (eventlog.StreamHead, error) {
	h, ok := s.heads[stream]
	if !ok {
		return h, fmt.Errorf("head of %s was not locked", stream)
	}
	return h, nil
}

func (s *txSource) KeyEvents(ctx context.Context, stream core.StreamID, h eventlog.StreamHead, key string) ([]eventlog.Event, bool, error) {
	r, ok := s.keys[nameKey{string(stream), key}]
	if !ok {
		return nil, false, nil
	}
	rows, err := s.tx.Query(ctx, keyEventsSQL, h.ID, r.first, r.last)
	if err != nil {
		return nil, false, err
	}
	evs, err := scanEvents(rows, stream, int(r.last-r.first+1))
	return evs, true, err
}

// Read implements eventlog.Store.
func (l *EventLog) Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]eventlog.Event, error) {
	limit = eventlog.ReadLimit(limit)
	rows, err := l.db.Pool.Query(ctx, readSQL, string(stream), int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read event log: %w", err)
	}
	evs, err := scanEvents(rows, stream, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read event log: %w", err)
	}
	return evs, nil
}

// ReadSince implements eventlog.Store.
func (l *EventLog) ReadSince(ctx context.Context, stream core.StreamID, since time.Time, limit int) ([]eventlog.Event, error) {
	limit = eventlog.ReadLimit(limit)
	rows, err := l.db.Pool.Query(ctx, readSinceSQL, string(stream), sinceMicros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read event log: %w", err)
	}
	evs, err := scanEvents(rows, stream, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: read event log: %w", err)
	}
	return evs, nil
}

// sinceMicros rounds since up to the microsecond, the stored precision: an
// event stored at microsecond m is at or after since exactly when it is at
// or after the result.
func sinceMicros(since time.Time) time.Time {
	m := time.UnixMicro(since.UnixMicro())
	if m.Before(since) {
		m = m.Add(time.Microsecond)
	}
	return m.UTC()
}

// Bounds implements eventlog.Store.
func (l *EventLog) Bounds(ctx context.Context, stream core.StreamID) (first, last uint64, err error) {
	var f, t int64
	err = l.db.Pool.QueryRow(ctx, `SELECT first_seq, last_seq FROM eventlog_streams WHERE name = $1`, string(stream)).Scan(&f, &t)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && t == 0) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: event log bounds: %w", err)
	}
	return uint64(f), uint64(t), nil
}

// Truncate implements eventlog.Store. It locks the stream's head like an
// append, so readers and appenders see the stream before or after it.
func (l *EventLog) Truncate(ctx context.Context, stream core.StreamID, before uint64) error {
	if err := stream.Validate(); err != nil {
		return errs.Wrap(errs.InvalidArgument, err, "bad stream")
	}
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = l.db.Tx(ctx, func(tx pgx.Tx) error {
			var id, first, last int64
			err := tx.QueryRow(ctx, `SELECT id, first_seq, last_seq FROM eventlog_streams WHERE name = $1 FOR UPDATE`,
				string(stream)).Scan(&id, &first, &last)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			b := min(int64(min(before, 1<<62)), last+1)
			if b <= first {
				return nil
			}
			bt := &pgx.Batch{}
			bt.Queue(`DELETE FROM eventlog_events WHERE sid = $1 AND seq < $2`, id, b)
			bt.Queue(`UPDATE eventlog_streams SET first_seq = $2 WHERE id = $1`, id, b)
			bt.Queue(`DELETE FROM eventlog_keys WHERE sid = $1 AND last_seq < $2`, id, b)
			return tx.SendBatch(ctx, bt).Close()
		})
		if err == nil || !IsRetryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: truncate event log: %w", err)
	}
	return nil
}

// scanEvents decodes rows of selectEvents for stream. Data of the events
// are carved from shared buffers rather than allocated one by one.
func scanEvents(rows pgx.Rows, stream core.StreamID, limit int) ([]eventlog.Event, error) {
	defer rows.Close()
	out := make([]eventlog.Event, 0, min(limit, 256))
	var (
		seq             int64
		at              time.Time
		typ, actor, key string
		data            pgtype.DriverBytes
		arena           []byte
	)
	for rows.Next() {
		// DriverBytes saves a copy per row: the bytes are only valid until
		// the next row, so they are copied into the arena below.
		if err := rows.Scan(&seq, &typ, &at, &actor, &data, &key); err != nil {
			return nil, err
		}
		var d []byte
		if len(data) > 0 {
			if cap(arena)-len(arena) < len(data) {
				arena = make([]byte, 0, max(32<<10, len(data)))
			}
			n := len(arena)
			arena = append(arena, data...)
			d = arena[n:len(arena):len(arena)]
		}
		out = append(out, eventlog.Event{
			Stream: stream,
			Seq:    uint64(seq),
			Type:   typ,
			Time:   at.UTC(),
			Actor:  core.UserID(actor),
			Data:   d,
			Key:    key,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

var _ eventlog.Lister = (*EventLog)(nil)

// Streams implements eventlog.Lister with a range scan of the index on the
// streams' names in byte order (migration 0003), whatever the database's
// collation.
func (l *EventLog) Streams(ctx context.Context, kind string, after core.StreamID, limit int) ([]eventlog.StreamInfo, error) {
	if limit <= 0 {
		limit = eventlog.DefaultReadLimit
	}
	lo, hi := eventlog.StreamRange(kind, after)
	rows, err := l.db.Pool.Query(ctx, `SELECT name, last_seq FROM eventlog_streams
		WHERE name COLLATE "C" > $1 AND name COLLATE "C" < $2 AND last_seq > 0
		ORDER BY name COLLATE "C" LIMIT $3`, lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list streams: %w", err)
	}
	defer rows.Close()
	out := []eventlog.StreamInfo{}
	for rows.Next() {
		var name string
		var last int64
		if err := rows.Scan(&name, &last); err != nil {
			return nil, fmt.Errorf("postgres: list streams: %w", err)
		}
		out = append(out, eventlog.StreamInfo{Stream: core.StreamID(name), Last: uint64(last)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list streams: %w", err)
	}
	return out, nil
}
