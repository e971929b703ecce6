package jobs

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/replica"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

// RepoAction serves nothing under repositories.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/jobs and /api/scheduled-jobs.
func (s *Service) API(first string) http.Handler {
	switch first {
	case "jobs":
		return http.HandlerFunc(s.serveJobs)
	case "scheduled-jobs":
		return http.HandlerFunc(s.serveScheduled)
	}
	return nil
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

var errNotFound = haven.Errorf(haven.ENotFound, "Not Found")

func errJobNotFound(id string) error {
	return haven.Errorf(haven.ENotFound, "Job %s not found", id)
}

// namespace finds the namespace of a request and checks the caller's
// rights in it.
func (s *Service) namespace(r *http.Request, name string, write bool) (*auth.Actor, *haven.User, error) {
	a := hubhttp.Actor(r)
	if err := auth.CanRunJobs(a, name, write); err != nil {
		return nil, nil, err
	}
	ns, err := s.cfg.Meta.UserByName(r.Context(), name)
	if err != nil {
		return nil, nil, haven.Errorf(haven.ENotFound, "Namespace %s not found", name)
	}
	return a, ns, nil
}

// job finds a job of a namespace; a job of another namespace is not found.
func (s *Service) job(ctx context.Context, ns *haven.User, id string) (*haven.Job, error) {
	j, err := s.cfg.Meta.JobRun(ctx, id)
	if err != nil || j.OwnerID != ns.ID {
		return nil, errJobNotFound(id)
	}
	return j, nil
}

// serveJobs routes /api/jobs/….
func (s *Service) serveJobs(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m := r.Method
	if len(segs) == 1 && segs[0] == "hardware" && m == http.MethodGet {
		s.handleHardware(w, r)
		return
	}
	if len(segs) == 0 {
		s.writeError(w, r, errNotFound)
		return
	}
	write := m != http.MethodGet && m != http.MethodHead
	a, ns, err := s.namespace(r, segs[0], write)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	switch {
	case len(segs) == 1 && m == http.MethodPost:
		s.handleRun(w, r, a, ns)
		return
	case len(segs) == 1 && m == http.MethodGet:
		s.handleList(w, r, ns)
		return
	case len(segs) == 2 && segs[1] == "count" && m == http.MethodGet:
		jobs, err := s.cfg.Meta.JobRunsOf(ctx, ns.ID, r.URL.Query()["stage"], time.Time{}, 100000)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]int{"count": len(jobs)})
		return
	}
	if len(segs) < 2 {
		s.writeError(w, r, errNotFound)
		return
	}
	j, err := s.job(ctx, ns, segs[1])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	action := ""
	if len(segs) == 3 {
		action = segs[2]
	} else if len(segs) > 3 {
		s.writeError(w, r, errNotFound)
		return
	}
	switch {
	case action == "" && m == http.MethodGet:
		hubhttp.WriteJSON(w, http.StatusOK, s.Info(j))
	case action == "cancel" && m == http.MethodPost:
		if err := s.Cancel(ctx, j.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJob(w, r, j.ID)
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
		if err := s.cfg.Meta.SetJobRunLabels(ctx, j.ID, body.Labels); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJob(w, r, j.ID)
	case action == "duplicate" && m == http.MethodPost:
		s.handleDuplicate(w, r, a, ns, j)
	case action == "logs" && m == http.MethodGet:
		s.handleLogs(w, r, j)
	case action == "metrics" && m == http.MethodGet:
		s.handleMetrics(w, r, j)
	case action == "events" && m == http.MethodGet:
		s.handleEvents(w, r, j)
	default:
		s.writeError(w, r, errNotFound)
	}
}

func (s *Service) writeJob(w http.ResponseWriter, r *http.Request, id string) {
	j, err := s.cfg.Meta.JobRun(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, s.Info(j))
}

// handleHardware answers GET /api/jobs/hardware.
func (s *Service) handleHardware(w http.ResponseWriter, _ *http.Request) {
	list := runnerFlavors(s).List()
	out := make([]map[string]any, 0, len(list))
	for _, f := range list {
		out = append(out, f.HardwareInfo())
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// handleRun answers POST /api/jobs/{ns}.
func (s *Service) handleRun(w http.ResponseWriter, r *http.Request, a *auth.Actor, ns *haven.User) {
	var ws wireSpec
	if err := hubhttp.DecodeJSON(r, &ws); err != nil {
		s.writeError(w, r, err)
		return
	}
	spec, secrets, err := s.parse(&ws)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if a.Token != nil && a.Token.FineGrained != nil {
		spec.Scopes = a.Token.FineGrained
	}
	j, err := s.Submit(r.Context(), ns, a.User, "user", "", spec, secrets)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, s.Info(j))
}

// handleDuplicate answers POST /api/jobs/{ns}/{id}/duplicate: the same
// spec run again. Secret values are not kept after a job ends, so the copy
// runs without them.
func (s *Service) handleDuplicate(w http.ResponseWriter, r *http.Request, a *auth.Actor, ns *haven.User, j *haven.Job) {
	spec := j.Spec
	spec.Secrets = nil
	spec.Files, spec.Requirements, spec.Resumable = "", nil, false
	if a.Token != nil && a.Token.FineGrained != nil {
		spec.Scopes = a.Token.FineGrained
	} else {
		spec.Scopes = nil
	}
	if j.Spec.Files != "" {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "This job cannot be duplicated: start it again from where it was made"))
		return
	}
	dup, err := s.Submit(r.Context(), ns, a.User, "duplicated-job", "", spec, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, s.Info(dup))
}

