package endpoints

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// endpoint is an endpoint's runtime: its rows, revisions with their
// replicas, and the numbers the data plane keeps. Everything is guarded by
// mu; changed is closed (and replaced) whenever replicas or the state
// change, which wakes the requests held for a replica.
type endpoint struct {
	s       *Service
	mu      sync.Mutex
	row     meta.Endpoint
	cfg     Settings
	secrets map[string]string
	revs    []*revision
	traffic []meta.TrafficShare
	log     *runlog.File
	changed chan struct{}
	deleted bool

	cand int // the revision being rolled out (state updating), or 0

	lastActive time.Time
	inflight   int       // requests being answered
	held       int       // requests waiting for a replica
	queue      []*waiter // the requests waiting, in their order
	restoring  bool
}

// revision is a revision's runtime.
type revision struct {
	n         int
	commit    string
	spec      RevSpec
	secrets   map[string]string
	state     string
	message   string
	stats     *revStats
	scaler    scaler
	replicas  []*replica
	launching int
	target    int // replicas wanted, by the autoscaler
	inflight  int
	retryAt   time.Time // no launch before (after a failed one)
	failures  int
}

type replica struct {
	id       string
	r        Replica
	inflight atomic.Int64
	stopping bool
	cpu      atomic.Uint64 // its last CPU use, percent of its CPUs (float64 bits)
	sampling atomic.Bool
}

// metered is a replica that reports its resource use.
type metered interface {
	Metrics(ctx context.Context) (runner.Metrics, error)
}

// sampleCPU reads p's CPU use in the background (a sample may take a
// while), one read at a time.
func (p *replica) sampleCPU() {
	m, ok := p.r.(metered)
	if !ok || !p.sampling.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer p.sampling.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if v, err := m.Metrics(ctx); err == nil {
			p.cpu.Store(math.Float64bits(v.CPUPercent))
		}
	}()
}

// broadcast wakes whoever waits on a change.
func (e *endpoint) broadcast() {
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *endpoint) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "[haven] "+format+"\n", args...)
}

func (e *endpoint) rev(n int) *revision {
	for _, r := range e.revs {
		if r.n == n {
			return r
		}
	}
	return nil
}

// candidate is the revision being rolled out, if any.
func (e *endpoint) candidate() *revision {
	if e.row.State != StateUpdating || e.cand == 0 {
		return nil
	}
	return e.rev(e.cand)
}

func (e *endpoint) share(n int) int {
	for _, t := range e.traffic {
		if t.Revision == n {
			return t.Percent
		}
	}
	return 0
}

// serving reports whether the endpoint's state has replicas up.
func serving(state string) bool {
	switch state {
	case StatePaused, StateScaledToZero, StateFailed:
		return false
	}
	return true
}

// setState records a new state and message.
func (e *endpoint) setState(state, message string) {
	if e.row.State == state && e.row.Message == message {
		return
	}
	e.row.State, e.row.Message = state, message
	e.logf("state: %s — %s", state, message)
	if !e.deleted {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.s.meta.SetEndpointState(ctx, e.row.ID, state, message); err != nil {
			e.s.log.Error("endpoint state not saved", "endpoint", e.name(), "err", err)
		}
	}
	e.broadcast()
}

func (e *endpoint) setRevState(r *revision, state, message string) {
	r.state, r.message = state, message
	if e.deleted {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.s.meta.SetRevisionState(ctx, e.row.ID, r.n, state, message); err != nil {
		e.s.log.Error("revision state not saved", "endpoint", e.name(), "err", err)
	}
}

func (e *endpoint) setTraffic(split []meta.TrafficShare) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.s.meta.SetEndpointTraffic(ctx, e.row.ID, split); err != nil {
		return err
	}
	e.traffic = split
	var parts []string
	for _, t := range split {
		parts = append(parts, fmt.Sprintf("%s %d%%", revName(t.Revision), t.Percent))
	}
	e.logf("traffic: %s", strings.Join(parts, ", "))
	e.broadcast()
	return nil
}

func (e *endpoint) saveRow() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, _ := json.Marshal(e.cfg)
	e.row.Config = string(b)
	return e.s.meta.SaveEndpoint(ctx, &e.row)
}

