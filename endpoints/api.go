package endpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner/runlog"
)

// RepoAction serves nothing under repositories.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/endpoints/v2/….
func (s *Service) API(first string) http.Handler {
	if first != "endpoints" {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.atHolder(w, r) {
			return
		}
		s.serveAPI(w, r)
	})
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// serveAPI routes /api/endpoints/v2/endpoint/{ns}[/{name}[/{action}]] and
// /api/endpoints/v2/provider/{ns}.
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) < 3 || segs[0] != "v2" {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	a := hubhttp.Actor(r)
	ns, m := segs[2], r.Method
	get := m == http.MethodGet || m == http.MethodHead
	if segs[1] == "provider" && len(segs) == 3 && get {
		if err := auth.CanManageEndpoints(a, ns, false); err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, providerJSON(s.computes))
		return
	}
	if segs[1] != "endpoint" {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	write := !get && !(len(segs) == 5 && segs[4] == "feedback")
	if err := auth.CanManageEndpoints(a, ns, write); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) == 3 {
		switch {
		case get:
			s.handleList(w, r, ns)
		case m == http.MethodPost:
			s.handleCreate(w, r, ns)
		default:
			s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		}
		return
	}
	e, err := s.find(ns, segs[3])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	action := ""
	if len(segs) == 5 {
		action = segs[4]
	} else if len(segs) > 5 {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	switch {
	case action == "" && get:
		s.answer(w, e)
	case action == "" && m == http.MethodPut:
		s.handleUpdate(w, r, e)
	case action == "" && m == http.MethodDelete:
		s.handleDelete(w, r, e)
	case action == "pause" && m == http.MethodPost:
		s.handlePause(w, r, e)
	case action == "resume" && m == http.MethodPost:
		s.handleResume(w, r, e)
	case action == "scale-to-zero" && m == http.MethodPost:
		s.handleScaleToZero(w, r, e)
	case action == "logs" && get:
		s.handleLogs(w, r, e)
	case action == "open-metrics" && get:
		s.handleOpenMetrics(w, e)
	case action == "traffic" && m == http.MethodPut:
		s.handleTraffic(w, r, e)
	case action == "rollback" && m == http.MethodPost:
		s.handleRollback(w, r, e)
	case action == "feedback" && m == http.MethodPost:
		s.handleFeedback(w, r, e)
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

func (s *Service) answer(w http.ResponseWriter, e *endpoint) {
	e.mu.Lock()
	obj := e.object()
	e.mu.Unlock()
	hubhttp.WriteJSON(w, http.StatusOK, obj)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, ns string) {
	items := []any{}
	for _, e := range s.list(ns) {
		e.mu.Lock()
		items = append(items, e.object())
		e.mu.Unlock()
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
}

// readBody reads a JSON request body (at most 1 MiB).
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, haven.Errorf(haven.EInvalid, "Could not read the request body")
	}
	return b, nil
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, ns string) {
	ctx := r.Context()
	a := hubhttp.Actor(r)
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var c Settings
	if err := json.Unmarshal(body, &c); err != nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid JSON body: %v", err))
		return
	}
	if err := c.normalize(s.computes, s.cfg.Images); err != nil {
		s.writeError(w, r, err)
		return
	}
	nsUser, err := s.meta.UserByName(ctx, ns)
	if err != nil {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Namespace %s not found", ns))
		return
	}
	rev := ""
	if c.Model.Revision != nil {
		rev = *c.Model.Revision
	}
	repo, sha, err := s.resolve(ctx, a, c.Model.Repository, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c.Model.Revision = &sha
	if c.Model.Task == nil && repo.PipelineTag != "" {
		t := repo.PipelineTag
		c.Model.Task = &t
	}
	secrets := c.Model.Secrets
	c.Model.Secrets = nil
	spec := c.revSpec(sha, secretsKey(s.cfg.Secret, secrets))
	cb, _ := json.Marshal(c)
	sb, _ := json.Marshal(spec)
	row := &meta.Endpoint{Namespace: nsUser.Name, Name: c.Name, Config: string(cb), State: StatePending,
		Message: "Endpoint is being created", CreatedBy: a.Name(), UpdatedBy: a.Name()}
	row.Secrets = s.sealSecrets(row.Namespace, row.Name, 0, secrets)
	first := &meta.EndpointRevision{Number: 1, Commit: sha, Config: string(sb), State: revPending,
		Secrets: s.sealSecrets(row.Namespace, row.Name, 1, secrets)}
	if err := s.meta.CreateEndpoint(ctx, row, first); err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.load(ctx, row)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e.mu.Lock()
	e.logf("created by %s: %s at %s", a.Name(), c.Model.Repository, sha)
	e.reconcile(time.Now())
	obj := e.object()
	e.mu.Unlock()
	hubhttp.WriteJSON(w, http.StatusOK, obj)
}

// hasKey reports whether the JSON body sets obj.key.
func hasKey(body []byte, obj, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	var sub map[string]json.RawMessage
	if json.Unmarshal(m[obj], &sub) != nil {
		return false
	}
	_, ok := sub[key]
	return ok
}

// handleUpdate applies a partial update. A change of model or hardware
// makes a revision; where the endpoint serves, it is rolled out beside the
// old one, which keeps the traffic until the new one is healthy.
func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request, e *endpoint) {
	ctx := r.Context()
	a := hubhttp.Actor(r)
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Endpoint %s not found", e.name()))
		return
	}
	c, err := mergeSettings(e.cfg, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c.Name = e.cfg.Name
	if err := c.normalize(s.computes, s.cfg.Images); err != nil {
		s.writeError(w, r, err)
		return
	}
	sha := ""
	if e.cfg.Model.Revision != nil {
		sha = *e.cfg.Model.Revision
	}
	if hasKey(body, "model", "revision") || c.Model.Repository != e.cfg.Model.Repository {
		rev := ""
		if c.Model.Revision != nil && (hasKey(body, "model", "revision") || c.Model.Repository == e.cfg.Model.Repository) {
			rev = *c.Model.Revision
		}
		repo, pinned, err := s.resolve(ctx, a, c.Model.Repository, rev)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sha = pinned
		if c.Model.Repository != e.cfg.Model.Repository && !hasKey(body, "model", "task") {
			c.Model.Task = nil
			if repo.PipelineTag != "" {
				t := repo.PipelineTag
				c.Model.Task = &t
			}
		}
	}
	c.Model.Revision = &sha
	secrets := e.secrets
	if hasKey(body, "model", "secrets") {
		secrets = c.Model.Secrets
	}
	c.Model.Secrets = nil
	spec := c.revSpec(sha, secretsKey(s.cfg.Secret, secrets))
	latest := e.rev(e.row.Stable)
	if cand := e.candidate(); cand != nil {
		latest = cand
	}
	e.cfg, e.secrets = c, secrets
	for _, v := range secrets {
		e.log.Mask(v)
	}
	e.row.Secrets = s.sealSecrets(e.row.Namespace, e.row.Name, 0, secrets)
	e.row.UpdatedBy, e.row.UpdatedAt = a.Name(), time.Time{}
	if latest == nil || !spec.same(latest.spec) {
		if err := e.newRevision(spec, secrets, a.Name()); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := e.saveRow(); err != nil {
		s.writeError(w, r, err)
		return
	}
	e.broadcast()
	e.reconcile(time.Now())
	hubhttp.WriteJSON(w, http.StatusOK, e.object())
}

// newRevision stores the next revision and starts rolling it out (or,
// where nothing serves, makes it the endpoint's revision at once).
func (e *endpoint) newRevision(spec RevSpec, secrets map[string]string, by string) error {
	n := 1
	if len(e.revs) > 0 {
		n = e.revs[len(e.revs)-1].n + 1
	}
	sb, _ := json.Marshal(spec)
	row := &meta.EndpointRevision{EndpointID: e.row.ID, Number: n, Commit: spec.Commit, Config: string(sb), State: revPending,
		Secrets: e.s.sealSecrets(e.row.Namespace, e.row.Name, n, secrets)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.s.meta.AddEndpointRevision(ctx, row); err != nil {
		return err
	}
	if cand := e.candidate(); cand != nil {
		e.setRevState(cand, revFailed, "Replaced by "+revName(n)+" before it was ready")
	}
	rv := &revision{n: n, commit: spec.Commit, spec: spec, secrets: secrets, state: revPending, stats: loadStats(""),
		scaler: scaler{stabilized: e.s.cfg.ScaleDownDelay}}
	e.revs = append(e.revs, rv)
	e.logf("%s: %s at %s on %s, by %s", revName(n), spec.Repository, short(spec.Commit), spec.Compute, by)
	e.cand = 0
	switch {
	case e.anyReady() && serving(e.row.State):
		e.cand = n
		e.row.State, e.row.Message = StateUpdating, "Rolling out "+revName(n)
		e.logf("state: updating — rolling out %s", revName(n))
	default:
		e.row.Stable = n
		if err := e.setTraffic([]meta.TrafficShare{{Revision: n, Percent: 100}}); err != nil {
			return err
		}
		if serving(e.row.State) || e.row.State == StateFailed {
			e.row.State, e.row.Message = StatePending, "Starting "+revName(n)
		}
	}
	return nil
}

// settleRollout makes a rollout in progress final (before pausing or
// scaling to zero): the new revision takes all the traffic and starts
// when the endpoint does.
func (e *endpoint) settleRollout() {
	cand := e.candidate()
	if cand == nil {
		return
	}
	e.row.Stable, e.cand = cand.n, 0
	if err := e.setTraffic([]meta.TrafficShare{{Revision: cand.n, Percent: 100}}); err != nil {
		e.s.log.Error("traffic not saved", "endpoint", e.name(), "err", err)
	}
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := s.meta.DeleteEndpoint(r.Context(), e.row.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	obj := e.object()
	e.deleted = true
	s.mu.Lock()
	delete(s.eps, key(e.row.Namespace, e.row.Name))
	s.mu.Unlock()
	for _, p := range e.takeAllReplicas() {
		go p.r.Stop(context.Background(), 5*time.Second)
	}
	e.logf("deleted by %s", hubhttp.Actor(r).Name())
	e.log.Close()
	os.Remove(s.logPath(e.row.ID))
	e.broadcast()
	hubhttp.WriteJSON(w, http.StatusOK, obj)
}

func (s *Service) touched(r *http.Request, e *endpoint) {
	e.row.UpdatedBy, e.row.UpdatedAt = hubhttp.Actor(r).Name(), time.Time{}
	if err := e.saveRow(); err != nil {
		s.log.ErrorContext(r.Context(), "endpoint not saved", "endpoint", e.name(), "err", err)
	}
}

func (s *Service) handlePause(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.settleRollout()
	e.setState(StatePaused, "Endpoint is paused")
	s.touched(r, e)
	e.reconcile(time.Now())
	hubhttp.WriteJSON(w, http.StatusOK, e.object())
}

func (s *Service) handleResume(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.row.State {
	case StatePaused, StateScaledToZero:
		e.lastActive = time.Now()
		e.setState(StateInitializing, "Resuming")
	case StateFailed:
		for _, t := range e.traffic {
			if rv := e.rev(t.Revision); rv != nil && rv.state == revFailed {
				e.setRevState(rv, revPending, "")
				rv.failures, rv.retryAt = 0, time.Time{}
			}
		}
		e.lastActive = time.Now()
		e.setState(StatePending, "Starting again")
	default:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Endpoint %s is already running (%s)", e.name(), e.row.State))
		return
	}
	s.touched(r, e)
	e.reconcile(time.Now())
	hubhttp.WriteJSON(w, http.StatusOK, e.object())
}

func (s *Service) handleScaleToZero(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.row.State {
	case StatePaused, StateFailed:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Endpoint %s is %s: resume it first", e.name(), e.row.State))
		return
	}
	e.settleRollout()
	e.scaleToZero("Scaled to zero")
	s.touched(r, e)
	hubhttp.WriteJSON(w, http.StatusOK, e.object())
}

// handleLogs answers the endpoint's log: as an event stream that follows
// it (Accept: text/event-stream or ?follow=true), else as text (the last
// ?tail= lines, 1000 by default).
func (s *Service) handleLogs(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	l := e.log
	e.mu.Unlock()
	q := r.URL.Query()
	tail := 1000
	if n, err := fmt.Sscan(q.Get("tail"), &tail); n != 1 || err != nil {
		tail = 1000
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") || q.Get("follow") == "true" {
		runlog.Serve(w, r, l, tail, "")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, line := range l.Tail(tail) {
		fmt.Fprintln(w, line)
	}
}

// handleTraffic sets the traffic split between ready revisions.
func (s *Service) handleTraffic(w http.ResponseWriter, r *http.Request, e *endpoint) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var entries []trafficEntry
	if err := json.Unmarshal(body, &entries); err != nil {
		var wrapped struct {
			Traffic []trafficEntry `json:"traffic"`
		}
		if err := json.Unmarshal(body, &wrapped); err != nil {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, `The body must be [{"revision": "r1", "percent": 100}, …]`))
			return
		}
		entries = wrapped.Traffic
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	split, err := validateTraffic(entries, e.revRefs())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := e.setTraffic(split); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(split) == 1 {
		e.row.Stable = split[0].Revision
	}
	if cand := e.candidate(); cand != nil {
		e.setRevState(cand, revFailed, "Replaced by a traffic split before it was ready")
		e.cand = 0
	}
	if e.row.State == StateUpdating || e.row.State == StateUpdateFailed {
		e.row.State, e.row.Message = StateRunning, "Endpoint is ready"
	}
	s.touched(r, e)
	e.wake()
	e.reconcile(time.Now())
	hubhttp.WriteJSON(w, http.StatusOK, e.object())
}

func (e *endpoint) revRefs() []revRef {
	var out []revRef
	for _, r := range e.revs {
		out = append(out, revRef{Number: r.n, Commit: r.commit, State: r.state})
	}
	return out
}

// lastGood is the revision a rollback returns to: the stable one if it
// takes traffic beside another, else the newest ready revision before it.
func (e *endpoint) lastGood() int {
	if len(e.traffic) > 1 && e.share(e.row.Stable) > 0 {
		return e.row.Stable
	}
	cur := e.row.Stable
	if len(e.traffic) == 1 {
		cur = e.traffic[0].Revision
	}
	for i := len(e.revs) - 1; i >= 0; i-- {
		if r := e.revs[i]; r.n < cur && r.state == revReady {
			return r.n
		}
	}
	return 0
}

// handleRollback sends all traffic back to the last good revision.
func (s *Service) handleRollback(w http.ResponseWriter, r *http.Request, e *endpoint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.rollback(hubhttp.Actor(r).Name()); err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, e.object())
}

// rollback gives all the traffic to the last good revision and shows its
// model and hardware again.
func (e *endpoint) rollback(by string) error {
	n := e.lastGood()
	if n == 0 {
		return haven.Errorf(haven.EInvalid, "Endpoint %s has no earlier healthy revision to roll back to", e.name())
	}
	if cand := e.candidate(); cand != nil {
		e.setRevState(cand, revFailed, "Rolled back")
		e.cand = 0
	}
	if err := e.setTraffic([]meta.TrafficShare{{Revision: n, Percent: 100}}); err != nil {
		return err
	}
	e.row.Stable = n
	e.revertConfig()
	if e.row.State == StateUpdating || e.row.State == StateUpdateFailed {
		e.row.State, e.row.Message = StateRunning, "Endpoint is ready"
	}
	e.logf("rolled back to %s by %s", revName(n), by)
	e.row.UpdatedBy, e.row.UpdatedAt = by, time.Time{}
	if err := e.saveRow(); err != nil {
		return err
	}
	e.wake()
	e.reconcile(time.Now())
	return nil
}

// handleFeedback records a score for a revision: {"revision", "score"}
// with score in [0, 1] (or a boolean), e.g. a user's thumbs up.
func (s *Service) handleFeedback(w http.ResponseWriter, r *http.Request, e *endpoint) {
	var fb struct {
		Revision string `json:"revision"`
		Score    any    `json:"score"`
	}
	if err := hubhttp.DecodeJSON(r, &fb); err != nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid JSON body"))
		return
	}
	var score float64
	switch v := fb.Score.(type) {
	case bool:
		if v {
			score = 1
		}
	case float64:
		score = v
	default:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "score must be a number between 0 and 1"))
		return
	}
	if score < 0 || score > 1 {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "score must be between 0 and 1"))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n, ok := findRevision(e.revRefs(), fb.Revision)
	if !ok {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Unknown revision %q", fb.Revision))
		return
	}
	e.rev(n).stats.feedback(score)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"revision": revName(n), "recorded": true})
}

