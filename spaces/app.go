package spaces

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/runner/runlog"
)

// app is the live record of one Space: its recorded state, the instance
// serving requests (if any) and the deploy in progress (if any). Every
// stage change is written to the database, so a restart of Haven finds it.
type app struct {
	s  *Service
	mu sync.Mutex

	repo    *haven.Repo
	st      meta.SpaceState
	cfg     *appConfig // of the revision being served, or last tried
	serving *instance
	cancel  context.CancelFunc // of the deploy in progress
	gen     int                // bumped by every deploy, pause and shutdown
	changed chan struct{}      // closed and replaced on every stage change

	buildLog *runlog.File
	runLog   *runlog.File
	attempt  int

	lastSeen atomic.Int64 // unix nanoseconds of the last proxied request
	active   atomic.Int64 // proxied requests in flight (streams count)
}

// instance is one started revision of an app.
type instance struct {
	sha     string
	cfg     *appConfig
	h       runner.Handle
	stopped atomic.Bool
	prefix  string // path prefix the app expects in requests ("" when stripped)
}

func (in *instance) stop() {
	in.stopped.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	in.h.Stop(ctx, 5*time.Second)
}

func newApp(s *Service, repo *haven.Repo) *app {
	a := &app{s: s, repo: repo, changed: make(chan struct{})}
	a.st.RepoID = repo.ID
	a.attempt = a.lastAttempt()
	return a
}

func (a *app) setRepo(repo *haven.Repo) {
	a.mu.Lock()
	a.repo = repo
	a.mu.Unlock()
}

func (a *app) dir(parts ...string) string {
	return filepath.Join(append([]string{a.s.cfg.Dir, strconv.FormatInt(a.st.RepoID, 10)}, parts...)...)
}

// setStage records a stage change; the caller holds a.mu.
func (a *app) setStage(stage, msg, sha string) {
	a.st.Stage, a.st.ErrorMessage = stage, msg
	if sha != "" {
		a.st.SHA = sha
	}
	st := a.st
	if err := a.s.cfg.Meta.PutSpaceState(context.WithoutCancel(a.s.ctx), &st); err != nil {
		a.s.log.Warn("spaces: recording stage", "space", a.repo.FullName(), "stage", stage, "err", err)
	}
	close(a.changed)
	a.changed = make(chan struct{})
}

// restore brings the app back to the stage recorded before Haven stopped:
// running apps start again (their environment is cached, so nothing is
// rebuilt that did not change); sleeping, paused and failed ones stay.
func (a *app) restore(st meta.SpaceState) {
	a.mu.Lock()
	a.st = st
	a.mu.Unlock()
	switch st.Stage {
	case StageRunning, StageAppStarting, StageBuilding, StageRunningBuilding, StageRunningAppStarting:
		if a.repo.SDK == SDKStatic && st.Stage == StageRunning {
			return
		}
		a.deploy(st.SHA, false, false)
	}
}

// push deploys a new revision, unless the owner paused the Space.
func (a *app) push(sha string) {
	a.mu.Lock()
	paused := a.st.Stage == StagePaused
	a.mu.Unlock()
	if paused {
		return
	}
	a.deploy(sha, false, false)
}

// deploy starts building and running sha, cancelling a deploy in progress.
// The instance serving now keeps serving until the new one is ready.
func (a *app) deploy(sha string, fresh, waking bool) {
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.gen++
	gen := a.gen
	ctx, cancel := context.WithCancel(a.s.ctx)
	a.cancel = cancel
	stage := StageBuilding
	switch {
	case a.repo.SDK == SDKStatic:
		// Served from git as soon as the push lands; the deploy only
		// checks the card.
		stage = StageRunning
	case waking:
		stage = StageAppStarting
	case a.serving != nil:
		stage = StageRunningBuilding
	}
	a.setStage(stage, "", sha)
	a.mu.Unlock()
	go a.run(ctx, gen, sha, fresh)
}

