package endpoints

import (
	"maps"
	"slices"

	"github.com/havenhub/haven/meta"
	"time"
)

// hubTime formats a time as the Hub's clients parse it (UTC, with Z).
func hubTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// object is the endpoint as the API shows it: the Hub's endpoint object
// plus Haven's revisions, traffic, rollout and statistics. Call with mu
// held.
func (e *endpoint) object() map[string]any {
	c := e.cfg
	var url any
	if e.row.State != StatePaused {
		url = e.s.cfg.PublicURL + "/e/" + e.row.Namespace + "/" + e.row.Name
	}
	ready, target := 0, 0
	for _, t := range e.traffic {
		if r := e.rev(t.Revision); r != nil {
			ready += len(r.replicas)
			target += r.target
		}
	}
	if cand := e.candidate(); cand != nil {
		target = max(target, cand.target)
	}
	secrets := map[string]string{}
	for k := range e.secrets {
		secrets[k] = "********"
	}
	env := c.Model.Env
	if env == nil {
		env = map[string]string{}
	}
	var errMsg any
	if e.row.State == StateFailed || e.row.State == StateUpdateFailed {
		errMsg = e.row.Message
	}
	route := any(map[string]any{"domain": nil, "path": nil})
	if len(c.Route) > 0 && string(c.Route) != "null" {
		route = c.Route
	}
	model := map[string]any{
		"repository": c.Model.Repository, "revision": c.Model.Revision, "task": c.Model.Task,
		"framework": c.Model.Framework, "image": c.Model.Image, "env": env, "secrets": secrets,
		"command": c.Model.Command, "args": c.Model.Args,
	}
	by := func(name string) any {
		if name == "" {
			return nil
		}
		return map[string]any{"id": name, "name": name}
	}
	obj := map[string]any{
		"name": e.row.Name, "type": c.Type, "accountId": c.AccountID, "healthRoute": healthRoute(c.Model),
		"provider": c.Provider, "compute": c.Compute, "model": model, "route": route,
		"cacheHttpResponses": c.CacheHTTPResponses, "tags": c.Tags,
		"status": map[string]any{
			"state": e.row.State, "message": e.row.Message, "errorMessage": errMsg, "url": url, "private": nil,
			"readyReplica": ready, "targetReplica": target,
			"createdAt": hubTime(e.row.CreatedAt), "createdBy": by(e.row.CreatedBy),
			"updatedAt": hubTime(e.row.UpdatedAt), "updatedBy": by(e.row.UpdatedBy),
		},
	}
	var revs []map[string]any
	stats := map[string]any{}
	snaps := map[int]savedStats{}
	for _, r := range e.revs {
		revs = append(revs, map[string]any{
			"id": revName(r.n), "commit": r.commit, "repository": r.spec.Repository, "compute": r.spec.Compute,
			"state": r.state, "message": r.message, "readyReplica": len(r.replicas), "targetReplica": r.target,
		})
		snaps[r.n] = r.stats.snapshot()
		stats[revName(r.n)] = snaps[r.n].summary()
	}
	obj["revisions"] = revs
	traffic := []map[string]any{}
	for _, t := range e.traffic {
		traffic = append(traffic, map[string]any{"revision": revName(t.Revision), "percent": t.Percent})
	}
	obj["traffic"] = traffic
	rollout := map[string]any{"strategy": c.Rollout.Strategy, "canaryPercent": c.Rollout.CanaryPercent,
		"stable": revName(e.row.Stable), "lastGood": nil, "candidate": nil}
	if n := e.lastGood(); n != 0 {
		rollout["lastGood"] = revName(n)
	}
	if cand := e.candidate(); cand != nil {
		rollout["candidate"] = revName(cand.n)
	}
	obj["rollout"] = rollout
	out := map[string]any{"revisions": stats}
	if a, b, ok := e.arms(snaps); ok {
		cmp := compare(revName(a), snaps[a], revName(b), snaps[b])
		out["comparison"] = map[string]any{"a": cmp.A, "b": cmp.B, "pLatency": round4(cmp.PLatency),
			"pErrors": round4(cmp.PErrors), "pFeedback": round4(cmp.PFbk), "verdict": cmp.Verdict}
	}
	obj["stats"] = out
	return obj
}

func round4(v float64) float64 { return float64(int64(v*1e4+0.5)) / 1e4 }

// arms are the two revisions compared: the two largest shares of a split,
// else the two newest revisions that answered requests (older first).
func (e *endpoint) arms(snaps map[int]savedStats) (a, b int, ok bool) {
	if len(e.traffic) >= 2 {
		t := slices.Clone(e.traffic)
		slices.SortStableFunc(t, func(x, y meta.TrafficShare) int { return y.Percent - x.Percent })
		a, b = t[0].Revision, t[1].Revision
		if a > b {
			a, b = b, a
		}
		return a, b, true
	}
	var with []int
	for _, n := range slices.Sorted(maps.Keys(snaps)) {
		if snaps[n].Requests > 0 {
			with = append(with, n)
		}
	}
	if len(with) < 2 {
		return 0, 0, false
	}
	return with[len(with)-2], with[len(with)-1], true
}

// healthRoute is the route that tells an endpoint's replica ready: Haven's
// engine's, or that of its custom program.
func healthRoute(m Model) string {
	if cu, _ := m.custom(true); cu != nil {
		return cu.HealthRoute
	}
	return "/health"
}
