package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
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
// disk (WAL with synchronous=FULL). Other processes may use the same file:
// every batch reads the heads it needs inside its own transaction.
type EventLog struct {
	db    *DB
	owned bool

	// mu serialises AppendBatch, which reuses the scratch space below.
	mu    sync.Mutex
	plan  eventlog.Plan
	args  []any
	js    []byte
	secs  map[[2]int64]struct{}
	heads map[core.StreamID]eventlog.StreamHead
	keys  map[keyRef]keyRange

	// Set-based statements take their rows as one JSON array parameter, so
	// that a batch over many streams costs one statement, not one a stream.
	headsStmt, keysStmt, keyEvents, newStream, setLast, newTimes, newKeys *sql.Stmt
	// inserts[i] inserts insertSizes[i] events at once.
	inserts []*sql.Stmt

	read, readSince, bounds *sql.Stmt

	// The checkpointer copies the WAL back into the database file in the
	// background, so that commits do not do it themselves.
	appended      chan struct{}
	stop, stopped chan struct{}
	closeOnce     sync.Once
}

// Checkpoints: the background checkpointer runs at most every
// checkpointEvery while appends happen; the writer still checkpoints by
// itself once the WAL holds writerCheckpointPages pages (about 40 MB), in
// case the background one falls behind or readers hold it off.
const (
	checkpointEvery       = 100 * time.Millisecond
	writerCheckpointPages = 10000
)

type keyRef struct {
	sid int64
	key string
}

type keyRange struct{ first, last int64 }

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
	l := &EventLog{
		db:    db,
		secs:  make(map[[2]int64]struct{}),
		heads: make(map[core.StreamID]eventlog.StreamHead),
		keys:  make(map[keyRef]keyRange),
	}
	var err error
	prepare := func(c *sql.DB, q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = c.PrepareContext(ctx, q)
		return s
	}
	l.headsStmt = prepare(db.W, `SELECT id, name, first_seq, last_seq FROM streams
		WHERE name IN (SELECT value FROM json_each(?))`)
	l.keysStmt = prepare(db.W, `SELECT k.sid, k.key, k.first_seq, k.last_seq FROM json_each(?) AS j
		JOIN event_keys AS k ON k.sid = j.value ->> 0 AND k.key = j.value ->> 1`)
	l.keyEvents = prepare(db.W, selectEvents+`WHERE sid = ? AND seq BETWEEN ? AND ? ORDER BY seq`)
	l.newStream = prepare(db.W, `INSERT INTO streams (name, first_seq, last_seq) VALUES (?, 1, ?)`)
	l.setLast = prepare(db.W, `UPDATE streams SET last_seq = j.value ->> 1 FROM json_each(?) AS j
		WHERE streams.id = j.value ->> 0`)
	l.newTimes = prepare(db.W, `INSERT OR IGNORE INTO event_times (sid, sec, first_seq)
		SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each(?) AS j`)
	l.newKeys = prepare(db.W, `INSERT INTO event_keys (sid, key, first_seq, last_seq)
		SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 FROM json_each(?) AS j`)
	for _, n := range insertSizes {
		l.inserts = append(l.inserts, prepare(db.W, insertEventsSQL(n)))
	}
	l.read = prepare(db.R, selectEvents+`WHERE sid = (SELECT id FROM streams WHERE name = ?1)
		AND seq > ?2 ORDER BY seq LIMIT ?3`)
	l.readSince = prepare(db.R, selectEvents+`WHERE sid = (SELECT id FROM streams WHERE name = ?1)
		AND seq >= (SELECT min(first_seq) FROM event_times
			WHERE sid = (SELECT id FROM streams WHERE name = ?1) AND sec >= ?2)
		AND at >= ?3 ORDER BY seq LIMIT ?4`)
	l.bounds = prepare(db.R, `SELECT first_seq, last_seq FROM streams WHERE name = ?`)
	if err != nil {
		l.closeStmts()
		return nil, fmt.Errorf("sqlite: prepare event log statements: %w", err)
	}
	// The writer pool holds one connection that is never recycled, so the
	// setting stays for the store's life.
	if _, err := db.W.ExecContext(ctx, fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, writerCheckpointPages)); err != nil {
		l.closeStmts()
		return nil, fmt.Errorf("sqlite: event log checkpoint setting: %w", err)
	}
	l.appended = make(chan struct{}, 1)
	l.stop, l.stopped = make(chan struct{}), make(chan struct{})
	go l.checkpointLoop()
	return l, nil
}

// checkpointLoop runs passive checkpoints on a reader connection after
// appends, at most every checkpointEvery. A passive checkpoint never blocks
// the writer, so it runs on another core while commits go on.
func (l *EventLog) checkpointLoop() {
	defer close(l.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-l.appended:
		}
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		// On failure the writer's own checkpoints still bound the WAL.
		_, _ = l.db.R.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	}
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