// run is one deploy: read the card, check out the files, build the
// environment, start the app, wait until it answers, then swap it in.
func (a *app) run(ctx context.Context, gen int, sha string, fresh bool) {
	repo := a.currentRepo()
	cfg, files, err := a.s.prepare(ctx, repo, sha, a.dir("src"))
	if err != nil {
		var ce *configError
		switch {
		case ctx.Err() != nil:
		case errors.As(err, &ce) && ce.noApp:
			a.fail(gen, StageNoAppFile, ce.msg, sha)
		case errors.As(err, &ce):
			a.fail(gen, StageConfigError, ce.msg, sha)
		default:
			a.s.log.Error("spaces: preparing", "space", repo.FullName(), "err", err)
			a.fail(gen, StageBuildError, "Could not read the repository at "+short(sha), sha)
		}
		return
	}
	a.mu.Lock()
	a.cfg = cfg
	a.mu.Unlock()
	if cfg.SDK == SDKStatic {
		a.swap(gen, nil, sha)
		return
	}
	if cfg.SDK == SDKDocker && !runner.BuildsImages(a.s.cfg.Runner) {
		a.fail(gen, StageConfigError, "Docker Spaces need a container engine: start Haven with --runner oci on a machine where podman or docker runs", sha)
		return
	}
	if a.s.cfg.Runner == nil {
		a.fail(gen, StageConfigError, msgNoRunner, sha)
		return
	}
	w, gpus, err := a.s.workload(ctx, repo, cfg, files, a.dir())
	if err != nil {
		a.s.log.Error("spaces: workload", "space", repo.FullName(), "err", err)
		a.fail(gen, StageBuildError, "Could not prepare the app's environment", sha)
		return
	}

	attempt := a.nextAttempt()
	blog, err := a.newLog("build", attempt, w)
	if err != nil {
		a.fail(gen, StageBuildError, "Could not open the build log", sha)
		return
	}
	fmt.Fprintf(blog, "===== Build Queued at %s / Commit SHA: %s =====\n\n", time.Now().UTC().Format("2006-01-02 15:04:05"), short(sha))
	if err := a.s.preload(ctx, preloads(cfg, blog), files, blog); err != nil {
		fmt.Fprintf(blog, "\nBuild failed: %v\n", err)
		blog.Close()
		if ctx.Err() == nil {
			a.fail(gen, StageBuildError, "Build failed: "+err.Error(), sha)
		}
		return
	}
	b, err := a.s.cfg.Runner.Build(ctx, w, fresh, blog)
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(blog, "\nBuild failed: %v\n", err)
		}
		blog.Close()
		if ctx.Err() == nil {
			a.fail(gen, StageBuildError, "Build failed: "+userMessage(err), sha)
		}
		return
	}
	if b.Reused() {
		fmt.Fprintf(blog, "Reusing the cached environment %s\n", short(b.Key()))
	}
	fmt.Fprintf(blog, "Build done.\n")
	blog.Close()

	a.mu.Lock()
	if a.gen != gen {
		a.mu.Unlock()
		return
	}
	if a.serving != nil {
		a.setStage(StageRunningAppStarting, "", "")
	} else {
		a.setStage(StageAppStarting, "", "")
	}
	a.mu.Unlock()

	rlog, err := a.newLog("run", attempt, w)
	if err != nil {
		a.fail(gen, StageRuntimeError, "Could not open the run log", sha)
		return
	}
	fmt.Fprintf(rlog, "===== Application Startup at %s =====\n\n", time.Now().UTC().Format("2006-01-02 15:04:05"))
	release, err := a.s.acquireGPUs(w, gpus)
	if err != nil {
		fmt.Fprintf(rlog, "Could not start: %v\n", err)
		rlog.Close()
		a.fail(gen, StageRuntimeError, "Could not start the app: "+userMessage(err), sha)
		return
	}
	h, err := a.s.cfg.Runner.Start(ctx, w, b, rlog)
	if err != nil {
		release()
		fmt.Fprintf(rlog, "Could not start: %v\n", err)
		rlog.Close()
		a.fail(gen, StageRuntimeError, "Could not start the app: "+userMessage(err), sha)
		return
	}
	go func() { <-h.Done(); release() }()
	in := &instance{sha: sha, cfg: cfg, h: h, prefix: appPrefix(cfg, repo)}
	go func() { <-h.Done(); rlog.Close() }()
	if err := a.waitReady(ctx, in); err != nil {
		in.stop()
		if ctx.Err() == nil {
			a.fail(gen, StageRuntimeError, err.Error(), sha)
		}
		return
	}
	a.swap(gen, in, sha)
}

