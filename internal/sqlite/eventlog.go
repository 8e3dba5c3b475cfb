package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/internal/core"
	"github.com/parleyhq/parley/internal/errs"
	"github.com/parleyhq/parley/internal/eventlog"
)

// EventLog is the SQLite implementation of eventlog.Store, over a database
// opened with the "eventlog" migration set. It is safe for concurrent use:
// appends and truncations are serialised on the database's single writer
// connection, and reads run on the reader pool, concurrently with them,
// seeing only committed batches. A batch that AppendBatch acknowledged is on
// disk (WAL with synchronous=FULL).
type EventLog struct {
	db    *DB
	owned bool

	// mu serialises AppendBatch, which reuses plan and args.
	mu   sync.Mutex
	plan eventlog.Plan
	args []any

	head, key, keyEvents, newStream, setLast, newKey *sql.Stmt
	// inserts[i] inserts insertSizes[i] events at once.
	inserts []*sql.Stmt

	read, readSince, bounds *sql.Stmt
}

var _ eventlog.Store = (*EventLog)(nil)

// insertSizes are the row counts of the prepared multi-row INSERTs, largest
// first; a batch's events are written with as few statements as these allow.
var insertSizes = []int{256, 64, 16, 4, 1}

const eventColumns = 7

const selectEvents = `SELECT seq, type, at, actor, data, key FROM events `

// OpenEventLog opens (creating if needed) the event log database at path,
// applies its migrations and returns the store, which closes the database
// when it is closed.
func OpenEventLog(ctx context.Context, path string) (*EventLog, error) {
	db, err := Open(ctx, path, "eventlog")
	if err != nil {
		return nil, err
	}
	l, err := NewEventLog(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	l.owned = true
	return l, nil
}

// NewEventLog returns the event log store over db, which must have been
// opened with the "eventlog" migration set. Close does not close db.
func NewEventLog(ctx context.Context, db *DB) (*EventLog, error) {
	l := &EventLog{db: db}
	var err error
	prepare := func(c *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = c.PrepareContext(ctx, q)
		return s
	}
	l.head = prepare(db.W, `SELECT id, first_seq, last_seq FROM streams WHERE name = ?`)
	l.key = prepare(db.W, `SELECT first_seq, last_seq FROM event_keys WHERE sid = ? AND key = ?`)
	l.keyEvents = prepare(db.W, selectEvents+`WHERE sid = ? AND seq BETWEEN ? AND ? ORDER BY seq`)
	l.newStream = prepare(db.W, `INSERT INTO streams (name, first_seq, last_seq) VALUES (?, 1, ?)`)
	l.setLast = prepare(db.W, `UPDATE streams SET last_seq = ? WHERE id = ?`)
	l.newKey = prepare(db.W, `INSERT INTO event_keys (sid, key, first_seq, last_seq) VALUES (?, ?, ?, ?)`)
	for _, n := range insertSizes {
		l.inserts = append(l.inserts, prepare(db.W, insertEventsSQL(n)))
	}
	l.read = prepare(db.R, selectEvents+`WHERE sid = (SELECT id FROM streams WHERE name = ?1) AND seq > ?2 ORDER BY seq LIMIT ?3`)
	// The first sequence stamped at or after since comes from the time index;
	// events are then read in sequence order from there, still filtered by
	// time since clocks may step back.
	l.readSince = prepare(db.R, selectEvents+`WHERE sid = (SELECT id FROM streams WHERE name = ?1)
		AND seq >= (SELECT min(seq) FROM events WHERE sid = (SELECT id FROM streams WHERE name = ?1) AND at >= ?2)
		AND at >= ?2 ORDER BY seq LIMIT ?3`)
	l.bounds = prepare(db.R, `SELECT first_seq, last_seq FROM streams WHERE name = ?`)
	if err != nil {
		l.closeStmts()
		return nil, fmt.Errorf("sqlite: prepare event log statements: %w", err)
	}
	return l, nil
}

func insertEventsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO events (sid, seq, type, at, actor, data, key) VALUES `)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?)`)
	}
	return b.String()
}

