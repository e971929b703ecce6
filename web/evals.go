package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/evals"
	"github.com/havenhub/haven/meta"
)

// EvalPages is what the leaderboard and provenance pages need of the evals
// service: leaderboards and lineages as a visitor may see them.
type EvalPages interface {
	Boards(ctx context.Context, a *auth.Actor, task string) ([]meta.Board, error)
	Leaderboard(ctx context.Context, a *auth.Actor, q evals.Query) (*evals.Leaderboard, error)
	Provenance(ctx context.Context, a *auth.Actor, repo *haven.Repo) (*evals.Provenance, error)
}

// boardLinks gives the pages links to leaderboards.
type boardLinks struct{}

// BoardURL links to the leaderboard of a dataset and metric.
func (boardLinks) BoardURL(dataset, metric string) string { return leaderboardURL(dataset, metric) }

// repoEvalsView is the part of a model or dataset page about its card's
// documentation and the evaluation results it reports.
type repoEvalsView struct {
	boardLinks
	Repo          *haven.Repo
	Results       []meta.EvalResult
	Quality       card.Quality
	ProvenanceURL string // "" where there is no provenance page
}

// repoEvals gathers the evaluation results and the card checklist of a
// repository page; nil for Spaces.
func (h *Handler) repoEvals(ctx context.Context, repo *haven.Repo, readme []byte) (*repoEvalsView, error) {
	if repo.Type != haven.Model && repo.Type != haven.Dataset {
		return nil, nil
	}
	v := &repoEvalsView{Repo: repo}
	c, err := card.Parse(readme)
	if err != nil {
		c = nil
	}
	v.Quality = card.CheckQuality(c, repo.Type)
	if repo.Type == haven.Model {
		if v.Results, err = h.meta.EvalResults(ctx, repo.ID); err != nil {
			return nil, err
		}
		if h.Evals != nil {
			v.ProvenanceURL = repoURL(repo, "/provenance")
		}
	}
	return v, nil
}

type leaderboardsData struct {
	boardLinks
	Task   string
	Boards []meta.Board
}

type leaderboardData struct {
	boardLinks
	LB      *evals.Leaderboard
	Query   evals.Query
	BaseURL string   // the page without its query
	Sizes   []string // the parameter-count ranges offered
	NextURL string   // the next page, by cursor; "" on the last
}

// leaderboards answers GET /leaderboards (every leaderboard, or those of
// ?task=…) and GET /leaderboards/{dataset…}?metric=…&license=…&library=….
func (h *Handler) leaderboards(w http.ResponseWriter, r *http.Request, segs []string) {
	a := actorOf(r)
	q := evals.QueryOf(r)
	if len(segs) == 0 {
		boards, err := h.Evals.Boards(r.Context(), a, q.Task)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, r, http.StatusOK, "leaderboards", "Leaderboards", leaderboardsData{Task: q.Task, Boards: boards})
		return
	}
	q.Dataset = strings.Join(segs, "/")
	lb, err := h.Evals.Leaderboard(r.Context(), a, q)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(lb.Metrics) == 0 {
		h.notFound(w, r)
		return
	}
	d := leaderboardData{LB: lb, Query: q, BaseURL: "/leaderboards/" + escPath(q.Dataset), Sizes: evals.Sizes}
	d.Query.Metric = lb.Metric
	if lb.Next != "" {
		v := r.URL.Query()
		v.Del("offset")
		v.Set("cursor", lb.Next)
		d.NextURL = d.BaseURL + "?" + v.Encode()
	}
	h.render(w, r, http.StatusOK, "leaderboard", "Leaderboard: "+q.Dataset+" ("+lb.Metric+")", d)
}

// provenance answers GET /{model}/provenance.
func (h *Handler) provenance(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	p, err := h.Evals.Provenance(r.Context(), actorOf(r), repo)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "provenance", "Provenance of "+repo.FullName(), struct {
		Repo *haven.Repo
		P    *evals.Provenance
	}{repo, p})
}

// leaderboardURL links to the leaderboard of a dataset and metric.
func leaderboardURL(dataset, metric string) string {
	return "/leaderboards/" + escPath(dataset) + "?metric=" + url.QueryEscape(metric)
}

// paramCount writes a parameter count as the Hub does, to three
// significant digits: 7.24B, 124M, 1.5K.
func paramCount(n int64) string {
	units := []struct {
		div  float64
		unit string
	}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}}
	for _, u := range units {
		if v := float64(n) / u.div; v >= 1 {
			prec := 2
			if v >= 100 {
				prec = 0
			} else if v >= 10 {
				prec = 1
			}
			t := strconv.FormatFloat(v, 'f', prec, 64)
			if prec > 0 {
				t = strings.TrimRight(strings.TrimRight(t, "0"), ".")
			}
			return t + u.unit
		}
	}
	return strconv.FormatInt(n, 10)
}
