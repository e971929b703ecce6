package spaces

import (
	"context"
	"net/http"
	"strconv"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

// handleLogs streams a Space's build or run log as server-sent events in the
// Hub's format: one `data: {"data": line, "timestamp": …}` event per line,
// the whole attempt replayed from its first line on every connection (the
// clients count events to resume), then followed while the attempt lasts.
func (s *Service) handleLogs(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) != 1 || (rest[0] != "build" && rest[0] != "run") {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	var l *runlog.File
	if a := s.lookupApp(repo.ID); a != nil {
		l = a.log(rest[0])
	}
	if l == nil {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "This Space has no %s logs yet", rest[0]))
		return
	}
	tail := -1
	if v := r.URL.Query().Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "tail must be a non-negative number"))
			return
		}
		tail = n
	}
	runlog.Serve(w, r, l, tail, "\n")
}

// handleMetrics streams the app's CPU and memory once a second, as the Jobs
// API's metric events, while it runs.
func (s *Service) handleMetrics(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	a := s.lookupApp(repo.ID)
	runlog.ServeMetrics(w, r, func(ctx context.Context) *runner.Metrics {
		if a == nil {
			return nil
		}
		a.mu.Lock()
		in := a.serving
		a.mu.Unlock()
		if in == nil {
			return nil
		}
		m, err := in.h.Metrics(ctx)
		if err != nil {
			return nil
		}
		return &m
	})
}