// pageSize is how many jobs one page of the list holds.
const pageSize = 50

// handleList answers GET /api/jobs/{ns}: newest first, filtered by stage
// and labels, paged by a Link header.
func (s *Service) handleList(w http.ResponseWriter, r *http.Request, ns *haven.User) {
	q := r.URL.Query()
	var stages []string
	for _, st := range q["stage"] {
		for _, v := range strings.Split(st, ",") {
			if v = strings.ToUpper(strings.TrimSpace(v)); v != "" {
				stages = append(stages, v)
			}
		}
	}
	labels := map[string]string{}
	for _, l := range q["label"] {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	var before time.Time
	if c := q.Get("cursor"); c != "" {
		us, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid cursor"))
			return
		}
		before = time.UnixMicro(us)
	}
	var page []*haven.Job
	more := false
	for len(page) <= pageSize {
		batch, err := s.cfg.Meta.JobRunsOf(r.Context(), ns.ID, stages, before, 200)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, j := range batch {
			if hasLabels(j, labels) {
				page = append(page, j)
			}
		}
		if len(batch) < 200 {
			break
		}
		before = batch[len(batch)-1].CreatedAt
	}
	if len(page) > pageSize {
		page, more = page[:pageSize], true
	}
	out := make([]map[string]any, 0, len(page))
	for _, j := range page {
		out = append(out, s.Info(j))
	}
	if more {
		next := *r.URL
		nq := next.Query()
		nq.Set("cursor", strconv.FormatInt(page[len(page)-1].CreatedAt.UnixMicro(), 10))
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s%s>; rel=\"next\"", strings.TrimSuffix(s.cfg.PublicURL, "/"), next.RequestURI()))
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

