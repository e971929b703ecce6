// Package meta keeps Haven's metadata in SQL: users and organisations,
// memberships, access tokens, repositories and their redirects, likes,
// download counts and a durable work queue.
//
// One schema serves SQLite (the embedded default, in WAL mode) and
// PostgreSQL (for several server replicas); queries are written once and
// the few differences between the two live in dialect.go.
package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/havenhub/haven"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Store is the metadata store. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	d  *dialect
}

// Open opens the store and applies pending migrations. A dsn starting with
// "postgres://" or "postgresql://" names a PostgreSQL database; anything
// else is a SQLite file path (":memory:" gives a private in-memory database).
func Open(ctx context.Context, dsn string) (*Store, error) {
	d, driverDSN := dialectFor(dsn)
	db, err := sql.Open(d.driver, driverDSN)
	if err != nil {
		return nil, fmt.Errorf("meta: open %s: %w", d.name, err)
	}
	if d == sqliteDialect {
		if sqliteInMemory(dsn) {
			// Every connection to an in-memory database has one of its own.
			db.SetMaxOpenConns(1)
		} else {
			// Writers queue on SQLite's lock; a few connections are enough
			// for readers, which WAL lets run beside the writer.
			db.SetMaxOpenConns(8)
		}
		db.SetMaxIdleConns(8)
		db.SetConnMaxIdleTime(0)
	}
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.fillTagBits(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.Optimize(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Optimize refreshes the statistics the query planner chooses indexes by,
// where they are missing or stale. It runs on Open; a long-running server
// should also run it daily. PostgreSQL keeps its own statistics current.
func (s *Store) Optimize(ctx context.Context) error {
	if s.d != sqliteDialect {
		return nil
	}
	// 0x10002 analyses every table whose size changed a lot since its last
	// analysis; analysis_limit keeps that to milliseconds on big tables.
	_, err := s.db.ExecContext(ctx, "PRAGMA analysis_limit = 1000; PRAGMA optimize = 0x10002")
	return err
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn runs queries written with '?' placeholders on a database or a
// transaction.
type conn struct {
	q querier
	d *dialect
}

func (c conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return c.q.ExecContext(ctx, c.d.rebind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return c.q.QueryContext(ctx, c.d.rebind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return c.q.QueryRowContext(ctx, c.d.rebind(query), args...)
}

// execOne runs a statement that must change exactly one row; when it
// changes none, notFound is returned.
func (c conn) execOne(ctx context.Context, notFound error, query string, args ...any) error {
	res, err := c.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// conn returns the store's database as a conn.
func (s *Store) conn() conn { return conn{q: s.db, d: s.d} }

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(c conn) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	c := conn{q: tx, d: s.d}
	if err := fn(c); err != nil {
		tx.Rollback()
		return err
	}
	// The audit entries the context carries are written with the change
	// they record.
	entries, done := haven.PendingAudit(ctx)
	for _, e := range entries {
		if err := insertAuditEntry(ctx, c, e); err != nil {
			tx.Rollback()
			return err
		}
	}
	err = tx.Commit()
	done(err == nil)
	return err
}

// now is the current time as stored: UTC, to the microsecond that
// PostgreSQL keeps.
func now() time.Time { return dbTime(time.Now()) }

// dbTime converts t into the form in which it is stored.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// orNow returns t in stored form, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return dbTime(t)
}

// noRows replaces sql.ErrNoRows with err.
func noRows(err, notFound error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	return err
}