// swap makes in (nil for a static Space) the serving instance and stops the
// one it replaces.
func (a *app) swap(gen int, in *instance, sha string) {
	a.mu.Lock()
	if a.gen != gen {
		a.mu.Unlock()
		if in != nil {
			in.stop()
		}
		return
	}
	old := a.serving
	a.serving = in
	a.cancel = nil
	a.lastSeen.Store(time.Now().UnixNano())
	a.setStage(StageRunning, "", sha)
	a.mu.Unlock()
	if old != nil {
		old.stop()
	}
	if in != nil {
		go a.watch(in)
	}
	a.s.pruneCheckouts(a.dir("src"), sha)
}

// fail records a failed deploy. While an older revision serves, it keeps
// serving and the failure shows in errorMessage and the logs; otherwise the
// Space takes the failure's stage.
func (a *app) fail(gen int, stage, msg, sha string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen != gen {
		return
	}
	a.cancel = nil
	if a.serving != nil {
		a.setStage(StageRunning, fmt.Sprintf("Revision %s was not deployed (%s): %s", short(sha), stage, msg), sha)
		return
	}
	a.setStage(stage, msg, sha)
}

// watch turns an unexpected exit of the serving instance into RUNTIME_ERROR
// with the reason and the last lines of the run log.
func (a *app) watch(in *instance) {
	<-in.h.Done()
	if in.stopped.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.serving != in {
		return
	}
	a.serving = nil
	a.setStage(StageRuntimeError, crashMessage(in.h.Exit(), a.runLog), "")
}

func crashMessage(e runner.Exit, log *runlog.File) string {
	reason := e.Reason
	if reason == "" {
		reason = fmt.Sprintf("Exit code: %d", e.Code)
	}
	msg := reason
	if log != nil {
		if tail := log.Tail(20); len(tail) > 0 {
			msg += "\n\nContainer logs:\n\n" + strings.Join(tail, "\n")
		}
	}
	return msg
}