func hasLabels(j *haven.Job, want map[string]string) bool {
	for k, v := range want {
		got, ok := j.Spec.Labels[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}

// handleLogs streams a job's log: held open (with keep-alives) while the job
// waits for its turn, replayed from the first line, followed while it runs,
// closed when it ends. A client that sees the stream end while the job
// still runs reconnects, so ending early loses nothing but never must
// happen before the job has started. The log of a job that runs or ran on
// another replica is in that replica's data folder: the request is passed
// to it, and a stream that is waiting here ends once another replica
// starts the job, for the client to reconnect there.
func (s *Service) handleLogs(w http.ResponseWriter, r *http.Request, j *haven.Job) {
	if s.remote(w, r, j) {
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
	flush := runlog.EventStream(w)
	ctx := r.Context()
	var l *runlog.File
	var idle time.Duration
	for {
		changed := s.Changed()
		if l = s.Log(j.ID); l != nil {
			break
		}
		cur, err := s.cfg.Meta.JobRun(ctx, j.ID)
		if err == nil && cur.Replica != "" && cur.Replica != s.self.ID() && !replica.Forwarded(r) {
			return // started on another replica: the client reconnects
		}
		if err != nil || haven.JobTerminal(cur.Stage) {
			if l = s.Log(j.ID); l == nil {
				return // ended before it ran: nothing to show
			}
			break
		}
		if !s.waitChange(ctx, changed, w, flush, &idle) {
			return
		}
	}
	runlog.ServeFrom(w, r, l, tail, "", flush)
}

// handleMetrics streams the running job's resource use once a second.
func (s *Service) handleMetrics(w http.ResponseWriter, r *http.Request, j *haven.Job) {
	if haven.JobTerminal(j.Stage) {
		w.Header().Set("X-Error-Message", "Job has finished")
		hubhttp.WriteJSON(w, http.StatusNotAcceptable, map[string]string{"error": "Job has finished"})
		return
	}
	if s.remote(w, r, j) {
		return
	}
	runlog.ServeMetrics(w, r, func(ctx context.Context) *runner.Metrics {
		h := s.runningHandle(j.ID)
		if h == nil {
			return nil
		}
		m, err := h.Metrics(ctx)
		if err != nil {
			return nil
		}
		return &m
	})
}

// handleEvents streams a job's stage changes as data events until it ends.
func (s *Service) handleEvents(w http.ResponseWriter, r *http.Request, j *haven.Job) {
	flush := runlog.EventStream(w)
	last := ""
	var idle time.Duration
	for {
		changed := s.Changed()
		cur, err := s.cfg.Meta.JobRun(r.Context(), j.ID)
		if err != nil {
			return
		}
		if cur.Stage != last {
			last = cur.Stage
			fmt.Fprintf(w, "data: %s\n\n", mustJSON(map[string]any{"type": "stage", "stage": cur.Stage, "message": nullable(cur.Message), "timestamp": haven.FormatTime(time.Now())}))
			flush()
		}
		if haven.JobTerminal(cur.Stage) {
			return
		}
		if !s.waitChange(r.Context(), changed, w, flush, &idle) {
			return
		}
	}
}

// waitChange waits for a change of a job's stage: one made here (changed),
// or one made on another replica, which only the database shows (it is
// read again every second). It keeps the stream alive every 15 seconds of
// idle time, counted in idle, and reports false when the stream is over.
func (s *Service) waitChange(ctx context.Context, changed <-chan struct{}, w http.ResponseWriter, flush func(), idle *time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-changed:
		return true
	case <-time.After(time.Second):
	}
	if *idle += time.Second; *idle >= 15*time.Second {
		*idle = 0
		return runlog.KeepAlive(w, flush) == nil
	}
	return true
}

// Info is a job as the Hub's JobInfo.
func (s *Service) Info(j *haven.Job) map[string]any {
	var image, space any
	if j.Spec.DockerImage != "" {
		image = j.Spec.DockerImage
	}
	if j.Spec.SpaceID != "" {
		space = j.Spec.SpaceID
	}
	secrets := j.Spec.Secrets
	if secrets == nil {
		secrets = []string{}
	}
	labels := j.Spec.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	env := j.Spec.Environment
	if env == nil {
		env = map[string]string{}
	}
	var volumes any
	if len(j.Spec.Volumes) > 0 {
		volumes = j.Spec.Volumes
	}
	timeout := j.Spec.TimeoutSeconds
	if timeout == 0 {
		timeout = int(defaultTimeout / time.Second)
	}
	ownerType := "user"
	if j.OwnerIsOrg {
		ownerType = "org"
	}
	initiator := map[string]any{"type": j.InitiatorType, "id": objectID(j.InitiatorID), "name": j.Initiator}
	if j.ScheduleID != "" {
		initiator["id"], initiator["name"] = j.ScheduleID, j.Initiator
	}
	return map[string]any{
		"type":           "job",
		"id":             j.ID,
		"createdAt":      haven.FormatTime(j.CreatedAt),
		"startedAt":      timeOrNil(j.StartedAt),
		"finishedAt":     timeOrNil(j.FinishedAt),
		"dockerImage":    image,
		"spaceId":        space,
		"command":        j.Spec.Command,
		"arguments":      j.Spec.Arguments,
		"environment":    env,
		"secrets":        secrets,
		"flavor":         j.Spec.Flavor,
		"timeoutSeconds": timeout,
		"labels":         labels,
		"volumes":        volumes,
		"status": map[string]any{
			"stage":        j.Stage,
			"message":      nullable(j.Message),
			"failureCount": 0,
			"exposeUrls":   nil, // only jobs that expose ports have them (the CLI prints a hint for any list)
			"sshUrl":       nil,
		},
		"durations": durations(j, time.Now()),
		"owner":     map[string]any{"id": objectID(j.OwnerID), "name": j.Owner, "type": ownerType},
		"initiator": initiator,
		"url":       strings.TrimSuffix(s.cfg.PublicURL, "/") + "/jobs/" + j.Owner + "/" + j.ID,
	}
}

// durations are the seconds a job waited, ran and took, counted to now
// while it runs.
func durations(j *haven.Job, now time.Time) map[string]int {
	end := j.FinishedAt
	if end.IsZero() {
		end = now
	}
	start := j.StartedAt
	if start.IsZero() {
		start = end
	}
	return map[string]int{
		"schedulingSecs": int(start.Sub(j.CreatedAt).Seconds()),
		"runningSecs":    int(end.Sub(start).Seconds()),
		"totalSecs":      int(end.Sub(j.CreatedAt).Seconds()),
	}
}

func objectID(id int64) string {
	s := strconv.FormatInt(id, 10)
	return strings.Repeat("0", max(0, 24-len(s))) + s
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return haven.FormatTime(t)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func mustJSON(v any) string {
	b, _ := hubhttp.MarshalJSON(v)
	return strings.TrimSpace(string(b))
}
