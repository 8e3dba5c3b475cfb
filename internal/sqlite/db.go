// Package sqlite is Parley's SQLite adapter (modernc.org/sqlite, pure Go). It
// implements the stores the domain packages declare: the event log, accounts
// and tokens, and the read models. The event log lives in its own database
// file so that its group commits never wait for the other tables' writers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parleyhq/parley/internal/errs"
)

//go:embed migrations
var migrations embed.FS

// Database files in the data directory and the migration set each one gets.
const (
	EventLogFile = "eventlog.db" // migrations/eventlog
	AppFile      = "parley.db"   // migrations/app
)

// DB is one SQLite database file with a single writer connection (SQLite
// allows one writer at a time; one connection avoids busy waits between our
// own writers) and a pool of reader connections (WAL mode lets them read
// while the writer writes).
type DB struct {
	W    *sql.DB
	R    *sql.DB
	Path string
}

// Open opens (creating if needed) the database at path and applies the
// migrations of set ("eventlog" or "app") that it has not applied yet.
func Open(ctx context.Context, path, set string) (*DB, error) {
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "cache_size(-32000)")
		return "file:" + path + "?" + q.Encode() + extra
	}
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	r.SetConnMaxIdleTime(0)
	db := &DB{W: w, R: r, Path: path}
	if err := db.migrate(ctx, set); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.R.Close(), db.W.Close())
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.R.PingContext(ctx)
}

// Tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it if fn
// returns nil.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Migrations returns the names of the migrations of set, in order.
func Migrations(set string) ([]string, error) {
	entries, err := fs.ReadDir(migrations, path.Join("migrations", set))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migration set %q: %w", set, err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

func (db *DB) migrate(ctx context.Context, set string) error {
	if _, err := db.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	names, err := Migrations(set)
	if err != nil {
		return err
	}
	for _, name := range names {
		id := set + "/" + name
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, id).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(path.Join("migrations", set, name))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations(name) VALUES (?)`, id)
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", id, err)
		}
	}
	return nil
}

// code returns the extended SQLite result code of err, or 0.
func code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// IsUnique reports whether err is a UNIQUE or PRIMARY KEY constraint
// violation.
func IsUnique(err error) bool {
	c := code(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// IsBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED.
func IsBusy(err error) bool {
	c := code(err) & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// notFound maps sql.ErrNoRows to an errs.NotFound error with msg.
func notFound(err error, msg string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.E(errs.NotFound, "%s", msg)
	}
	return err
}
