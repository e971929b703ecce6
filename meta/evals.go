package meta

import (
	"context"
	"database/sql"
	"encoding/base64"
	"math"
	"slices"
	"sort"
	"strconv"
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
// skipped. The model leaves the leaderboards it had results on and joins
// those it has now.
func (s *Store) SetCardIndex(ctx context.Context, repoID int64, score int, results []EvalResult) error {
	score = min(max(score, 0), 100)
	return s.inTx(ctx, func(c conn) error {
		if err := c.execOne(ctx, errRepoIDNotFound(repoID), "UPDATE repos SET card_score = ? WHERE id = ?", score, repoID); err != nil {
			return err
		}
		if err := countBoards(ctx, c, repoID, -1); err != nil {
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
		return countBoards(ctx, c, repoID, +1)
	})
}

// The rows of eval_boards count the models on each leaderboard. They are
// kept by difference: a model's boards are counted out before its results
// or visibility change and in again after, so that a push costs a few
// statements per board it is on, whatever the size of the board. A board's
// names are those the latest card to join it gave (the migration that
// created the table took the greatest).

// countBoards adds delta (+1 or -1) to the counts of the leaderboards
// model id has results on, over every task and per task; boards left
// without a model are removed. Other repositories count on none.
func countBoards(ctx context.Context, c conn, id int64, delta int) error {
	var (
		private bool
		t       haven.RepoType
	)
	if err := c.queryRow(ctx, "SELECT private, type FROM repos WHERE id = ?", id).Scan(&private, &t); err != nil {
		return noRows(err, errRepoIDNotFound(id))
	}
	if t != haven.Model {
		return nil
	}
	rows, err := c.query(ctx, `SELECT '', dataset_id, metric_type, MAX(dataset_name), MAX(metric_name), MAX(task_type)
		FROM eval_results WHERE repo_id = ? AND value IS NOT NULL GROUP BY dataset_id, metric_type
		UNION ALL SELECT task_type, dataset_id, metric_type, MAX(dataset_name), MAX(metric_name), task_type
		FROM eval_results WHERE repo_id = ? AND value IS NOT NULL AND task_type <> '' GROUP BY task_type, dataset_id, metric_type`, id, id)
	if err != nil {
		return err
	}
	var boards [][6]string
	for rows.Next() {
		var b [6]string
		if err := rows.Scan(&b[0], &b[1], &b[2], &b[3], &b[4], &b[5]); err != nil {
			rows.Close()
			return err
		}
		boards = append(boards, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// One order for every transaction, so that two lock rows alike.
	slices.SortFunc(boards, func(a, b [6]string) int {
		return strings.Compare(a[0]+"\x00"+a[1]+"\x00"+a[2], b[0]+"\x00"+b[1]+"\x00"+b[2])
	})
	pub := 0
	if !private {
		pub = delta
	}
	for _, b := range boards {
		if delta < 0 {
			if _, err := c.exec(ctx, `UPDATE eval_boards SET public_models = public_models - ?, all_models = all_models - 1
				WHERE task_filter = ? AND dataset_id = ? AND metric_type = ?`, -pub, b[0], b[1], b[2]); err != nil {
				return err
			}
			continue
		}
		pubNames := [3]string{}
		if pub > 0 {
			pubNames = [3]string{b[3], b[4], b[5]}
		}
		_, err := c.exec(ctx, `INSERT INTO eval_boards (task_filter, dataset_id, metric_type, public_models, dataset_name,
			metric_name, task_type, all_models, all_dataset_name, all_metric_name, all_task_type) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
			ON CONFLICT (task_filter, dataset_id, metric_type) DO UPDATE SET
			public_models = eval_boards.public_models + excluded.public_models, all_models = eval_boards.all_models + 1,
			dataset_name = CASE WHEN excluded.dataset_name <> '' THEN excluded.dataset_name ELSE eval_boards.dataset_name END,
			metric_name = CASE WHEN excluded.metric_name <> '' THEN excluded.metric_name ELSE eval_boards.metric_name END,
			task_type = CASE WHEN excluded.task_type <> '' THEN excluded.task_type ELSE eval_boards.task_type END,
			all_dataset_name = CASE WHEN excluded.all_dataset_name <> '' THEN excluded.all_dataset_name ELSE eval_boards.all_dataset_name END,
			all_metric_name = CASE WHEN excluded.all_metric_name <> '' THEN excluded.all_metric_name ELSE eval_boards.all_metric_name END,
			all_task_type = CASE WHEN excluded.all_task_type <> '' THEN excluded.all_task_type ELSE eval_boards.all_task_type END`,
			b[0], b[1], b[2], pub, pubNames[0], pubNames[1], pubNames[2], b[3], b[4], b[5])
		if err != nil {
			return err
		}
	}
	if delta < 0 && len(boards) > 0 {
		_, err := c.exec(ctx, "DELETE FROM eval_boards WHERE all_models <= 0")
		return err
	}
	return nil
}

// recountRepoBoards runs fn, which changes the visibility of repository id
// or deletes it, between counting the model out of its leaderboards (as it
// was) and in again (as it is, if it still is).
func recountRepoBoards(ctx context.Context, c conn, id int64, fn func() error) error {
	var one int
	if err := c.queryRow(ctx, "SELECT 1 FROM repos WHERE id = ?"+c.d.lockRow, id).Scan(&one); err != nil {
		return noRows(err, errRepoIDNotFound(id))
	}
	if err := countBoards(ctx, c, id, -1); err != nil {
		return err
	}
	if err := fn(); err != nil {
		return err
	}
	err := countBoards(ctx, c, id, +1)
	if haven.ErrorCode(err) == haven.ERepoNotFound {
		return nil // deleted
	}
	return err
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
// numeric results for, the most reported first. The counts of public
// models (of every model, for SeeAll) come from eval_boards; the models
// of the caller's private namespaces are counted at read time.
func (s *Store) Boards(ctx context.Context, f BoardFilter) ([]Board, error) {
	cols := "dataset_id, metric_type, public_models, dataset_name, metric_name, task_type"
	if f.SeeAll {
		cols = "dataset_id, metric_type, all_models, all_dataset_name, all_metric_name, all_task_type"
	}
	q := "SELECT " + cols + " FROM eval_boards WHERE task_filter = ?"
	args := []any{f.TaskType}
	if f.DatasetID != "" {
		q, args = q+" AND dataset_id = ?", append(args, f.DatasetID)
	}
	boards, err := s.scanBoards(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	if !f.SeeAll && len(f.VisibleTo) > 0 {
		// The caller's own private models: a few namespaces' worth.
		q := `SELECT e.dataset_id, e.metric_type, COUNT(DISTINCT e.repo_id), MAX(e.dataset_name), MAX(e.metric_name), MAX(e.task_type)
			FROM repos r JOIN eval_results e ON e.repo_id = r.id
			WHERE r.type = 'model' AND r.private = TRUE AND r.ns_key IN (` + placeholders(len(f.VisibleTo)) + `) AND e.value IS NOT NULL`
		var args []any
		for _, ns := range f.VisibleTo {
			args = append(args, strings.ToLower(ns))
		}
		if f.TaskType != "" {
			q, args = q+" AND e.task_type = ?", append(args, f.TaskType)
		}
		if f.DatasetID != "" {
			q, args = q+" AND e.dataset_id = ?", append(args, f.DatasetID)
		}
		mine, err := s.scanBoards(ctx, q+" GROUP BY e.dataset_id, e.metric_type", args...)
		if err != nil {
			return nil, err
		}
		at := map[[2]string]int{}
		for i, b := range boards {
			at[[2]string{b.DatasetID, b.MetricType}] = i
		}
		for _, m := range mine {
			i, ok := at[[2]string{m.DatasetID, m.MetricType}]
			if !ok {
				boards = append(boards, m)
				continue
			}
			if boards[i].Models == 0 {
				boards[i] = m
			} else {
				boards[i].Models += m.Models
			}
		}
	}
	out := boards[:0]
	for _, b := range boards {
		if b.Models > 0 {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Models != out[j].Models {
			return out[i].Models > out[j].Models
		}
		if out[i].DatasetID != out[j].DatasetID {
			return out[i].DatasetID < out[j].DatasetID
		}
		return out[i].MetricType < out[j].MetricType
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func (s *Store) scanBoards(ctx context.Context, q string, args ...any) ([]Board, error) {
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Board
	for rows.Next() {
		var b Board
		if err := rows.Scan(&b.DatasetID, &b.MetricType, &b.Models, &b.DatasetName, &b.MetricName, &b.TaskType); err != nil {
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
	// MinParams and MaxParams keep the models whose parameter count is
	// known and at least MinParams, below MaxParams (0: no bound).
	MinParams, MaxParams int64
	// LowerIsBetter ranks the smallest values first (losses, error rates).
	LowerIsBetter bool
	VisibleTo     []string
	SeeAll        bool
	// After continues the ranking after the last entry of a page; it
	// replaces Offset.
	After  *LeaderboardCursor
	Offset int
	Limit  int // 0: 100
}

// LeaderboardCursor is where a page of a leaderboard ended: the value and
// model of its last entry and how many entries came before it and it.
type LeaderboardCursor struct {
	Value  float64
	RepoID int64
	Rank   int
}

// String encodes the cursor for a URL.
func (c LeaderboardCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatFloat(c.Value, 'g', -1, 64) + "," +
		strconv.FormatInt(c.RepoID, 10) + "," + strconv.Itoa(c.Rank)))
}

// ParseLeaderboardCursor decodes what LeaderboardCursor.String wrote.
func ParseLeaderboardCursor(s string) (*LeaderboardCursor, error) {
	bad := haven.Errorf(haven.EInvalid, "Invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ",")
	if len(parts) != 3 {
		return nil, bad
	}
	var c LeaderboardCursor
	v, err1 := strconv.ParseFloat(parts[0], 64)
	id, err2 := strconv.ParseInt(parts[1], 10, 64)
	rank, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || rank < 0 || math.IsNaN(v) {
		return nil, bad
	}
	c.Value, c.RepoID, c.Rank = v, id, rank
	return &c, nil
}

// LeaderboardEntry is a model's best result on a leaderboard.
type LeaderboardEntry struct {
	Repo   *haven.Repo
	Result EvalResult
	// Params is the model's parameter count, 0 when unknown.
	Params int64
	// Cursor continues the ranking after this entry.
	Cursor LeaderboardCursor
}

// Leaderboard ranks the models that report a numeric result for f's
// dataset and metric, each once with its best result: only a result no
// other of its model's on the board beats (ties go to the first recorded)
// is read, so the index walk in value order is the ranking, and a page
// after a cursor starts with an index seek.
func (s *Store) Leaderboard(ctx context.Context, f LeaderboardFilter) ([]LeaderboardEntry, error) {
	if f.DatasetID == "" || f.MetricType == "" {
		return nil, haven.Errorf(haven.EInvalid, "A leaderboard needs a dataset and a metric")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	offset, rank := max(f.Offset, 0), max(f.Offset, 0)
	better, order, after := ">", " ORDER BY e.value DESC, e.repo_id DESC", " AND (e.value, e.repo_id) < (?, ?)"
	if f.LowerIsBetter {
		better, order, after = "<", " ORDER BY e.value, e.repo_id", " AND (e.value, e.repo_id) > (?, ?)"
	}
	q := "SELECT " + repoColumns + ", " + evalColumns + `, COALESCE(p.total, 0) FROM eval_results e JOIN repos r ON r.id = e.repo_id
		LEFT JOIN repo_params p ON p.repo_id = r.id
		WHERE e.dataset_id = ? AND e.metric_type = ? AND e.value IS NOT NULL AND r.type = 'model'`
	args := []any{f.DatasetID, f.MetricType}
	// b.repo_id = r.id rather than e.repo_id: the check waits for the
	// repository's own terms (visibility, library), which are cheaper.
	best := `SELECT 1 FROM eval_results b WHERE b.repo_id = r.id AND b.dataset_id = e.dataset_id
		AND b.metric_type = e.metric_type AND (b.value ` + better + ` e.value OR (b.value = e.value AND b.id < e.id))`
	var bestArgs []any
	if f.TaskType != "" {
		q, args = q+" AND e.task_type = ?", append(args, f.TaskType)
		best, bestArgs = best+" AND b.task_type = ?", append(bestArgs, f.TaskType)
	}
	q, args = q+" AND NOT EXISTS ("+best+")", append(args, bestArgs...)
	if f.Library != "" {
		q, args = q+" AND r.library_name = ?", append(args, f.Library)
	}
	if f.License != "" {
		q, args = q+" AND EXISTS (SELECT 1 FROM repo_tags x WHERE x.repo_id = r.id AND x.tag = ?)", append(args, "license:"+f.License)
	}
	if f.MinParams > 0 {
		q, args = q+" AND p.total >= ?", append(args, f.MinParams)
	}
	if f.MaxParams > 0 {
		q, args = q+" AND p.total < ?", append(args, f.MaxParams)
	}
	cond, vargs := visibility(f.VisibleTo, f.SeeAll)
	q, args = q+cond, append(args, vargs...)
	if f.After != nil {
		q, args = q+after, append(args, f.After.Value, f.After.RepoID)
		offset, rank = 0, f.After.Rank
	}
	q, args = q+order+" LIMIT ? OFFSET ?", append(args, limit, offset)
	rows, err := s.conn().query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LeaderboardEntry
	for rows.Next() {
		var en LeaderboardEntry
		en.Repo, err = scanRepo(rows, append(en.Result.dest(), &en.Params)...)
		if err != nil {
			return nil, err
		}
		rank++
		en.Cursor = LeaderboardCursor{Value: *en.Result.Value, RepoID: en.Repo.ID, Rank: rank}
		out = append(out, en)
	}
	return out, rows.Err()
}

// nullFloat turns an optional number into a value a driver stores.
func nullFloat(v *float64) sql.NullFloat64 {
	if v == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *v, Valid: true}
}