// waitReady waits until the app's port answers HTTP with anything but a
// server error, the app exits, or its startup window ends.
func (a *app) waitReady(ctx context.Context, in *instance) error {
	deadline := time.Now().Add(in.cfg.Startup)
	client := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for {
		select {
		case <-in.h.Done():
			return errors.New(crashMessage(in.h.Exit(), a.runLogNow()))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return &runner.Error{Message: fmt.Sprintf("The app did not answer within its startup window (%s, startup_duration_timeout)", in.cfg.Startup)}
		}
		addr := in.h.Addr()
		if addr == "" {
			continue
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		c.Close()
		resp, err := client.Get("http://" + addr + in.prefix + "/")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode < 500 {
			return nil
		}
	}
}

// maybeSleep stops an app idle for longer than its sleep time.
func (a *app) maybeSleep(now time.Time) {
	a.mu.Lock()
	in := a.serving
	if in == nil || a.st.Stage != StageRunning || a.active.Load() > 0 {
		a.mu.Unlock()
		return
	}
	d := a.sleepTime()
	if d <= 0 || now.Sub(time.Unix(0, a.lastSeen.Load())) < d {
		a.mu.Unlock()
		return
	}
	a.gen++
	a.serving = nil
	a.setStage(StageSleeping, "", "")
	a.mu.Unlock()
	in.stop()
}

// sleepTime is the idle time after which the app sleeps; 0 for never.
func (a *app) sleepTime() time.Duration {
	if a.st.SleepSeconds != nil {
		if *a.st.SleepSeconds < 0 {
			return 0
		}
		return time.Duration(*a.st.SleepSeconds) * time.Second
	}
	if a.st.Hardware != "" && a.st.Hardware != defaultFlavor {
		return 0 // upgraded hardware never sleeps unless asked to
	}
	return defaultSleep
}

// wake starts a sleeping app; the caller then waits with ready.
func (a *app) wake() {
	a.mu.Lock()
	sleeping := a.st.Stage == StageSleeping
	sha := a.st.SHA
	a.mu.Unlock()
	if sleeping {
		a.deploy(sha, false, true)
	}
}

// ready waits until the app serves and returns its instance (nil for a
// static Space), or fails with the reason it will not.
func (a *app) ready(ctx context.Context) (*instance, error) {
	for {
		a.mu.Lock()
		stage, in, ch := a.st.Stage, a.serving, a.changed
		msg := a.st.ErrorMessage
		a.mu.Unlock()
		switch stage {
		case StageRunning, StageRunningBuilding, StageRunningAppStarting:
			if in != nil || a.repo.SDK == SDKStatic || (a.cfg != nil && a.cfg.SDK == SDKStatic) {
				return in, nil
			}
		case StagePaused:
			return nil, haven.Errorf(haven.EUnavailable, "This Space is paused by its owner")
		case StageBuildError, StageConfigError, StageNoAppFile, StageRuntimeError:
			return nil, haven.Errorf(haven.EUnavailable, "This Space has an error (%s): %s", stage, firstLine(msg))
		case "":
			return nil, haven.Errorf(haven.EUnavailable, "This Space has not been built yet")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, haven.Errorf(haven.EUnavailable, "This Space is starting (%s); try again shortly", stage)
		}
	}
}

// pause stops the app until its owner restarts it.
func (a *app) pause() {
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
		a.cancel = nil
	}
	a.gen++
	in := a.serving
	a.serving = nil
	a.setStage(StagePaused, "", "")
	a.mu.Unlock()
	if in != nil {
		in.stop()
	}
}

// shutdown stops the app when Haven stops, without recording a stage, so
// that the next start brings it back.
func (a *app) shutdown() {
	a.mu.Lock()
	if a.cancel != nil {
		a.cancel()
	}
	a.gen++
	in := a.serving
	a.mu.Unlock()
	if in != nil {
		in.stop()
	}
}

func (a *app) currentRepo() *haven.Repo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.repo
}

func (a *app) runLogNow() *runlog.File {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runLog
}

// Logs are kept per attempt (build-N.log, run-N.log) so that every
// connection replays the same history.
func (a *app) nextAttempt() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempt++
	return a.attempt
}

func (a *app) lastAttempt() int {
	n := 0
	entries, _ := os.ReadDir(a.dir("logs"))
	for _, e := range entries {
		var k int
		if _, err := fmt.Sscanf(e.Name(), "build-%d.log", &k); err == nil && k > n {
			n = k
		}
	}
	return n
}

func (a *app) newLog(kind string, attempt int, w *runner.Workload) (*runlog.File, error) {
	if err := os.MkdirAll(a.dir("logs"), 0o755); err != nil {
		return nil, err
	}
	l, err := runlog.Create(a.dir("logs", fmt.Sprintf("%s-%d.log", kind, attempt)))
	if err != nil {
		return nil, err
	}
	for _, v := range w.Secrets {
		l.Mask(v)
	}
	a.mu.Lock()
	if kind == "build" {
		a.buildLog = l
	} else {
		a.runLog = l
	}
	a.mu.Unlock()
	return l, nil
}

// log returns the latest build or run log, opening the one a previous run
// of Haven left when there is none in memory; nil before the first build.
func (a *app) log(kind string) *runlog.File {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.runLog
	if kind == "build" {
		l = a.buildLog
	}
	if l != nil {
		return l
	}
	if a.attempt == 0 {
		return nil
	}
	l, err := runlog.Open(a.dir("logs", fmt.Sprintf("%s-%d.log", kind, a.attempt)))
	if err != nil {
		return nil
	}
	if kind == "build" {
		a.buildLog = l
	} else {
		a.runLog = l
	}
	return l
}

func userMessage(err error) string {
	var re *runner.Error
	if errors.As(err, &re) {
		return re.Message
	}
	return err.Error()
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
