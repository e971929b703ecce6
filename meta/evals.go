package meta

import (
	"context"
	"database/sql"
	"strings"

	"github.com/havenhub/haven"
)

// EvalResult is one metric a model card reports for a model on a dataset
// (one entry of its model-index, or of an .eval_results file). Every
// result is self-reported; Verified says the card carries the Hub's
// verification for it.
type EvalResult struct {
	ModelName     string   `json:"modelName,omitempty"`
	TaskType      string   `json:"taskType"`
	TaskName      string   `json:"taskName,omitempty"`
	DatasetID     string   `json:"datasetId"`
	DatasetName   string   `json:"datasetName,omitempty"`
	DatasetConfig string   `json:"datasetConfig,omitempty"`
	DatasetSplit  string   `json:"datasetSplit,omitempty"`
	MetricType    string   `json:"metricType"`
	MetricName    string   `json:"metricName,omitempty"`
	Value         *float64 `json:"value"`     // nil when the card's value is not a number
	ValueText     string   `json:"valueText"` // the value as the card writes it
	Verified      bool     `json:"verified"`
	SourceName    string   `json:"sourceName,omitempty"`
	SourceURL     string   `json:"sourceUrl,omitempty"`
}

const evalColumns = `e.model_name, e.task_type, e.task_name, e.dataset_id, e.dataset_name, e.dataset_config,
	e.dataset_split, e.metric_type, e.metric_name, e.value, e.value_text, e.verified, e.source_name, e.source_url`

func (e *EvalResult) dest() []any {
	return []any{&e.ModelName, &e.TaskType, &e.TaskName, &e.DatasetID, &e.DatasetName, &e.DatasetConfig,
		&e.DatasetSplit, &e.MetricType, &e.MetricName, &e.Value, &e.ValueText, &e.Verified, &e.SourceName, &e.SourceURL}
}