// handleOpenMetrics answers the per-revision numbers in OpenMetrics text.
func (s *Service) handleOpenMetrics(w http.ResponseWriter, e *endpoint) {
	e.mu.Lock()
	type row struct {
		name     string
		st       savedStats
		ready    int
		inflight int
	}
	var rows []row
	for _, r := range e.revs {
		rows = append(rows, row{revName(r.n), r.stats.snapshot(), len(r.replicas), r.inflight})
	}
	e.mu.Unlock()
	var b strings.Builder
	b.WriteString("# TYPE latency_distribution summary\n# UNIT latency_distribution seconds\n")
	for _, r := range rows {
		l := append([]float64(nil), r.st.LatencyMs...)
		sort.Float64s(l)
		var sum float64
		for _, v := range l {
			sum += v
		}
		for _, q := range []float64{.5, .95, .99} {
			fmt.Fprintf(&b, "latency_distribution{revision=%q,quantile=\"%g\"} %g\n", r.name, q, quantile(l, q)/1000)
		}
		fmt.Fprintf(&b, "latency_distribution_sum{revision=%q} %g\nlatency_distribution_count{revision=%q} %d\n", r.name, sum/1000, r.name, len(l))
	}
	b.WriteString("# TYPE http_requests counter\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "http_requests_total{revision=%q,status_code=\"2xx\"} %d\n", r.name, r.st.Requests-r.st.Errors)
		fmt.Fprintf(&b, "http_requests_total{revision=%q,status_code=\"error\"} %d\n", r.name, r.st.Errors)
	}
	b.WriteString("# TYPE feedback counter\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "feedback_total{revision=%q} %d\nfeedback_positive_total{revision=%q} %d\n", r.name, r.st.Feedback, r.name, r.st.FeedbackPos)
	}
	b.WriteString("# TYPE ready_replicas gauge\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "ready_replicas{revision=%q} %d\n", r.name, r.ready)
	}
	b.WriteString("# TYPE pending_requests gauge\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "pending_requests{revision=%q} %d\n", r.name, r.inflight)
	}
	b.WriteString("# EOF\n")
	w.Header().Set("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8")
	io.WriteString(w, b.String())
}