func (e *endpoint) name() string { return e.row.Namespace + "/" + e.row.Name }

// restore brings a loaded endpoint back after a restart.
func (e *endpoint) restore() {
	if e.row.State == StateUpdating {
		// The rollout goes on: the newest revision that takes no traffic.
		for i := len(e.revs) - 1; i >= 0 && e.cand == 0; i-- {
			if r := e.revs[i]; r.state != revFailed && e.share(r.n) == 0 {
				e.cand = r.n
			}
		}
	}
	switch e.row.State {
	case StateRunning, StateInitializing, StatePending:
		e.restoring = true
		e.setState(StateInitializing, "Starting again after the hub restarted")
	}
	e.reconcile(time.Now())
}

// targets sets how many replicas each revision should have.
func (e *endpoint) targets() {
	cand := e.candidate()
	sc := e.cfg.Compute.Scaling
	for _, r := range e.revs {
		want := 0
		if serving(e.row.State) && r.state != revFailed {
			if e.share(r.n) > 0 || r == cand {
				want = max(r.target, sc.MinReplica, 1)
				want = min(want, max(sc.MaxReplica, 1))
			}
		}
		r.target = want
	}
}

// reconcile launches and stops replicas until each revision has its
// target.
func (e *endpoint) reconcile(now time.Time) {
	if e.deleted {
		return
	}
	e.targets()
	for _, r := range e.revs {
		for len(r.replicas)+r.launching < r.target && !now.Before(r.retryAt) {
			e.launch(r)
		}
		for len(r.replicas) > r.target {
			// The least busy replica goes first; it finishes what it has.
			i := 0
			for j, p := range r.replicas {
				if p.inflight.Load() < r.replicas[i].inflight.Load() {
					i = j
				}
			}
			p := r.replicas[i]
			r.replicas = slices.Delete(r.replicas, i, i+1)
			e.stopReplica(r, p)
		}
	}
}

func (e *endpoint) stopReplica(r *revision, p *replica) {
	p.stopping = true
	e.logf("stopping replica %s of %s", p.id, revName(r.n))
	go p.r.Stop(context.Background(), 30*time.Second)
	e.broadcast()
}

// takeAllReplicas detaches every replica (to stop them).
func (e *endpoint) takeAllReplicas() []*replica {
	var out []*replica
	for _, r := range e.revs {
		for _, p := range r.replicas {
			p.stopping = true
			out = append(out, p)
		}
		r.replicas = nil
		r.target = 0
	}
	return out
}

// launch starts one replica of r in the background.
func (e *endpoint) launch(r *revision) {
	r.launching++
	id := fmt.Sprintf("endpoint-%d-r%d-%d", e.row.ID, r.n, e.s.seq.Add(1))
	spec := r.spec
	secrets := r.secrets
	e.logf("launching replica %s of %s (%s at %s on %s)", id, revName(r.n), spec.Repository, short(r.commit), spec.Compute)
	if e.row.State == StatePending {
		e.setState(StateInitializing, "Starting the model's replicas")
	}
	go func() {
		rep, err := e.s.start(id, spec, secrets, e.log)
		e.mu.Lock()
		defer e.mu.Unlock()
		r.launching--
		if e.s.ctx.Err() != nil {
			// The hub is stopping: the endpoint keeps its state for the next start.
			if err == nil {
				go rep.Stop(context.Background(), time.Second)
			}
			return
		}
		if err == nil && (e.deleted || !serving(e.row.State) || len(r.replicas) >= r.target) {
			// No longer wanted.
			go rep.Stop(context.Background(), time.Second)
			e.broadcast()
			return
		}
		if err != nil {
			e.launchFailed(r, err)
			e.broadcast()
			return
		}
		p := &replica{id: id, r: rep}
		cand := e.candidate()
		r.replicas = append(r.replicas, p)
		r.failures = 0
		e.logf("replica %s of %s is ready at %s", id, revName(r.n), rep.Addr())
		if r.state != revReady {
			e.setRevState(r, revReady, "")
		}
		go e.watch(r, p)
		e.ready(r, cand == r)
		e.broadcast()
	}()
}