// Close stops the background checkpointer, releases the prepared
// statements and, if the store was made by OpenEventLog, closes the
// database. Calls after the first return nil. The store must not be used
// afterwards.
func (l *EventLog) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.stop)
		<-l.stopped
		err = l.closeStmts()
		if l.owned {
			err = errors.Join(err, l.db.Close())
		}
	})
	return err
}

func (l *EventLog) closeStmts() error {
	var err error
	for _, s := range append([]*sql.Stmt{l.headsStmt, l.keysStmt, l.keyEvents, l.newStream, l.setLast,
		l.newTimes, l.newKeys, l.read, l.readSince, l.bounds}, l.inserts...) {
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
	names := p.Names()
	if len(names) == 0 {
		return nil // every item is invalid
	}
	err := l.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := l.readHeads(ctx, tx, names); err != nil {
			return err
		}
		if err := p.Build(ctx, &txSource{l: l, tx: tx}); err != nil {
			return err
		}
		return l.write(ctx, tx)
	})
	if err != nil {
		p.Fail()
		return fmt.Errorf("sqlite: append to event log: %w", err)
	}
	select {
	case l.appended <- struct{}{}:
	default:
	}
	return nil
}

// readHeads reads the heads of names and the recorded keys of the batch's
// keyed items into l.heads and l.keys, with one statement each.
func (l *EventLog) readHeads(ctx context.Context, tx *sql.Tx, names []core.StreamID) error {
	clear(l.heads)
	clear(l.keys)
	js := append(l.js[:0], '[')
	for i, n := range names {
		if i > 0 {
			js = append(js, ',')
		}
		js = appendJSONString(js, string(n))
	}
	js = append(js, ']')
	l.js = js
	rows, err := tx.StmtContext(ctx, l.headsStmt).QueryContext(ctx, string(js))
	if err != nil {
		return err
	}
	var (
		h           eventlog.StreamHead
		name        string
		first, last int64
	)
	for rows.Next() {
		if err := rows.Scan(&h.ID, &name, &first, &last); err != nil {
			rows.Close()
			return err
		}
		l.heads[core.StreamID(name)] = eventlog.StreamHead{ID: h.ID, Exists: true, First: uint64(first), Last: uint64(last)}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}

	js = append(l.js[:0], '[')
	n := 0
	for _, it := range l.plan.Items() {
		if it.Err != nil || it.Req.Key == "" {
			continue
		}
		h, ok := l.heads[it.Req.Stream]
		if !ok {
			continue
		}
		if n > 0 {
			js = append(js, ',')
		}
		n++
		js = append(js, '[')
		js = strconv.AppendInt(js, h.ID, 10)
		js = append(js, ',')
		js = appendJSONString(js, it.Req.Key)
		js = append(js, ']')
	}
	js = append(js, ']')
	l.js = js
	if n == 0 {
		return nil
	}
	rows, err = tx.StmtContext(ctx, l.keysStmt).QueryContext(ctx, string(js))
	if err != nil {
		return err
	}
	var sid int64
	var key string
	for rows.Next() {
		if err := rows.Scan(&sid, &key, &first, &last); err != nil {
			rows.Close()
			return err
		}
		l.keys[keyRef{sid, key}] = keyRange{first, last}
	}
	return errors.Join(rows.Err(), rows.Close())
}

// write stores what the plan decided: heads, events, time index and keys.
func (l *EventLog) write(ctx context.Context, tx *sql.Tx) error {
	var newStream *sql.Stmt
	js := append(l.js[:0], '[')
	n := 0
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
			continue
		}
		if n > 0 {
			js = append(js, ',')
		}
		n++
		js = appendInts(js, ps.ID, int64(ps.Last))
	}
	js = append(js, ']')
	l.js = js
	if n > 0 {
		if _, err := tx.StmtContext(ctx, l.setLast).ExecContext(ctx, string(js)); err != nil {
			return err
		}
	}
	if err := l.insertEvents(ctx, tx); err != nil {
		return err
	}

	// The time index: the first sequence of each (stream, second) the batch
	// stamped. INSERT OR IGNORE keeps an earlier batch's lower sequence.
	clear(l.secs)
	js = append(l.js[:0], '[')
	n = 0
	for _, ps := range l.plan.Streams {
		prev := int64(math.MinInt64)
		for i := range ps.Events {
			e := &ps.Events[i]
			sec := floorSec(e.Time.UnixMicro())
			if sec == prev {
				continue
			}
			prev = sec
			if _, ok := l.secs[[2]int64{ps.ID, sec}]; ok {
				continue
			}
			l.secs[[2]int64{ps.ID, sec}] = struct{}{}
			if n > 0 {
				js = append(js, ',')
			}
			n++
			js = appendInts(js, ps.ID, sec, int64(e.Seq))
		}
	}
	js = append(js, ']')
	l.js = js
	if n > 0 {
		if _, err := tx.StmtContext(ctx, l.newTimes).ExecContext(ctx, string(js)); err != nil {
			return err
		}
	}

	js = append(l.js[:0], '[')
	n = 0
	for _, ps := range l.plan.Streams {
		for _, k := range ps.Keys {
			if n > 0 {
				js = append(js, ',')
			}
			n++
			js = append(js, '[')
			js = strconv.AppendInt(js, ps.ID, 10)
			js = append(js, ',')
			js = appendJSONString(js, k.Key)
			js = append(js, ',')
			js = strconv.AppendUint(js, k.First, 10)
			js = append(js, ',')
			js = strconv.AppendUint(js, k.Last, 10)
			js = append(js, ']')
		}
	}
	js = append(js, ']')
	l.js = js
	if n > 0 {
		if _, err := tx.StmtContext(ctx, l.newKeys).ExecContext(ctx, string(js)); err != nil {
			return err
		}
	}
	return nil
}

