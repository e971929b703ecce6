package evals

import (
	"context"
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
	Offset  int
	Limit   int // 0: 100; at most 1000
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
	rows, err := s.meta.Leaderboard(ctx, meta.LeaderboardFilter{
		DatasetID: q.Dataset, MetricType: lb.Metric, TaskType: q.Task, License: q.License, Library: q.Library,
		LowerIsBetter: lb.LowerIsBetter, VisibleTo: a.Namespaces(), SeeAll: seeAll(a),
		Offset: q.Offset, Limit: limit,
	})
	if err != nil {
		return nil, err
	}
	for i, row := range rows {
		r, e := row.Repo, row.Result
		lb.Entries = append(lb.Entries, Entry{
			Rank: max(q.Offset, 0) + i + 1, Model: r.FullName(), Value: *e.Value, ValueText: e.ValueText,
			MetricName: e.MetricName, Task: e.TaskType, DatasetConfig: e.DatasetConfig, DatasetSplit: e.DatasetSplit,
			SelfReported: true, Verified: e.Verified, SourceName: e.SourceName, SourceURL: e.SourceURL,
			License: repoLicense(r), Library: r.LibraryName, Private: r.Private, Likes: r.Likes, Downloads: r.Downloads,
		})
	}
	return lb, nil
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