// start launches an engine for a revision.
func (s *Service) start(id string, spec RevSpec, secrets map[string]string, log *runlog.File) (Replica, error) {
	rid, err := haven.ParseRepoID(spec.Repository)
	if err != nil {
		return nil, err
	}
	repo, err := s.meta.RepoByName(s.ctx, haven.Model, rid.Namespace, rid.Name)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", spec.Repository, err)
	}
	task := repo.PipelineTag
	if spec.Task != nil {
		task = *spec.Task
	}
	img := Model{Image: spec.Image, Command: spec.Command, Args: spec.Args}
	custom, err := img.custom(s.cfg.Images)
	if err != nil {
		return nil, err
	}
	return s.cfg.Launcher.Launch(s.ctx, inference.Spec{Custom: custom,
		ID: id, Repo: repo, SHA: spec.Commit, Task: task, Name: spec.Repository,
		Flavor: s.flavorOf(spec.Compute), Env: spec.Env, Secrets: secrets,
		MaxBatch: img.imageInt("maxBatch"), MaxConcurrency: perReplica(img), Ready: s.cfg.Ready,
	}, log)
}

// watch follows a replica until it exits; one that exits on its own is
// replaced by the next reconcile.
func (e *endpoint) watch(r *revision, p *replica) {
	<-p.r.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	if p.stopping {
		return
	}
	e.logf("replica %s of %s exited: %s", p.id, revName(r.n), p.r.Exit().Reason)
	if i := slices.Index(r.replicas, p); i >= 0 {
		r.replicas = slices.Delete(r.replicas, i, i+1)
	}
	r.failures++
	r.retryAt = time.Now().Add(backoff(r.failures))
	if e.row.State == StateRunning && !e.anyReady() {
		e.setState(StateInitializing, "Restarting: the replica exited ("+p.r.Exit().Reason+")")
	}
	e.broadcast()
}

func backoff(failures int) time.Duration {
	return min(time.Duration(1<<min(failures, 6))*time.Second, time.Minute)
}

// launchFailed handles a replica that never became healthy.
func (e *endpoint) launchFailed(r *revision, err error) {
	msg := err.Error()
	e.logf("replica of %s failed to start: %s", revName(r.n), msg)
	if e.deleted || !serving(e.row.State) {
		return
	}
	if r.target == 0 {
		// Replaced or taken out of the traffic meanwhile.
		if r.state == revPending {
			e.setRevState(r, revFailed, msg)
		}
		return
	}
	if r.state == revPending {
		e.setRevState(r, revFailed, msg)
		if r.n == e.cand {
			// A rollout: the old revision keeps serving.
			e.cand = 0
			e.revertConfig()
			e.setState(StateUpdateFailed, fmt.Sprintf("Update to %s failed: %s", revName(r.n), msg))
			e.reconcile(time.Now())
			return
		}
		e.setState(StateFailed, msg)
		e.reconcile(time.Now())
		return
	}
	// A revision that ran before: try again later.
	r.failures++
	r.retryAt = time.Now().Add(backoff(r.failures))
	if !e.anyReady() && e.row.State == StateInitializing && r.failures >= 3 {
		e.setState(StateFailed, msg)
	}
}

// revertConfig puts the stable revision's model and hardware back in the
// configuration after a failed update, so that the object shows what
// serves.
func (e *endpoint) revertConfig() {
	st := e.rev(e.row.Stable)
	if st == nil {
		return
	}
	m := &e.cfg.Model
	commit := st.commit
	m.Repository, m.Revision, m.Task, m.Framework, m.Image = st.spec.Repository, &commit, st.spec.Task, st.spec.Framework, st.spec.Image
	m.Env, m.Command, m.Args = st.spec.Env, st.spec.Command, st.spec.Args
	c := &e.cfg.Compute
	c.ID, c.Accelerator, c.InstanceType, c.InstanceSize = st.spec.Compute, st.spec.Accelerator, st.spec.InstanceType, st.spec.InstanceSize
	e.secrets = st.secrets
	e.row.Secrets = e.s.sealSecrets(e.row.Namespace, e.row.Name, 0, e.secrets)
	if err := e.saveRow(); err != nil {
		e.s.log.Error("endpoint not saved", "endpoint", e.name(), "err", err)
	}
}

// anyReady reports whether a revision that takes traffic has a replica.
func (e *endpoint) anyReady() bool {
	for _, t := range e.traffic {
		if r := e.rev(t.Revision); r != nil && len(r.replicas) > 0 {
			return true
		}
	}
	return false
}

