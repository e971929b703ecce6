package evals

import (
	"context"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// Query selects a leaderboard. Without a dataset it selects the list of
// leaderboards (of a task, when Task is set); without a metric, the
// dataset's most reported one.
type Query struct {
	Dataset string
	Metric  string
	Task    string
	License string
	Library string
	// Size keeps models of a parameter count: "<1B", "1-7B", "7B-70B",
	// ">70B", "100M-1B" (see ParseSize).
	Size string
	// Cursor continues after the page that returned it (Leaderboard.Next);
	// it replaces Offset.
	Cursor string
	Offset int
	Limit  int // 0: 100; at most 1000
}

// Leaderboard ranks models by the results their cards report for one
// dataset and metric. Every result is self-reported; Verified marks the
// ones the card says were verified.
type Leaderboard struct {
	Dataset       string       `json:"dataset"`
	DatasetName   string       `json:"datasetName,omitempty"`
	Metric        string       `json:"metric"`
	MetricName    string       `json:"metricName,omitempty"`
	Task          string       `json:"task,omitempty"`
	LowerIsBetter bool         `json:"lowerIsBetter"`
	SelfReported  bool         `json:"selfReported"`
	Entries       []Entry      `json:"entries"`
	Metrics       []meta.Board `json:"metrics"` // the dataset's leaderboards, one per metric
	// Next is the cursor of the next page; "" on the last one.
	Next string `json:"next,omitempty"`
}

// Entry is a model's place on a leaderboard.
type Entry struct {
	Rank          int     `json:"rank"`
	Model         string  `json:"model"`
	Value         float64 `json:"value"`
	ValueText     string  `json:"valueText"`
	MetricName    string  `json:"metricName,omitempty"`
	Task          string  `json:"task,omitempty"`
	DatasetConfig string  `json:"datasetConfig,omitempty"`
	DatasetSplit  string  `json:"datasetSplit,omitempty"`
	SelfReported  bool    `json:"selfReported"`
	Verified      bool    `json:"verified"`
	SourceName    string  `json:"sourceName,omitempty"`
	SourceURL     string  `json:"sourceUrl,omitempty"`
	License       string  `json:"license,omitempty"`
	Library       string  `json:"library,omitempty"`
	Private       bool    `json:"private"`
	Likes         int64   `json:"likes"`
	Downloads     int64   `json:"downloads"`
	// Parameters is the model's parameter count as its safetensors
	// headers give it; 0 when unknown.
	Parameters int64 `json:"parameters,omitempty"`
}

// Boards lists the leaderboards with results of models the actor may see,
// of one task when task is set.
func (s *Service) Boards(ctx context.Context, a *auth.Actor, task string) ([]meta.Board, error) {
	return s.meta.Boards(ctx, meta.BoardFilter{TaskType: task, VisibleTo: a.Namespaces(), SeeAll: seeAll(a)})
}

// Leaderboard ranks the models the actor may see on one leaderboard.
func (s *Service) Leaderboard(ctx context.Context, a *auth.Actor, q Query) (*Leaderboard, error) {
	if q.Dataset == "" {
		return nil, haven.Errorf(haven.EInvalid, "A leaderboard needs a dataset")
	}
	boards, err := s.meta.Boards(ctx, meta.BoardFilter{DatasetID: q.Dataset, TaskType: q.Task, VisibleTo: a.Namespaces(), SeeAll: seeAll(a)})
	if err != nil {
		return nil, err
	}
	lb := &Leaderboard{Dataset: q.Dataset, Metric: q.Metric, Task: q.Task, SelfReported: true, Entries: []Entry{}, Metrics: boards}
	if lb.Metrics == nil {
		lb.Metrics = []meta.Board{}
	}
	if lb.Metric == "" && len(boards) > 0 {
		lb.Metric = boards[0].MetricType
	}
	for _, b := range boards {
		if b.MetricType == lb.Metric {
			lb.DatasetName, lb.MetricName = b.DatasetName, b.MetricName
		}
	}
	if lb.Metric == "" {
		return lb, nil
	}
	lb.LowerIsBetter = LowerIsBetter(lb.Metric, lb.MetricName)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	f := meta.LeaderboardFilter{
		DatasetID: q.Dataset, MetricType: lb.Metric, TaskType: q.Task, License: q.License, Library: q.Library,
		LowerIsBetter: lb.LowerIsBetter, VisibleTo: a.Namespaces(), SeeAll: seeAll(a),
		Offset: q.Offset, Limit: limit + 1,
	}
	if q.Size != "" {
		var ok bool
		if f.MinParams, f.MaxParams, ok = ParseSize(q.Size); !ok {
			return nil, haven.Errorf(haven.EInvalid, "Invalid size %q: use <1B, 1-7B, 7B-70B or >70B", q.Size)
		}
	}
	if q.Cursor != "" {
		if f.After, err = meta.ParseLeaderboardCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	rows, err := s.meta.Leaderboard(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(rows) > limit {
		rows = rows[:limit]
		lb.Next = rows[limit-1].Cursor.String()
	}
	for _, row := range rows {
		r, e := row.Repo, row.Result
		lb.Entries = append(lb.Entries, Entry{
			Rank: row.Cursor.Rank, Model: r.FullName(), Value: *e.Value, ValueText: e.ValueText,
			MetricName: e.MetricName, Task: e.TaskType, DatasetConfig: e.DatasetConfig, DatasetSplit: e.DatasetSplit,
			SelfReported: true, Verified: e.Verified, SourceName: e.SourceName, SourceURL: e.SourceURL,
			License: repoLicense(r), Library: r.LibraryName, Private: r.Private, Likes: r.Likes, Downloads: r.Downloads,
			Parameters: row.Params,
		})
	}
	return lb, nil
}

// Sizes are the parameter-count ranges the leaderboard page offers.
var Sizes = []string{"<1B", "1-3B", "3-7B", "7-14B", "14-35B", "35-70B", ">70B"}

// ParseSize reads a parameter-count range: "<N", ">N" or "N-M", where N
// and M are numbers with an optional K, M, B or T suffix (M's suffix
// applies to N when N has none: "1-7B" is 1B to 7B). It returns the
// lower bound (inclusive) and the upper one (exclusive), 0 for none.
func ParseSize(s string) (lower, upper int64, ok bool) {
	s = strings.ToUpper(strings.TrimSpace(strings.ReplaceAll(s, " ", "")))
	switch {
	case strings.HasPrefix(s, "<"):
		upper, ok = parseCount(s[1:], "")
		return 0, upper, ok && upper > 0
	case strings.HasPrefix(s, ">"):
		lower, ok = parseCount(s[1:], "")
		return lower, 0, ok
	}
	lo, hi, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	upper, ok = parseCount(hi, "")
	if !ok {
		return 0, 0, false
	}
	lower, ok = parseCount(lo, hi[len(strings.TrimRight(hi, "KMBT")):])
	return lower, upper, ok && lower < upper
}

// parseCount reads "7", "7B", "1.5B" or "300M"; unit is the suffix to use
// when s has none.
func parseCount(s, unit string) (int64, bool) {
	num := strings.TrimRight(s, "KMBT")
	if u := s[len(num):]; u != "" {
		unit = u
	}
	mult := map[string]float64{"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 || v*mult > 1e18 {
		return 0, false
	}
	return int64(v * mult), true
}

func seeAll(a *auth.Actor) bool { return !a.Anonymous() && a.User.IsAdmin }

// repoLicense is the first license a repository's tags name.
func repoLicense(r *haven.Repo) string {
	for _, t := range r.Tags {
		if v, ok := strings.CutPrefix(t, "license:"); ok {
			return v
		}
	}
	return ""
}