// floorSec returns the second of a time in microseconds, rounded down.
func floorSec(micros int64) int64 {
	s := micros / 1e6
	if micros%1e6 < 0 {
		s--
	}
	return s
}

// appendInts appends the JSON array of vs.
func appendInts(js []byte, vs ...int64) []byte {
	js = append(js, '[')
	for i, v := range vs {
		if i > 0 {
			js = append(js, ',')
		}
		js = strconv.AppendInt(js, v, 10)
	}
	return append(js, ']')
}

// appendJSONString appends s as a JSON string. s is valid UTF-8 without NUL
// (eventlog.Validate checks it), so only quotes, backslashes and control
// characters need escaping.
func appendJSONString(js []byte, s string) []byte {
	const hex = "0123456789abcdef"
	js = append(js, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			js = append(js, '\\', c)
		case c < 0x20:
			js = append(js, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			js = append(js, c)
		}
	}
	return append(js, '"')
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

// txSource serves the plan the heads and keys readHeads read, and reads
// the events of recorded keys inside the append transaction.
type txSource struct {
	l         *EventLog
	tx        *sql.Tx
	keyEvents *sql.Stmt
}

func (s *txSource) Head(ctx context.Context, stream core.StreamID) (eventlog.StreamHead, error) {
	return s.l.heads[stream], nil
}

func (s *txSource) KeyEvents(ctx context.Context, stream core.StreamID, h eventlog.StreamHead, key string) ([]eventlog.Event, bool, error) {
	r, ok := s.l.keys[keyRef{h.ID, key}]
	if !ok {
		return nil, false, nil
	}
	if s.keyEvents == nil {
		s.keyEvents = s.tx.StmtContext(ctx, s.l.keyEvents)
	}
	rows, err := s.keyEvents.QueryContext(ctx, h.ID, r.first, r.last)
	if err != nil {
		return nil, false, err
	}
	evs, err := scanEvents(rows, stream, int(r.last-r.first+1))
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
	m := sinceMicros(since)
	rows, err := l.readSince.QueryContext(ctx, string(stream), floorSec(m), m, limit)
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
		err := tx.QueryRowContext(ctx, `SELECT id, first_seq, last_seq FROM streams WHERE name = ?`,
			string(stream)).Scan(&id, &first, &last)
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
		for _, q := range []string{
			`DELETE FROM events WHERE sid = ?1 AND seq < ?2`,
			`UPDATE streams SET first_seq = ?2 WHERE id = ?1`,
			`DELETE FROM event_keys WHERE sid = ?1 AND last_seq < ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, id, b); err != nil {
				return err
			}
		}
		// Seconds whose first sequence is gone may still hold later events:
		// the latest of them stays, starting at b, which bounds them all.
		var latest sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(sec) FROM event_times WHERE sid = ? AND first_seq < ?`,
			id, b).Scan(&latest); err != nil || !latest.Valid {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM event_times WHERE sid = ?1 AND first_seq < ?2 AND sec <> ?3`,
			id, b, latest.Int64); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE event_times SET first_seq = ?2 WHERE sid = ?1 AND sec = ?3`, id, b, latest.Int64)
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

var _ eventlog.Lister = (*EventLog)(nil)

// Streams implements eventlog.Lister with a range scan of the streams'
// unique name index.
func (l *EventLog) Streams(ctx context.Context, kind string, after core.StreamID, limit int) ([]eventlog.StreamInfo, error) {
	if limit <= 0 {
		limit = eventlog.DefaultReadLimit
	}
	lo, hi := eventlog.StreamRange(kind, after)
	rows, err := l.db.R.QueryContext(ctx, `SELECT name, last_seq FROM streams
		WHERE name > ? AND name < ? AND last_seq > 0 ORDER BY name LIMIT ?`, lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list streams: %w", err)
	}
	defer rows.Close()
	out := []eventlog.StreamInfo{}
	for rows.Next() {
		var name string
		var last int64
		if err := rows.Scan(&name, &last); err != nil {
			return nil, fmt.Errorf("sqlite: list streams: %w", err)
		}
		out = append(out, eventlog.StreamInfo{Stream: core.StreamID(name), Last: uint64(last)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list streams: %w", err)
	}
	return out, nil
}
