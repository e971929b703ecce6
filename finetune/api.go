package finetune

import (
	"net/http"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// RepoAction serves nothing under repositories.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/finetune.
func (s *Service) API(first string) http.Handler {
	if first != "finetune" {
		return nil
	}
	return http.HandlerFunc(s.serveAPI)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// serveAPI routes:
//
//	GET  /api/finetune/tasks               the tasks and the columns each maps
//	POST /api/finetune                     start a fine-tune (a Request) → JobInfo
//	GET  /api/finetune/{ns}                the fine-tune jobs of a namespace
//	POST /api/finetune/{ns}/{id}/retry     run a finished fine-tune again → JobInfo
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a := hubhttp.Actor(r)
	ctx := r.Context()
	m := r.Method
	switch {
	case len(segs) == 1 && segs[0] == "tasks" && m == http.MethodGet:
		hubhttp.WriteJSON(w, http.StatusOK, TaskList())
	case len(segs) == 0 && m == http.MethodPost:
		var req Request
		if err := hubhttp.DecodeJSON(r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
		j, err := s.Start(ctx, a, req)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, s.cfg.Jobs.Info(j))
	case len(segs) == 1 && m == http.MethodGet:
		if err := auth.CanRunJobs(a, segs[0], false); err != nil {
			s.writeError(w, r, err)
			return
		}
		ns, err := s.cfg.Meta.UserByName(ctx, segs[0])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		list, err := s.cfg.Meta.JobRunsOf(ctx, ns.ID, nil, time.Time{}, 1000)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := []map[string]any{}
		for _, j := range list {
			if j.Spec.Labels[Label] != "" {
				out = append(out, s.cfg.Jobs.Info(j))
			}
		}
		hubhttp.WriteJSON(w, http.StatusOK, out)
	case len(segs) == 3 && segs[2] == "retry" && m == http.MethodPost:
		if err := auth.CanRunJobs(a, segs[0], true); err != nil {
			s.writeError(w, r, err)
			return
		}
		j, err := s.cfg.Jobs.Get(ctx, segs[1])
		if err != nil || !strings.EqualFold(j.Owner, segs[0]) {
			s.writeError(w, r, haven.Errorf(haven.ENotFound, "Job %s not found", segs[1]))
			return
		}
		nj, err := s.Retry(ctx, a, j)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, s.cfg.Jobs.Info(nj))
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

// TaskList describes the tasks for clients: name, title, default learning
// rate and the column layouts each can map.
func TaskList() []map[string]any {
	var out []map[string]any
	for _, t := range Tasks {
		out = append(out, map[string]any{"name": t.Name, "title": t.Title, "learning_rate": t.LearningRate, "layouts": t.Layouts})
	}
	return out
}
