package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

// workLoop starts queued jobs, as many at once as there are slots. A job is
// taken from the queue, moved from SCHEDULING to RUNNING (which only one
// worker can do) and only then its queue entry completed: a crash between
// the two leaves an entry whose job is no longer SCHEDULING, which the next
// lease completes without running it twice.
func (s *Service) workLoop() {
	defer s.wg.Done()
	worker := "jobs-" + newID()[:8]
	w := meta.Waiting{Kinds: []string{queueKind}, Worker: worker, Lease: 5 * time.Minute, Wake: s.wake, Poll: time.Second,
		OnError: func(err error) { s.log.Warn("jobs: leasing from the queue", "err", err) }}
	for {
		select {
		case s.slots <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		started := false
		for !started {
			item := s.cfg.Meta.NextJob(s.ctx, w)
			if item == nil {
				return
			}
			var p struct{ ID string }
			json.Unmarshal(item.Payload, &p)
			ok, err := s.cfg.Meta.StartJobRun(s.ctx, p.ID, s.self.ID())
			if err != nil {
				s.cfg.Meta.Fail(s.ctx, item.ID, err.Error(), time.Now().Add(5*time.Second), 20)
				continue
			}
			s.cfg.Meta.Complete(s.ctx, item.ID)
			if !ok {
				continue // canceled while queued, or already taken
			}
			started = true
			ctx, cancel := context.WithCancel(s.ctx)
			r := &run{cancel: cancel}
			s.mu.Lock()
			s.runs[p.ID] = r
			s.mu.Unlock()
			s.wg.Add(1)
			go func(id string) {
				defer s.wg.Done()
				defer func() { <-s.slots }()
				s.execute(ctx, id, r)
			}(p.ID)
		}
	}
}

// execute runs one job that has just moved to RUNNING, to its end.
func (s *Service) execute(ctx context.Context, id string, r *run) {
	defer r.cancel()
	j, err := s.cfg.Meta.JobRun(ctx, id)
	if err != nil {
		if r.canceledNow(s) {
			s.finish(id, r, haven.JobCanceled, "Canceled", nil)
			return
		}
		s.finish(id, r, haven.JobError, "Job not found when it started", nil)
		return
	}
	open := runlog.Create
	if j.Spec.Resumable {
		open = runlog.Append // a resumed job's log goes on
	}
	l, err := open(s.logPath(id))
	if err != nil {
		s.finish(id, r, haven.JobError, "Cannot write the job's log: "+err.Error(), nil)
		return
	}
	s.mu.Lock()
	r.log = l
	s.mu.Unlock()
	s.broadcast()
	fmt.Fprintf(l, "===== Job started at %s =====\n", time.Now().UTC().Format("2006-01-02 15:04:05"))

	work := filepath.Join(s.cfg.Dir, "work", id)
	cleanup := func() { os.RemoveAll(work) }
	stage, message, after := s.runJob(ctx, j, r, l, work)
	if stage != haven.JobCompleted && r.canceledNow(s) {
		// Canceled while it was being prepared: whatever step the cancel
		// cut short failed because of it, not on its own.
		stage, message = haven.JobCanceled, "Canceled"
	}
	if ctx.Err() != nil && s.ctx.Err() != nil {
		// Haven is stopping: the next Start settles the job.
		l.Close()
		return
	}
	if after != nil {
		after(l)
	}
	cleanup()
	if j.Spec.Resumable {
		os.RemoveAll(filepath.Join(s.cfg.Dir, "data", j.ID)) // its checkpoints: it has ended
	}
	s.finish(id, r, stage, message, l)
}

// finish records a job's end and closes its log.
func (s *Service) finish(id string, r *run, stage, message string, l *runlog.File) {
	if l != nil {
		if message != "" && stage != haven.JobCompleted {
			fmt.Fprintf(l, "===== %s: %s =====\n", stage, message)
		}
		l.Close()
		s.archiveLog(id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.cfg.Meta.SettleJobRun(ctx, id, s.self.ID(), stage, message); err != nil {
		s.log.Warn("jobs: recording the end of a job", "job", id, "err", err)
	}
	s.mu.Lock()
	delete(s.runs, id)
	s.mu.Unlock()
	s.broadcast()
}

// runJob builds the job's environment and runs its command. It returns the
// stage and message the job ends with, and what must happen once it has
// stopped (copying writable volumes back).
func (s *Service) runJob(ctx context.Context, j *haven.Job, r *run, l *runlog.File, work string) (string, string, func(io.Writer)) {
	secrets, err := s.jobSecrets(ctx, j)
	if err != nil {
		return haven.JobError, "The job's secrets do not open with this hub's key", nil
	}
	for _, v := range secrets {
		l.Mask(v)
	}
	initiator, err := s.cfg.Meta.UserByID(ctx, j.InitiatorID)
	if err != nil {
		return haven.JobError, "The user who started the job no longer exists", nil
	}
	timeout := defaultTimeout
	if j.Spec.TimeoutSeconds > 0 {
		timeout = time.Duration(j.Spec.TimeoutSeconds) * time.Second
	}
	token, actor, release, err := s.jobToken(ctx, j, initiator, timeout)
	if err != nil {
		return haven.JobError, "Cannot create the job's token: " + err.Error(), nil
	}
	defer release()
	l.Mask(token)

	fl, ok := runnerFlavors(s).Lookup(j.Spec.Flavor)
	if !ok {
		return haven.JobError, fmt.Sprintf("The flavor %s is not offered on this hub any more", j.Spec.Flavor), nil
	}
	w := &runner.Workload{
		ID:      "job-" + j.ID,
		Kind:    runner.KindJob,
		Command: append(append([]string{}, j.Spec.Command...), j.Spec.Arguments...),
		Env:     map[string]string{},
		Secrets: secrets,
		Limits:  fl.Limits(),
		User:    "jobs-" + strconv.FormatInt(j.OwnerID, 10),
	}
	w.Limits.WallClock = timeout
	files := j.Spec.Files
	if files == "" {
		files = filepath.Join(work, "files")
		if err := os.MkdirAll(files, 0o755); err != nil {
			return haven.JobError, err.Error(), nil
		}
	}
	w.Files = files
	if j.Spec.DockerImage != "" {
		if w.Recipe, err = s.recipe(j.Spec.DockerImage); err != nil {
			return haven.JobError, haven.ErrorMessage(err), nil
		}
	} else {
		recipe, spaceFiles, err := s.cfg.SpaceRecipe(ctx, actor, j.Spec.SpaceID)
		if err != nil {
			return haven.JobError, haven.ErrorMessage(err), nil
		}
		w.Recipe, w.Files = recipe, spaceFiles
	}
	w.Recipe.Requirements = append(w.Recipe.Requirements, j.Spec.Requirements...)

	// The environment of the Hub's jobs, then the job's own variables.
	cache := filepath.Join(s.cfg.Dir, "cache", strconv.FormatInt(j.OwnerID, 10))
	// The owner's package cache, shared by their jobs and no one else's.
	w.Mounts = append(w.Mounts, runner.Mount{Source: cache, Target: cache})
	accel := "none"
	if fl.GPUs > 0 {
		accel = "gpu"
	}
	for k, v := range map[string]string{
		"JOB_ID":                   j.ID,
		"ACCELERATOR":              accel,
		"CPU_CORES":                strconv.Itoa(int(w.Limits.CPUs)),
		"MEMORY":                   fmt.Sprintf("%dGi", max(1, w.Limits.MemoryMB>>10)),
		"HF_ENDPOINT":              s.cfg.PublicURL,
		"PYTHONUNBUFFERED":         "1",
		"UV_CACHE_DIR":             filepath.Join(cache, "uv"),
		"UV_PYTHON_DOWNLOADS":      "never",
		"HF_HUB_DISABLE_TELEMETRY": "1",
	} {
		w.Env[k] = v
	}
	for k, v := range j.Spec.Environment {
		w.Env[k] = v
	}
	if _, ok := w.Secrets["HF_TOKEN"]; !ok {
		w.Secrets["HF_TOKEN"] = token
	}
	if j.Spec.Resumable {
		w.Data = filepath.Join(s.cfg.Dir, "data", j.ID)
	}

	after, err := s.mountVolumes(ctx, j, actor, w, work, l)
	if err != nil {
		return haven.JobError, haven.ErrorMessage(err), nil
	}
	release2, err := s.cfg.GPUs.Assign(w, fl.GPUs)
	if err != nil {
		return haven.JobError, haven.ErrorMessage(err), after
	}
	defer release2()

	b, err := s.cfg.Runner.Build(ctx, w, false, l)
	if err != nil {
		if r.canceledNow(s) {
			return haven.JobCanceled, "Canceled", after
		}
		return haven.JobError, "Build failed: " + haven.ErrorMessage(err), after
	}
	h, err := s.cfg.Runner.Start(ctx, w, b, l)
	if err != nil {
		if r.canceledNow(s) {
			return haven.JobCanceled, "Canceled", after
		}
		return haven.JobError, "The job did not start: " + haven.ErrorMessage(err), after
	}
	s.mu.Lock()
	r.h = h
	canceled := r.canceled
	s.mu.Unlock()
	if canceled {
		h.Stop(context.Background(), 5*time.Second)
	}
	<-h.Done()
	e := h.Exit()
	switch {
	case r.canceledNow(s):
		return haven.JobCanceled, "Canceled", after
	case e.TimedOut:
		return haven.JobError, fmt.Sprintf("Job timeout: it ran longer than its %s limit", timeout), after
	case e.OOM:
		return haven.JobError, e.Reason, after
	case e.Code == 0 && e.Signal == "":
		return haven.JobCompleted, "", after
	case outOfMemory(l.Tail(20)):
		// Without cgroups the memory limit is an rlimit: the program sees
		// failed allocations, and says so.
		return haven.JobError, fmt.Sprintf("Memory limit exceeded (%dMi for %s): %s", w.Limits.MemoryMB, fl.Name, e.Reason), after
	}
	return haven.JobError, e.Reason, after
}

// outOfMemory reports whether a log's last lines tell of failed
// allocations.
func outOfMemory(lines []string) bool {
	for _, l := range lines {
		if strings.Contains(l, "MemoryError") || strings.Contains(l, "Cannot allocate memory") || strings.Contains(l, "std::bad_alloc") {
			return true
		}
	}
	return false
}

func (r *run) canceledNow(s *Service) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return r.canceled
}

func runnerFlavors(s *Service) runner.Flavors { return runner.JobFlavors(s.cfg.GPUs) }

// jobSecrets opens a job's sealed secrets.
func (s *Service) jobSecrets(ctx context.Context, j *haven.Job) (map[string]string, error) {
	sealed, err := s.cfg.Meta.JobRunSecrets(ctx, j.ID)
	if err != nil {
		return nil, err
	}
	return s.openSecrets("job "+j.ID, sealed)
}

// jobToken makes the token a job talks to the hub with: the rights of the
// user who started it (narrowed like the token they used), valid while the
// job may run, deleted when it ends.
func (s *Service) jobToken(ctx context.Context, j *haven.Job, initiator *haven.User, timeout time.Duration) (string, *auth.Actor, func(), error) {
	plain, hash := auth.NewToken()
	tok := &haven.Token{UserID: initiator.ID, DisplayName: "job " + j.ID, Role: haven.RoleWrite,
		ExpiresAt: time.Now().Add(timeout + 15*time.Minute)}
	if j.Spec.Scopes != nil {
		tok.Role, tok.FineGrained = haven.RoleFineGrained, j.Spec.Scopes
	}
	if err := s.cfg.Meta.CreateToken(ctx, tok, hash); err != nil {
		return "", nil, nil, err
	}
	release := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.cfg.Meta.DeleteToken(ctx, initiator.ID, tok.ID)
		if s.cfg.TokensChanged != nil {
			s.cfg.TokensChanged()
		}
	}
	a, err := auth.FromToken(ctx, s.cfg.Meta, plain)
	if err != nil {
		release()
		return "", nil, nil, err
	}
	return plain, a, release, nil
}

// mountVolumes copies the job's bucket volumes into folders it mounts, and
// returns what copies the writable ones back once the job has stopped.
func (s *Service) mountVolumes(ctx context.Context, j *haven.Job, a *auth.Actor, w *runner.Workload, work string, l io.Writer) (func(io.Writer), error) {
	type back struct{ bucket, prefix, dir string }
	var backs []back
	for i, v := range j.Spec.Volumes {
		dir := filepath.Join(work, "volumes", strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		switch v.Type {
		case "bucket":
			fmt.Fprintf(l, "Mounting the bucket %s%s at %s\n", v.Source, pathSuffix(v.Path), v.MountPath)
			if err := s.cfg.Buckets.Materialize(ctx, a, v.Source, v.Path, dir); err != nil {
				return nil, haven.Errorf(haven.EInvalid, "Mounting the bucket %s failed: %s", v.Source, haven.ErrorMessage(err))
			}
			if !v.ReadOnly {
				backs = append(backs, back{v.Source, v.Path, dir})
			}
		default:
			return nil, haven.Errorf(haven.EInvalid, "Volumes of type %s are not offered by this hub", v.Type)
		}
		w.Mounts = append(w.Mounts, runner.Mount{Source: dir, Target: v.MountPath, ReadOnly: v.ReadOnly})
	}
	if len(backs) == 0 {
		return nil, nil
	}
	return func(l io.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		for _, b := range backs {
			if err := s.cfg.Buckets.SyncBack(ctx, a, b.bucket, b.prefix, b.dir); err != nil {
				fmt.Fprintf(l, "Saving to the bucket %s failed: %s\n", b.bucket, haven.ErrorMessage(err))
			}
		}
	}, nil
}

func pathSuffix(p string) string {
	if p = strings.Trim(p, "/"); p != "" {
		return "/" + p
	}
	return ""
}