// DB returns the database the store uses.
func (l *EventLog) DB() *DB { return l.db }

// Close releases the prepared statements and, if the store was made by
// OpenEventLog, closes the database. The store must not be used afterwards.
func (l *EventLog) Close() error {
	err := l.closeStmts()
	if l.owned {
		err = errors.Join(err, l.db.Close())
	}
	return err
}

func (l *EventLog) closeStmts() error {
	var err error
	for _, s := range append([]*sql.Stmt{l.head, l.key, l.keyEvents, l.newStream, l.setLast, l.newKey,
		l.read, l.readSince, l.bounds}, l.inserts...) {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
	}
	return err
}

// AppendBatch implements eventlog.Store. It applies the items in one
// BEGIN IMMEDIATE transaction; concurrent calls are serialised.
func (l *EventLog) AppendBatch(ctx context.Context, items []eventlog.BatchItem) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &l.plan
	p.Reset(items)
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		src := txSource{ctx: ctx, tx: tx, l: l}
		if err := p.Build(ctx, &src); err != nil {
			return err
		}
		return l.write(ctx, tx)
	})
	if err != nil {
		p.Fail()
		return fmt.Errorf("sqlite: append to event log: %w", err)
	}
	return nil
}

// write stores what the plan decided: heads, events and keys.
func (l *EventLog) write(ctx context.Context, tx *sql.Tx) error {
	var newStream, setLast, newKey *sql.Stmt
	for _, ps := range l.plan.Streams {
		if len(ps.Events) == 0 {
			continue
		}
		if !ps.Exists {
			if newStream == nil {
				newStream = tx.StmtContext(ctx, l.newStream)
			}
			res, err := newStream.ExecContext(ctx, string(ps.Stream), int64(ps.Last))
			if err != nil {
				return err
			}
			if ps.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			ps.Exists = true
		} else {
			if setLast == nil {
				setLast = tx.StmtContext(ctx, l.setLast)
			}
			if _, err := setLast.ExecContext(ctx, int64(ps.Last), ps.ID); err != nil {
				return err
			}
		}
	}
	if err := l.insertEvents(ctx, tx); err != nil {
		return err
	}
	for _, ps := range l.plan.Streams {
		for _, k := range ps.Keys {
			if newKey == nil {
				newKey = tx.StmtContext(ctx, l.newKey)
			}
			if _, err := newKey.ExecContext(ctx, ps.ID, k.Key, int64(k.First), int64(k.Last)); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertEvents writes the plan's events with the multi-row INSERTs.
func (l *EventLog) insertEvents(ctx context.Context, tx *sql.Tx) error {
	var txStmts [8]*sql.Stmt
	exec := func(size int, args []any) error {
		if txStmts[size] == nil {
			txStmts[size] = tx.StmtContext(ctx, l.inserts[size])
		}
		_, err := txStmts[size].ExecContext(ctx, args...)
		return err
	}
	full := insertSizes[0] * eventColumns
	args := l.args[:0]
	defer func() {
		clear(args[:cap(args)])
		l.args = args[:0]
	}()
	for _, ps := range l.plan.Streams {
		if len(ps.Events) == 0 {
			continue
		}
		sid := any(ps.ID)
		for i := range ps.Events {
			e := &ps.Events[i]
			var data any
			if len(e.Data) > 0 {
				data = []byte(e.Data)
			}
			args = append(args, sid, int64(e.Seq), e.Type, e.Time.UnixMicro(), string(e.Actor), data, e.Key)
			if len(args) == full {
				if err := exec(0, args); err != nil {
					return err
				}
				args = args[:0]
			}
		}
	}
	rest := args
	for size, n := range insertSizes {
		for len(rest) >= n*eventColumns {
			if err := exec(size, rest[:n*eventColumns]); err != nil {
				return err
			}
			rest = rest[n*eventColumns:]
		}
	}
	return nil
}

// txSource reads heads and keys for the plan inside the append transaction.
type txSource struct {
	ctx                  context.Context
	tx                   *sql.Tx
	l                    *EventLog
	head, key, keyEvents *sql.Stmt
}

func (s *txSource) Head(ctx context.Context, stream core.StreamID) (eventlog.StreamHead, error) {
	if s.head == nil {
		s.head = s.tx.StmtContext(ctx, s.l.head)
	}
	var h eventlog.StreamHead
	var first, last int64
	err := s.head.QueryRowContext(ctx, string(stream)).Scan(&h.ID, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	h.Exists, h.First, h.Last = true, uint64(first), uint64(last)
	return h, nil
}

func (s *txSource) KeyEvents(ctx context.Context, stream core.StreamID, h eventlog.StreamHead, key string) ([]eventlog.Event, bool, error) {
	if s.key == nil {
		s.key = s.tx.StmtContext(ctx, s.l.key)
		s.keyEvents = s.tx.StmtContext(ctx, s.l.keyEvents)
	}
	var first, last int64
	err := s.key.QueryRowContext(ctx, h.ID, key).Scan(&first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	rows, err := s.keyEvents.QueryContext(ctx, h.ID, first, last)
	if err != nil {
		return nil, false, err
	}
	evs, err := scanEvents(rows, stream, int(last-first+1))
	return evs, true, err
}

// Read implements eventlog.Store.
func (l *EventLog) Read(ctx context.Context, stream core.StreamID, after uint64, limit int) ([]eventlog.Event, error) {
	limit = eventlog.ReadLimit(limit)
	rows, err := l.read.QueryContext(ctx, string(stream), int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read event log: %w", err)
	}
	evs, err := scanEvents(rows, stream, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read event log: %w", err)
	}
	return evs, nil
}

// ReadSince implements eventlog.Store.
func (l *EventLog) ReadSince(ctx context.Context, stream core.StreamID, since time.Time, limit int) ([]eventlog.Event, error) {
	limit = eventlog.ReadLimit(limit)
	rows, err := l.readSince.QueryContext(ctx, string(stream), sinceMicros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read event log: %w", err)
	}
	evs, err := scanEvents(rows, stream, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read event log: %w", err)
	}
	return evs, nil
}

// sinceMicros converts since to the stored unit, rounding up: an event
// stored at microsecond m is at or after since exactly when m >= the result.
func sinceMicros(since time.Time) int64 {
	m := since.UnixMicro()
	if time.UnixMicro(m).Before(since) {
		m++
	}
	return m
}

// Bounds implements eventlog.Store.
func (l *EventLog) Bounds(ctx context.Context, stream core.StreamID) (first, last uint64, err error) {
	var f, t int64
	err = l.bounds.QueryRowContext(ctx, string(stream)).Scan(&f, &t)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && t == 0) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: event log bounds: %w", err)
	}
	return uint64(f), uint64(t), nil
}

// Truncate implements eventlog.Store. It runs in one write transaction, so
// readers see the stream either before or after it.
func (l *EventLog) Truncate(ctx context.Context, stream core.StreamID, before uint64) error {
	if err := stream.Validate(); err != nil {
		return errs.Wrap(errs.InvalidArgument, err, "bad stream")
	}
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		var id, first, last int64
		err := tx.StmtContext(ctx, l.head).QueryRowContext(ctx, string(stream)).Scan(&id, &first, &last)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		b := min(int64(min(before, 1<<62)), last+1)
		if b <= first {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM events WHERE sid = ? AND seq < ?`, id, b); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE streams SET first_seq = ? WHERE id = ?`, b, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM event_keys WHERE sid = ? AND last_seq < ?`, id, b)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: truncate event log: %w", err)
	}
	return nil
}

// scanEvents decodes rows of selectEvents for stream. Data of the events
// are carved from shared buffers rather than allocated one by one.
func scanEvents(rows *sql.Rows, stream core.StreamID, limit int) ([]eventlog.Event, error) {
	defer rows.Close()
	out := make([]eventlog.Event, 0, min(limit, 256))
	var (
		seq, at         int64
		typ, actor, key string
		data            sql.RawBytes
		arena           []byte
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &typ, &at, &actor, &data, &key); err != nil {
			return nil, err
		}
		var d json.RawMessage
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
			Time:   time.UnixMicro(at).UTC(),
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
