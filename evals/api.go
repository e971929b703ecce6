package evals

import (
	"net/http"
	"strconv"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// RepoAction serves GET /api/models/{ns}/{name}/provenance.
func (s *Service) RepoAction(t haven.RepoType, action, method string) api.RepoHandler {
	if t != haven.Model || action != "provenance" || (method != http.MethodGet && method != http.MethodHead) {
		return nil
	}
	return s.handleProvenance
}

// API serves GET /api/leaderboards.
func (s *Service) API(first string) http.Handler {
	if first != "leaderboards" {
		return nil
	}
	return http.HandlerFunc(s.handleLeaderboards)
}

func (s *Service) handleProvenance(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) != 0 {
		hubhttp.WriteError(s.log, w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	p, err := s.Provenance(r.Context(), hubhttp.Actor(r), repo)
	if err != nil {
		hubhttp.WriteError(s.log, w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, p)
}

// handleLeaderboards answers GET /api/leaderboards: with a dataset, its
// leaderboard for the metric (the most reported one by default); without,
// the list of leaderboards, of one task with task=….
func (s *Service) handleLeaderboards(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.URL.EscapedPath() != "/api/leaderboards" && r.URL.EscapedPath() != "/api/leaderboards/" {
		hubhttp.WriteError(s.log, w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	q := QueryOf(r)
	a := hubhttp.Actor(r)
	if q.Dataset == "" {
		boards, err := s.Boards(r.Context(), a, q.Task)
		if err != nil {
			hubhttp.WriteError(s.log, w, r, err)
			return
		}
		if boards == nil {
			boards = []meta.Board{}
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"task": q.Task, "leaderboards": boards})
		return
	}
	lb, err := s.Leaderboard(r.Context(), a, q)
	if err != nil {
		hubhttp.WriteError(s.log, w, r, err)
		return
	}
	if lb.Next != "" {
		// As the Hub's listings page: the next page's URL in a Link header.
		v := r.URL.Query()
		v.Del("offset")
		v.Set("cursor", lb.Next)
		scheme := "http"
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			scheme = "https"
		}
		w.Header().Set("Link", "<"+scheme+"://"+r.Host+r.URL.EscapedPath()+"?"+v.Encode()+`>; rel="next"`)
	}
	hubhttp.WriteJSON(w, http.StatusOK, lb)
}

// QueryOf reads a leaderboard query from the URL parameters dataset,
// metric, task, license, library, size, cursor, offset and limit.
func QueryOf(r *http.Request) Query {
	v := r.URL.Query()
	q := Query{Dataset: v.Get("dataset"), Metric: v.Get("metric"), Task: v.Get("task"), License: v.Get("license"),
		Library: v.Get("library"), Size: v.Get("size"), Cursor: v.Get("cursor")}
	q.Offset, _ = strconv.Atoi(v.Get("offset"))
	q.Limit, _ = strconv.Atoi(v.Get("limit"))
	q.Offset = max(q.Offset, 0)
	return q
}

// The API tells the service of every card it reads.
var _ api.CardIndexer = (*Service)(nil)
