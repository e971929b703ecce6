package evals

import (
	"context"
	"log/slog"
	"sort"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/meta"
)

// Config is what the service needs.
type Config struct {
	Meta   *meta.Store
	Logger *slog.Logger
}

// Service indexes cards, ranks models on leaderboards and traces their
// provenance. Create it with New.
type Service struct {
	meta *meta.Store
	log  *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{meta: cfg.Meta, log: cfg.Logger}
}

// IndexCard records the documentation score of a repository's card and,
// for a model, the evaluation results its model-index and .eval_results
// files report (api.CardIndexer). What cannot be read is logged and left
// out; it never fails a push.
func (s *Service) IndexCard(ctx context.Context, repo *haven.Repo, c *card.Card, files map[string][]byte) error {
	var results []meta.EvalResult
	if repo.Type == haven.Model {
		var warnings []string
		if c != nil {
			results, warnings = ParseModelIndex(c.Data)
		}
		paths := make([]string, 0, len(files))
		for p := range files {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			rs, ws := ParseResultsFile(p, files[p])
			results, warnings = append(results, rs...), append(warnings, ws...)
		}
		if len(results) > MaxResults {
			results = results[:MaxResults]
		}
		for _, w := range warnings {
			s.log.Warn("evaluation results", "repo", repo.FullName(), "problem", w)
		}
	}
	return s.meta.SetCardIndex(ctx, repo.ID, card.CheckQuality(c, repo.Type).Score, results)
}
