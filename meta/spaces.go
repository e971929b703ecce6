package meta

import (
	"context"
	"database/sql"
	"time"

	"github.com/havenhub/haven"
)

// SpaceState is the recorded state of a Space's app.
type SpaceState struct {
	RepoID       int64
	Stage        string
	ErrorMessage string
	SHA          string // the revision last deployed or tried
	Hardware     string
	SleepSeconds *int64 // nil: the default; -1: never
	UpdatedAt    time.Time
}

// SpaceStateOf returns the recorded state of a Space, or a zero state (with
// RepoID set) when nothing was recorded yet.
func (s *Store) SpaceStateOf(ctx context.Context, repoID int64) (*SpaceState, error) {
	st := SpaceState{RepoID: repoID}
	var sleep sql.NullInt64
	err := s.conn().queryRow(ctx, `SELECT stage, error_message, sha, hardware, sleep_seconds, updated_at
		FROM space_state WHERE repo_id = ?`, repoID).Scan(&st.Stage, &st.ErrorMessage, &st.SHA, &st.Hardware, &sleep, &st.UpdatedAt)
	if err == sql.ErrNoRows {
		return &st, nil
	}
	if err != nil {
		return nil, err
	}
	if sleep.Valid {
		st.SleepSeconds = &sleep.Int64
	}
	st.UpdatedAt = st.UpdatedAt.UTC()
	return &st, nil
}

// PutSpaceState records the state of a Space's app.
func (s *Store) PutSpaceState(ctx context.Context, st *SpaceState) error {
	var sleep any
	if st.SleepSeconds != nil {
		sleep = *st.SleepSeconds
	}
	t := now()
	_, err := s.conn().exec(ctx, `INSERT INTO space_state (repo_id, stage, error_message, sha, hardware, sleep_seconds, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id) DO UPDATE SET stage = excluded.stage, error_message = excluded.error_message,
			sha = excluded.sha, hardware = excluded.hardware, sleep_seconds = excluded.sleep_seconds,
			updated_at = excluded.updated_at`,
		st.RepoID, st.Stage, st.ErrorMessage, st.SHA, st.Hardware, sleep, t)
	if isForeignKeyViolation(err) {
		return haven.Errorf(haven.ERepoNotFound, "Repository not found")
	}
	if err == nil {
		st.UpdatedAt = t
	}
	return err
}

// SpaceStates lists the recorded states of every Space.
func (s *Store) SpaceStates(ctx context.Context) ([]SpaceState, error) {
	rows, err := s.conn().query(ctx, `SELECT repo_id, stage, error_message, sha, hardware, sleep_seconds, updated_at
		FROM space_state ORDER BY repo_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SpaceState
	for rows.Next() {
		var st SpaceState
		var sleep sql.NullInt64
		if err := rows.Scan(&st.RepoID, &st.Stage, &st.ErrorMessage, &st.SHA, &st.Hardware, &sleep, &st.UpdatedAt); err != nil {
			return nil, err
		}
		if sleep.Valid {
			st.SleepSeconds = &sleep.Int64
		}
		st.UpdatedAt = st.UpdatedAt.UTC()
		out = append(out, st)
	}
	return out, rows.Err()
}

// SpaceEnvVar is a Space variable or secret. Secret values are stored as
// the caller gives them (encrypted).
type SpaceEnvVar struct {
	Key         string
	Value       string
	Description string
	UpdatedAt   time.Time
}

// PutSpaceEnv creates or replaces a variable (secret false) or a secret.
func (s *Store) PutSpaceEnv(ctx context.Context, repoID int64, secret bool, v SpaceEnvVar) error {
	_, err := s.conn().exec(ctx, `INSERT INTO space_env (repo_id, secret, key, value, description, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, secret, key) DO UPDATE SET value = excluded.value,
			description = excluded.description, updated_at = excluded.updated_at`,
		repoID, secret, v.Key, v.Value, v.Description, orNow(v.UpdatedAt))
	if isForeignKeyViolation(err) {
		return haven.Errorf(haven.ERepoNotFound, "Repository not found")
	}
	return err
}

// DeleteSpaceEnv removes a variable or secret; a missing key is no error,
// as on the Hub.
func (s *Store) DeleteSpaceEnv(ctx context.Context, repoID int64, secret bool, key string) error {
	_, err := s.conn().exec(ctx, "DELETE FROM space_env WHERE repo_id = ? AND secret = ? AND key = ?", repoID, secret, key)
	return err
}

// SpaceEnv lists a Space's variables (secret false) or secrets, by key.
func (s *Store) SpaceEnv(ctx context.Context, repoID int64, secret bool) ([]SpaceEnvVar, error) {
	rows, err := s.conn().query(ctx, `SELECT key, value, description, updated_at FROM space_env
		WHERE repo_id = ? AND secret = ? ORDER BY key`, repoID, secret)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SpaceEnvVar
	for rows.Next() {
		var v SpaceEnvVar
		if err := rows.Scan(&v.Key, &v.Value, &v.Description, &v.UpdatedAt); err != nil {
			return nil, err
		}
		v.UpdatedAt = v.UpdatedAt.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}
