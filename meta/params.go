package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

// SetRepoParams records the parameter count of a model per data type
// ("F32", "BF16"…), as its safetensors headers give it; an empty map
// forgets it (migration 0026).
func (s *Store) SetRepoParams(ctx context.Context, repoID int64, params map[string]int64) error {
	var total int64
	for _, n := range params {
		total += n
	}
	if total <= 0 {
		_, err := s.conn().exec(ctx, "DELETE FROM repo_params WHERE repo_id = ?", repoID)
		return err
	}
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	_, err = s.conn().exec(ctx, `INSERT INTO repo_params (repo_id, total, parameters) VALUES (?, ?, ?)
		ON CONFLICT (repo_id) DO UPDATE SET total = excluded.total, parameters = excluded.parameters`, repoID, total, string(b))
	if isForeignKeyViolation(err) {
		return errRepoIDNotFound(repoID)
	}
	return err
}

// RepoParams returns the parameter counts recorded for a repository per
// data type and their total; nil and 0 when none are known.
func (s *Store) RepoParams(ctx context.Context, repoID int64) (map[string]int64, int64, error) {
	var (
		total int64
		raw   string
	)
	err := s.conn().queryRow(ctx, "SELECT total, parameters FROM repo_params WHERE repo_id = ?", repoID).Scan(&total, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var params map[string]int64
	if err := json.Unmarshal([]byte(raw), &params); err != nil {
		return nil, 0, err
	}
	return params, total, nil
}
