package endpoints

import (
	"context"
	"slices"
	"sort"

	"github.com/havenhub/haven/auth"
)

// View is an endpoint as the web pages show it.
type View struct {
	Namespace, Name, Type, State, Message, URL string
	Repository, Commit, Task, Compute          string
	Ready, Target                              int
	Revisions                                  []RevisionView // newest first
	// Compared are the two revisions the verdict compares ("" if none).
	CompareA, CompareB, Verdict string
	LastGood                    string // the revision a rollback returns to
}

// RevisionView is one revision with its traffic and statistics.
type RevisionView struct {
	ID, Commit, Repository, Compute, State, Message string
	Percent, Ready                                  int
	Requests, Errors, Feedback                      int64
	ErrorRate, P50, P95, P99, FeedbackMean          float64
}

// view builds the View of e; call with mu held.
func (e *endpoint) view() View {
	v := View{Namespace: e.row.Namespace, Name: e.row.Name, Type: e.cfg.Type, State: e.row.State, Message: e.row.Message,
		Repository: e.cfg.Model.Repository, Compute: e.cfg.Compute.ID}
	if e.row.State != StatePaused {
		v.URL = e.s.cfg.PublicURL + "/e/" + e.row.Namespace + "/" + e.row.Name
	}
	if e.cfg.Model.Revision != nil {
		v.Commit = *e.cfg.Model.Revision
	}
	if e.cfg.Model.Task != nil {
		v.Task = *e.cfg.Model.Task
	}
	snaps := map[int]savedStats{}
	for _, r := range e.revs {
		st := r.stats.snapshot()
		snaps[r.n] = st
		l := slices.Clone(st.LatencyMs)
		sort.Float64s(l)
		rv := RevisionView{ID: revName(r.n), Commit: r.commit, Repository: r.spec.Repository, Compute: r.spec.Compute,
			State: r.state, Message: r.message, Percent: e.share(r.n), Ready: len(r.replicas),
			Requests: st.Requests, Errors: st.Errors, ErrorRate: rate(st.Errors, st.Requests),
			P50: round(quantile(l, .5)), P95: round(quantile(l, .95)), P99: round(quantile(l, .99)), Feedback: st.Feedback}
		if st.Feedback > 0 {
			rv.FeedbackMean = round(st.FeedbackSum / float64(st.Feedback))
		}
		if rv.Percent > 0 {
			v.Ready += rv.Ready
			v.Target += r.target
		}
		v.Revisions = append(v.Revisions, rv)
	}
	slices.Reverse(v.Revisions)
	if a, b, ok := e.arms(snaps); ok {
		c := compare(revName(a), snaps[a], revName(b), snaps[b])
		v.CompareA, v.CompareB, v.Verdict = c.A, c.B, c.Verdict
	}
	if n := e.lastGood(); n != 0 {
		v.LastGood = revName(n)
	}
	return v
}

// Views lists the endpoints of a namespace the actor may see.
func (s *Service) Views(a *auth.Actor, ns string) ([]View, error) {
	if err := auth.CanManageEndpoints(a, ns, false); err != nil {
		return nil, err
	}
	var out []View
	for _, e := range s.list(ns) {
		e.mu.Lock()
		out = append(out, e.view())
		e.mu.Unlock()
	}
	return out, nil
}

// View returns one endpoint for the actor.
func (s *Service) View(a *auth.Actor, ns, name string) (View, error) {
	if err := auth.CanManageEndpoints(a, ns, false); err != nil {
		return View{}, err
	}
	e, err := s.find(ns, name)
	if err != nil {
		return View{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.view(), nil
}

// Rollback sends all of an endpoint's traffic back to its last good
// revision, for an actor who manages it.
func (s *Service) Rollback(_ context.Context, a *auth.Actor, ns, name string) error {
	if err := auth.CanManageEndpoints(a, ns, true); err != nil {
		return err
	}
	e, err := s.find(ns, name)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rollback(a.Name())
}