// SetCardIndex records what is derived from a repository's card beyond its
// tags: its documentation score (0-100) and its evaluation results, which
// replace the ones recorded before. Results without a dataset or metric are
// skipped.
func (s *Store) SetCardIndex(ctx context.Context, repoID int64, score int, results []EvalResult) error {
	score = min(max(score, 0), 100)
	return s.inTx(ctx, func(c conn) error {
		if err := c.execOne(ctx, errRepoIDNotFound(repoID), "UPDATE repos SET card_score = ? WHERE id = ?", score, repoID); err != nil {
			return err
		}
		if _, err := c.exec(ctx, "DELETE FROM eval_results WHERE repo_id = ?", repoID); err != nil {
			return err
		}
		for i, e := range results {
			if e.DatasetID == "" || e.MetricType == "" {
				continue
			}
			_, err := c.exec(ctx, `INSERT INTO eval_results (repo_id, position, model_name, task_type, task_name, dataset_id,
				dataset_name, dataset_config, dataset_split, metric_type, metric_name, value, value_text, verified,
				source_name, source_url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				repoID, i, e.ModelName, e.TaskType, e.TaskName, e.DatasetID, e.DatasetName, e.DatasetConfig,
				e.DatasetSplit, e.MetricType, e.MetricName, nullFloat(e.Value), e.ValueText, e.Verified, e.SourceName, e.SourceURL)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// CardScore returns the documentation score recorded for a repository.
func (s *Store) CardScore(ctx context.Context, repoID int64) (int, error) {
	var score int
	err := s.conn().queryRow(ctx, "SELECT card_score FROM repos WHERE id = ?", repoID).Scan(&score)
	return score, noRows(err, errRepoIDNotFound(repoID))
}

// EvalResults lists the evaluation results of a repository in card order.
func (s *Store) EvalResults(ctx context.Context, repoID int64) ([]EvalResult, error) {
	rows, err := s.conn().query(ctx, "SELECT "+evalColumns+" FROM eval_results e WHERE e.repo_id = ? ORDER BY e.position", repoID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EvalResult
	for rows.Next() {
		var e EvalResult
		if err := rows.Scan(e.dest()...); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// visibility is the condition that keeps private repositories of others
// out, for the repos row r.
func visibility(visibleTo []string, seeAll bool) (string, []any) {
	if seeAll {
		return "", nil
	}
	if len(visibleTo) == 0 {
		return " AND r.private = FALSE", nil
	}
	args := make([]any, len(visibleTo))
	for i, ns := range visibleTo {
		args[i] = strings.ToLower(ns)
	}
	return " AND (r.private = FALSE OR r.ns_key IN (" + placeholders(len(visibleTo)) + "))", args
}

// Board is one leaderboard: a dataset and a metric that models report
// results for.
type Board struct {
	DatasetID   string `json:"dataset"`
	DatasetName string `json:"datasetName,omitempty"`
	MetricType  string `json:"metric"`
	MetricName  string `json:"metricName,omitempty"`
	TaskType    string `json:"task,omitempty"` // the task most of its results name
	Models      int    `json:"models"`
}

// BoardFilter selects leaderboards for Boards.
type BoardFilter struct {
	TaskType  string // "": every task
	DatasetID string // "": every dataset
	VisibleTo []string
	SeeAll    bool
	Limit     int // 0: no limit
}

// Boards lists the (dataset, metric) pairs that visible models report
// numeric results for, the most reported first.
func (s *Store) Boards(ctx context.Context, f BoardFilter) ([]Board, error) {
	q := `SELECT e.dataset_id, e.metric_type, MAX(e.dataset_name), MAX(e.metric_name), MAX(e.task_type), COUNT(DISTINCT e.repo_id)
		FROM eval_results e JOIN repos r ON r.id = e.repo_id WHERE e.value IS NOT NULL AND r.type = 'model'`
	var args []any
	if f.TaskType != "" {
		q, args = q+" AND e.task_type = ?", append(args, f.TaskType)
	}
	if f.DatasetID != "" {
		q, args = q+" AND e.dataset_id = ?", append(args, f.DatasetID)
	}
	cond, vargs := visibility(f.VisibleTo, f.SeeAll)
	q, args = q+cond, append(args, vargs...)
	q += " GROUP BY e.dataset_id, e.metric_type ORDER BY COUNT(DISTINCT e.repo_id) DESC, e.dataset_id, e.metric_type"
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Board
	for rows.Next() {
		var b Board
		if err := rows.Scan(&b.DatasetID, &b.MetricType, &b.DatasetName, &b.MetricName, &b.TaskType, &b.Models); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// LeaderboardFilter selects and orders the results of one leaderboard.
type LeaderboardFilter struct {
	DatasetID  string // required
	MetricType string // required
	TaskType   string // "": any task
	License    string // "": any; else the repository has the tag "license:<License>"
	Library    string // "": any library
	// LowerIsBetter ranks the smallest values first (losses, error rates).
	LowerIsBetter bool
	VisibleTo     []string
	SeeAll        bool
	Offset        int
	Limit         int // 0: 100
}

// LeaderboardEntry is a model's best result on a leaderboard.
type LeaderboardEntry struct {
	Repo   *haven.Repo
	Result EvalResult
}

// Leaderboard ranks the models that report a numeric result for f's
// dataset and metric, each once with its best result. It walks the results
// in value order and stops once it has a page.
func (s *Store) Leaderboard(ctx context.Context, f LeaderboardFilter) ([]LeaderboardEntry, error) {
	if f.DatasetID == "" || f.MetricType == "" {
		return nil, haven.Errorf(haven.EInvalid, "A leaderboard needs a dataset and a metric")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	offset := max(f.Offset, 0)
	q := "SELECT " + repoColumns + ", " + evalColumns + ` FROM eval_results e JOIN repos r ON r.id = e.repo_id
		WHERE e.dataset_id = ? AND e.metric_type = ? AND e.value IS NOT NULL AND r.type = 'model'`
	args := []any{f.DatasetID, f.MetricType}
	if f.TaskType != "" {
		q, args = q+" AND e.task_type = ?", append(args, f.TaskType)
	}
	if f.Library != "" {
		q, args = q+" AND r.library_name = ?", append(args, f.Library)
	}
	if f.License != "" {
		q, args = q+" AND EXISTS (SELECT 1 FROM repo_tags x WHERE x.repo_id = r.id AND x.tag = ?)", append(args, "license:"+f.License)
	}
	cond, vargs := visibility(f.VisibleTo, f.SeeAll)
	q, args = q+cond, append(args, vargs...)
	if f.LowerIsBetter {
		q += " ORDER BY e.value, e.repo_id, e.id"
	} else {
		q += " ORDER BY e.value DESC, e.repo_id DESC, e.id"
	}
	q += " LIMIT ? OFFSET ?"
	// A model may report several results on one board (splits, configs):
	// read the rows in chunks until a page of distinct models is found.
	var (
		out   []LeaderboardEntry
		seen  = map[int64]bool{}
		chunk = 2*(offset+limit) + 16
		skip  = offset
	)
	for raw := 0; ; raw += chunk {
		n, err := s.leaderboardChunk(ctx, q, append(args, chunk, raw), func(en LeaderboardEntry) bool {
			if seen[en.Repo.ID] {
				return true
			}
			seen[en.Repo.ID] = true
			if skip > 0 {
				skip--
				return true
			}
			out = append(out, en)
			return len(out) < limit
		})
		if err != nil || n < chunk || len(out) >= limit {
			return out, err
		}
	}
}

// leaderboardChunk reads rows of a leaderboard query while add returns
// true; it returns how many rows it read.
func (s *Store) leaderboardChunk(ctx context.Context, q string, args []any, add func(LeaderboardEntry) bool) (int, error) {
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var en LeaderboardEntry
		en.Repo, err = scanRepo(rows, en.Result.dest()...)
		if err != nil {
			return n, err
		}
		if !add(en) {
			return -1, nil
		}
	}
	return n, rows.Err()
}

// nullFloat turns an optional number into a value a driver stores.
func nullFloat(v *float64) sql.NullFloat64 {
	if v == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *v, Valid: true}
}