// ready moves the state machine on when a replica of r is up; rollout
// says r is the revision being rolled out.
func (e *endpoint) ready(r *revision, rollout bool) {
	if rollout && len(r.replicas) >= r.target {
		old := e.row.Stable
		split := []meta.TrafficShare{{Revision: r.n, Percent: 100}}
		if e.cfg.Rollout.Strategy == "canary" && old != 0 && old != r.n {
			p := e.cfg.Rollout.CanaryPercent
			split = []meta.TrafficShare{{Revision: old, Percent: 100 - p}, {Revision: r.n, Percent: p}}
		} else {
			e.row.Stable = r.n
		}
		if err := e.setTraffic(split); err != nil {
			e.s.log.Error("traffic not saved", "endpoint", e.name(), "err", err)
		}
		e.cand = 0
		e.row.State, e.row.Message = StateRunning, "Endpoint is ready"
		if err := e.saveRow(); err != nil {
			e.s.log.Error("endpoint not saved", "endpoint", e.name(), "err", err)
		}
		e.logf("state: running — %s rolled out", revName(r.n))
		e.reconcile(time.Now())
		return
	}
	switch e.row.State {
	case StatePending, StateInitializing:
		if e.anyReady() {
			e.restoring = false
			e.setState(StateRunning, "Endpoint is ready")
		}
	}
}

// tick samples the load, scales each revision and the endpoint to zero
// when idle, and reconciles.
func (e *endpoint) tick(now time.Time) {
	if e.deleted {
		return
	}
	sc := e.cfg.Compute.Scaling
	if e.row.State == StateRunning || e.row.State == StateUpdateFailed || e.row.State == StateUpdating {
		for _, r := range e.revs {
			if e.share(r.n) == 0 {
				continue
			}
			cur := max(len(r.replicas)+r.launching, 1)
			if hw, limit := sc.hardware(); hw {
				// hardwareUsage: the replicas' CPU use summed, against the
				// threshold per replica.
				used := 0.0
				for _, p := range r.replicas {
					p.sampleCPU()
					used += math.Float64frombits(p.cpu.Load())
				}
				r.scaler.observe(now, used)
				r.target = r.scaler.decide(now, cur, sc.MinReplica, sc.MaxReplica, limit)
				continue
			}
			// Requests waiting in line count as pending too, by the
			// revision's share of the traffic.
			r.scaler.observe(now, float64(r.inflight)+float64(e.held*e.share(r.n))/100)
			r.target = r.scaler.decide(now, cur, sc.MinReplica, sc.MaxReplica, sc.threshold())
		}
		if idle := sc.idleMinutes(); idle > 0 && e.inflight == 0 && e.held == 0 &&
			now.Sub(e.lastActive) >= time.Duration(idle)*e.s.cfg.Minute && e.row.State != StateUpdating {
			e.scaleToZero("Scaled to zero after " + fmt.Sprint(idle) + " minutes without requests")
			return
		}
	}
	e.reconcile(now)
}

// scaleToZero stops every replica; the next request wakes the endpoint.
func (e *endpoint) scaleToZero(message string) {
	e.setState(StateScaledToZero, message)
	e.reconcile(time.Now())
}

// wake starts a scaled-to-zero endpoint again.
func (e *endpoint) wake() {
	if e.row.State != StateScaledToZero {
		return
	}
	e.lastActive = time.Now()
	e.setState(StateInitializing, "Scaling up from zero")
	e.reconcile(time.Now())
}

// saveStats writes the statistics that changed.
func (e *endpoint) saveStats() {
	if e.deleted {
		return
	}
	for _, r := range e.revs {
		if raw, ok := r.stats.save(); ok {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := e.s.meta.SetRevisionStats(ctx, e.row.ID, r.n, raw); err != nil {
				e.s.log.Error("statistics not saved", "endpoint", e.name(), "err", err)
			}
			cancel()
		}
	}
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}

func sortEndpoints(list []*endpoint) {
	slices.SortFunc(list, func(a, b *endpoint) int {
		return strings.Compare(strings.ToLower(a.row.Name), strings.ToLower(b.row.Name))
	})
}
