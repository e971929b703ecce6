package jobs

import (
	"net/http"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// serveScheduled routes /api/scheduled-jobs/….
func (s *Service) serveScheduled(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) == 0 || len(segs) > 3 {
		s.writeError(w, r, errNotFound)
		return
	}
	m := r.Method
	write := m != http.MethodGet && m != http.MethodHead
	a, ns, err := s.namespace(r, segs[0], write)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	switch {
	case len(segs) == 1 && m == http.MethodPost:
		s.handleCreateScheduled(w, r, a, ns)
		return
	case len(segs) == 1 && m == http.MethodGet:
		list, err := s.cfg.Meta.JobSchedulesOf(ctx, ns.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]map[string]any, 0, len(list))
		for _, sj := range list {
			out = append(out, s.scheduledInfo(sj))
		}
		hubhttp.WriteJSON(w, http.StatusOK, out)
		return
	case len(segs) == 1:
		s.writeError(w, r, errNotFound)
		return
	}
	sj, err := s.cfg.Meta.JobSchedule(ctx, segs[1])
	if err != nil || sj.OwnerID != ns.ID {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Scheduled job %s not found", segs[1]))
		return
	}
	action := ""
	if len(segs) == 3 {
		action = segs[2]
	}
	switch {
	case action == "" && m == http.MethodGet:
		hubhttp.WriteJSON(w, http.StatusOK, s.scheduledInfo(sj))
	case action == "" && m == http.MethodDelete:
		if err := s.cfg.Meta.DeleteJobSchedule(ctx, sj.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case (action == "suspend" || action == "resume") && m == http.MethodPost:
		sj.Suspend = action == "suspend"
		if !sj.Suspend {
			sj.NextRunAt = nextRun(sj.Schedule, time.Now())
		}
		s.updateScheduled(w, r, sj)
	case action == "schedule" && m == http.MethodPost:
		var body struct {
			Schedule string `json:"schedule"`
		}
		if err := hubhttp.DecodeJSON(r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
		if _, err := parseSchedule(body.Schedule); err != nil {
			s.writeError(w, r, err)
			return
		}
		sj.Schedule, sj.NextRunAt = body.Schedule, nextRun(body.Schedule, time.Now())
		s.updateScheduled(w, r, sj)
	case action == "labels" && m == http.MethodPut:
		var body struct {
			Labels map[string]string `json:"labels"`
		}
		if err := hubhttp.DecodeJSON(r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkLabels(body.Labels); err != nil {
			s.writeError(w, r, err)
			return
		}
		sj.Spec.Labels = body.Labels
		s.updateScheduled(w, r, sj)
	case action == "run" && m == http.MethodPost:
		j, err := s.trigger(ctx, sj)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, s.Info(j))
	default:
		s.writeError(w, r, errNotFound)
	}
}

func (s *Service) updateScheduled(w http.ResponseWriter, r *http.Request, sj *haven.ScheduledJob) {
	if err := s.cfg.Meta.UpdateJobSchedule(r.Context(), sj); err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, s.scheduledInfo(sj))
}

// handleCreateScheduled answers POST /api/scheduled-jobs/{ns}.
func (s *Service) handleCreateScheduled(w http.ResponseWriter, r *http.Request, a *auth.Actor, ns *haven.User) {
	var body struct {
		JobSpec     wireSpec `json:"jobSpec"`
		Schedule    string   `json:"schedule"`
		Suspend     *bool    `json:"suspend"`
		Concurrency *bool    `json:"concurrency"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := parseSchedule(body.Schedule); err != nil {
		s.writeError(w, r, err)
		return
	}
	spec, secrets, err := s.parse(&body.JobSpec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Token != nil && a.Token.FineGrained != nil {
		spec.Scopes = a.Token.FineGrained
	}
	sj := &haven.ScheduledJob{ID: newID(), OwnerID: ns.ID, CreatorID: a.User.ID, Schedule: body.Schedule, Spec: spec,
		NextRunAt: nextRun(body.Schedule, time.Now())}
	if body.Suspend != nil {
		sj.Suspend = *body.Suspend
	}
	if body.Concurrency != nil {
		sj.Concurrency = *body.Concurrency
	}
	sealed, err := s.sealSecrets("schedule "+sj.ID, secrets)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Meta.CreateJobSchedule(r.Context(), sj, sealed); err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, s.scheduledInfo(sj))
}

// scheduledInfo is a scheduled job as the Hub's ScheduledJobInfo.
func (s *Service) scheduledInfo(sj *haven.ScheduledJob) map[string]any {
	var last any
	if sj.LastJobID != "" {
		last = map[string]any{"id": sj.LastJobID, "at": haven.FormatTime(sj.LastJobAt)}
	}
	var next any
	if !sj.Suspend && !sj.NextRunAt.IsZero() {
		next = haven.FormatTime(sj.NextRunAt)
	}
	ownerType := "user"
	if sj.OwnerIsOrg {
		ownerType = "org"
	}
	spec := specJSON(sj.Spec)
	return map[string]any{
		"id":          sj.ID,
		"createdAt":   haven.FormatTime(sj.CreatedAt),
		"updatedAt":   haven.FormatTime(sj.UpdatedAt),
		"schedule":    sj.Schedule,
		"suspend":     sj.Suspend,
		"concurrency": sj.Concurrency,
		"jobSpec":     spec,
		"status":      map[string]any{"lastJob": last, "nextJobRunAt": next},
		"owner":       map[string]any{"id": objectID(sj.OwnerID), "name": sj.Owner, "type": ownerType},
	}
}

// specJSON is a spec as the Hub's JobSpec object (secret names only).
func specJSON(js haven.JobSpec) map[string]any {
	spec := map[string]any{
		"command": js.Command, "arguments": js.Arguments, "environment": js.Environment,
		"secrets": js.Secrets, "flavor": js.Flavor, "labels": js.Labels,
	}
	if js.DockerImage != "" {
		spec["dockerImage"] = js.DockerImage
	}
	if js.SpaceID != "" {
		spec["spaceId"] = js.SpaceID
	}
	if js.TimeoutSeconds > 0 {
		spec["timeoutSeconds"] = js.TimeoutSeconds
	}
	if len(js.Volumes) > 0 {
		spec["volumes"] = js.Volumes
	}
	return spec
}
