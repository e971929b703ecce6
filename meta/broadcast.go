package meta

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Shared reports whether several servers may share this database, so that
// what one of them caches can be changed by another: true for PostgreSQL.
// A SQLite database belongs to one server process.
func (s *Store) Shared() bool { return s.d == postgresDialect }

// maxMessage is the longest message Publish sends; PostgreSQL refuses
// payloads of 8000 bytes or more.
const maxMessage = 7900

// Publish sends message to every server listening on channel (Listen), this
// one included, once the statement commits: at once, since it runs on its
// own. Messages are hints for caches, not a durable log: a listener that is
// not connected misses them. On SQLite Publish does nothing, as there is no
// other server to tell.
func (s *Store) Publish(ctx context.Context, channel, message string) error {
	if !s.Shared() {
		return nil
	}
	if len(message) > maxMessage {
		return fmt.Errorf("meta: message of %d bytes on %s is too long", len(message), channel)
	}
	_, err := s.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", channel, message)
	return err
}

// Listen calls onMessage with each message published on channel until ctx
// ends, on a connection of its own that it opens again after a failure.
// onListening is called each time listening starts, first and after every
// reconnection: messages published before it may have been missed, so
// callers drop whatever they cached then. Listen returns when ctx ends, at
// once on SQLite. Both callbacks run on Listen's goroutine.
func (s *Store) Listen(ctx context.Context, channel string, onListening func(), onMessage func(string)) {
	if !s.Shared() {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		s.listenOnce(ctx, channel, onListening, onMessage)
		if time.Since(started) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// listenOnce listens on one connection until it fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, channel string, onListening func(), onMessage func(string)) error {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("meta: listening needs a pgx connection, got %T", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
			return errors.Join(err, driver.ErrBadConn)
		}
		onListening()
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				// The connection still listens (or broke): it must not go
				// back to the pool.
				return errors.Join(err, driver.ErrBadConn)
			}
			onMessage(n.Payload)
		}
	})
}
