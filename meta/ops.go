package meta

import (
	"context"
	"errors"
	"time"
)

// QueueStat counts the work queue's jobs of one kind in one state.
type QueueStat struct {
	Kind  string
	State string
	Count int64
	// Oldest is when the oldest of them was enqueued; it is set for the
	// states still waiting to finish (queued and leased) only.
	Oldest time.Time
}

// QueueStats counts the queue's jobs by kind and state, for monitoring.
// Finished jobs stay in the table, so the done and failed counts grow over
// the server's life.
func (s *Store) QueueStats(ctx context.Context) ([]QueueStat, error) {
	rows, err := s.conn().query(ctx, "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state")
	if err != nil {
		return nil, err
	}
	var out []QueueStat
	for rows.Next() {
		var q QueueStat
		if err := rows.Scan(&q.Kind, &q.State, &q.Count); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// One small query per pending kind and state: the column keeps its
	// type (an aggregate over it would not on SQLite) and the partial
	// index on waiting jobs serves it.
	for i := range out {
		q := &out[i]
		if q.State != JobQueued && q.State != JobLeased {
			continue
		}
		err := s.conn().queryRow(ctx, "SELECT created_at FROM jobs WHERE state = ? AND kind = ? ORDER BY created_at LIMIT 1",
			q.State, q.Kind).Scan(&q.Oldest)
		if err != nil {
			return nil, noRows(err, nil)
		}
		q.Oldest = q.Oldest.UTC()
	}
	return out, nil
}

// JobRunStages counts the Hub jobs (job_runs) in each stage.
func (s *Store) JobRunStages(ctx context.Context) (map[string]int64, error) {
	return s.countBy(ctx, "SELECT stage, COUNT(*) FROM job_runs GROUP BY stage")
}

// SpaceStages counts the Spaces in each runtime stage (space_state); those
// that never ran have no row or the stage "".
func (s *Store) SpaceStages(ctx context.Context) (map[string]int64, error) {
	return s.countBy(ctx, "SELECT stage, COUNT(*) FROM space_state GROUP BY stage")
}

func (s *Store) countBy(ctx context.Context, query string) (map[string]int64, error) {
	rows, err := s.conn().query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// ErrNotSQLite is returned by Snapshot on a PostgreSQL store.
var ErrNotSQLite = errors.New("meta: not a SQLite database")

// Snapshot writes a consistent copy of a SQLite database to the file dst,
// which must not exist, while other connections and processes go on
// reading and writing (VACUUM INTO reads inside one transaction).
func (s *Store) Snapshot(ctx context.Context, dst string) error {
	if s.d != sqliteDialect {
		return ErrNotSQLite
	}
	_, err := s.db.ExecContext(ctx, "VACUUM INTO ?", dst)
	return err
}
