// Package inference serves hub models: it starts engine processes for a
// model at a pinned commit through the runner (the Python engine in
// inference/engine/ on Haven's ML stack), holds requests until an engine is
// ready, and answers the Hub's serverless task API and the OpenAI-compatible
// API under /inference. Dedicated endpoints (package endpoints) start their
// replicas through the same Launcher.
package inference

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"

	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/mlstack"
	"github.com/havenhub/haven/runner"
)

// engineFiles is the engine program, copied beside each model checkout.
//
//go:embed engine
var engineFiles embed.FS

// LauncherConfig is what a Launcher needs.
type LauncherConfig struct {
	Git    *gitstore.Store
	Open   gitstore.LFSOpener // the bytes of LFS objects, for checkouts
	Runner runner.Runner
	GPUs   *runner.GPUPool
	// Dir holds model checkouts (one per repository and commit, shared by
	// every replica of it).
	Dir string
	// ONNXRuntime is the path of libonnxruntime.so, which the Go engine
	// runs ONNX graphs on; "" runs them on its pure-Go backend.
	ONNXRuntime string
	Logger      *slog.Logger
}

// Launcher starts engine replicas.
type Launcher struct {
	cfg LauncherConfig
	log *slog.Logger
	mu  sync.Mutex
	co  map[string]*sync.Mutex // checkout locks, by folder
}

// NewLauncher returns a Launcher.
func NewLauncher(cfg LauncherConfig) (*Launcher, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	return &Launcher{cfg: cfg, log: cfg.Logger, co: map[string]*sync.Mutex{}}, nil
}

// Spec says what to launch.
type Spec struct {
	// ID names the replica's workload, unique among running ones
	// ("infer-12-3f2a…", "endpoint-ns-name-r3-1").
	ID string
	// Repo and SHA are the model and the commit it is served at.
	Repo *haven.Repo
	SHA  string
	// Task is the pipeline tag the engine serves ("" lets it infer one).
	Task string
	// Name is the model name the engine reports (OpenAI "model").
	Name   string
	Flavor runner.Flavor
	// Env and Secrets are given to the engine (an endpoint's env and
	// secrets); nil for none.
	Env     map[string]string
	Secrets map[string]string
	// MaxBatch and MaxConcurrency bound the engine's batches and the
	// requests it takes at once (0: its defaults).
	MaxBatch, MaxConcurrency int
	// Ready bounds the wait for the engine to load (default 10 minutes,
	// including building its environment the first time).
	Ready time.Duration
	// Custom runs a program of the endpoint's own instead of Haven's
	// engine; nil for the engine.
	Custom *Custom
}

// Custom is an endpoint's own program serving its model: Command run in
// the model's environment (Haven's ML stack) by the process runner, or in
// Image by a container runner. The model's checkout is at /repository
// (rewritten to its folder where the runner cannot mount), the port to
// listen on in ${PORT} and $PORT (Port inside a container, default 80),
// and it is ready once HealthRoute answers 200.
type Custom struct {
	Image       string
	Command     []string
	Env         map[string]string
	HealthRoute string
	Port        int
}

// Replica is a running engine.
type Replica struct {
	Spec Spec
	h    runner.Handle
	gpus func() // gives its GPUs back
}

// Addr is the engine's host:port.
func (r *Replica) Addr() string { return r.h.Addr() }

// Done is closed when the engine has exited.
func (r *Replica) Done() <-chan struct{} { return r.h.Done() }

// Exit says how the engine ended (after Done).
func (r *Replica) Exit() runner.Exit { return r.h.Exit() }

// Metrics samples the engine's resource use.
func (r *Replica) Metrics(ctx context.Context) (runner.Metrics, error) { return r.h.Metrics(ctx) }

// Stop ends the engine, letting requests in flight finish for grace.
func (r *Replica) Stop(ctx context.Context, grace time.Duration) error {
	err := r.h.Stop(ctx, grace)
	if r.gpus != nil {
		r.gpus()
	}
	return err
}

// Launch checks the model out at its commit (once), builds the engine's
// environment (shared with every workload on Haven's ML stack), starts the
// engine with its output going to log, and returns once it answers its
// health route, or the reason it never did. An ONNX encoder model whose
// task the Go engine serves is loaded in Haven's process instead (see
// Launcher.goEngine), which needs no runner.
func (l *Launcher) Launch(ctx context.Context, spec Spec, log io.Writer) (*Replica, error) {
	files, err := l.files(ctx, spec.Repo, spec.SHA)
	if err != nil {
		return nil, err
	}
	if spec.Custom == nil && l.goEngine(spec, modelDir(files)) {
		return l.launchGo(spec, modelDir(files), log)
	}
	if l.cfg.Runner == nil {
		return nil, haven.Errorf(haven.EInvalid, "This hub runs no models: start Haven with a runner (--runner process or oci)")
	}
	if spec.Custom != nil {
		return l.launchCustom(ctx, spec, files, log)
	}
	name := spec.Name
	if name == "" {
		name = spec.Repo.FullName()
	}
	argv := []string{"python", "engine/engine.py", "--model", "${APP}/model", "--port", "${PORT}", "--host", "127.0.0.1", "--name", name}
	if spec.Task != "" {
		argv = append(argv, "--task", spec.Task)
	}
	if spec.MaxBatch > 0 {
		argv = append(argv, "--max-batch", strconv.Itoa(spec.MaxBatch))
	}
	if spec.MaxConcurrency > 0 {
		argv = append(argv, "--max-concurrency", strconv.Itoa(spec.MaxConcurrency))
	}
	limits := spec.Flavor.Limits()
	env := map[string]string{
		"HF_HUB_OFFLINE":           "1", // the model is on disk; nothing is fetched
		"HF_HUB_DISABLE_TELEMETRY": "1",
		"TOKENIZERS_PARALLELISM":   "false",
		"PYTHONUNBUFFERED":         "1",
		"CPU_CORES":                strconv.Itoa(int(limits.CPUs)),
		"OMP_NUM_THREADS":          strconv.Itoa(max(1, int(limits.CPUs))),
	}
	for k, v := range spec.Env {
		env[k] = v
	}
	w := &runner.Workload{
		ID:      spec.ID,
		Kind:    runner.KindEndpoint,
		Files:   files,
		Recipe:  runner.Recipe{Python: "3", Requirements: mlstack.Requirements()},
		Command: argv,
		Env:     env,
		Secrets: spec.Secrets,
		Port:    8000,
		Limits:  limits,
		User:    "engines", // engines share a user: they only ever read models
	}
	release, err := l.cfg.GPUs.Assign(w, spec.Flavor.GPUs)
	if err != nil {
		return nil, err
	}
	b, err := l.cfg.Runner.Build(ctx, w, false, log)
	if err != nil {
		release()
		return nil, err
	}
	h, err := l.cfg.Runner.Start(ctx, w, b, log)
	if err != nil {
		release()
		return nil, err
	}
	return l.ready(ctx, spec, &Replica{Spec: spec, h: h, gpus: release}, "/health")
}

// ready waits until r answers its health route, or stops it.
func (l *Launcher) ready(ctx context.Context, spec Spec, r *Replica, route string) (*Replica, error) {
	ready := spec.Ready
	if ready <= 0 {
		ready = 10 * time.Minute
	}
	if err := waitHealthy(ctx, r.h, route, ready); err != nil {
		r.Stop(context.Background(), time.Second)
		return nil, err
	}
	return r, nil
}

// RunsImages reports whether the runner runs container images (an
// endpoint's custom image); the process runner does not.
func (l *Launcher) RunsImages() bool {
	return l.cfg.Runner != nil && l.cfg.Runner.Name() != "process"
}

// launchCustom starts an endpoint's own program on the model's checkout.
func (l *Launcher) launchCustom(ctx context.Context, spec Spec, files string, log io.Writer) (*Replica, error) {
	cu := spec.Custom
	port := cu.Port
	if port == 0 {
		port = 80
	}
	env := map[string]string{"PORT": "${PORT}", "HF_HUB_OFFLINE": "1", "HF_MODEL_DIR": "/repository",
		"MODEL_ID": spec.Name, "PYTHONUNBUFFERED": "1"}
	for k, v := range spec.Env {
		env[k] = v
	}
	for k, v := range cu.Env {
		env[k] = v
	}
	recipe := runner.Recipe{Python: "3", Requirements: mlstack.Requirements()}
	if cu.Image != "" {
		recipe = runner.Recipe{Image: cu.Image}
	}
	w := &runner.Workload{
		ID: spec.ID, Kind: runner.KindEndpoint, Files: files, Recipe: recipe, Command: cu.Command,
		Env: env, Secrets: spec.Secrets, Port: port, Limits: spec.Flavor.Limits(), User: "engines",
		Mounts: []runner.Mount{{Source: modelDir(files), Target: "/repository", ReadOnly: true}},
	}
	fmt.Fprintf(log, "[haven] running the endpoint's own program %q (health route %s)\n", strings.Join(cu.Command, " "), cu.HealthRoute)
	release, err := l.cfg.GPUs.Assign(w, spec.Flavor.GPUs)
	if err != nil {
		return nil, err
	}
	b, err := l.cfg.Runner.Build(ctx, w, false, log)
	if err != nil {
		release()
		return nil, err
	}
	h, err := l.cfg.Runner.Start(ctx, w, b, log)
	if err != nil {
		release()
		return nil, err
	}
	return l.ready(ctx, spec, &Replica{Spec: spec, h: h, gpus: release}, cu.HealthRoute)
}

// waitHealthy polls the engine's health route until it answers 200, the
// engine exits, or the time is up.
func waitHealthy(ctx context.Context, h runner.Handle, route string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.Addr()+route, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-h.Done():
			return &runner.Error{Message: "The engine stopped while loading the model: " + h.Exit().Reason}
		case <-ctx.Done():
			return &runner.Error{Message: fmt.Sprintf("The engine did not load the model within %s", within)}
		case <-tick.C:
		}
	}
}

// files returns the folder an engine runs in: the model's checkout at sha
// under model/ and the engine program under engine/, made once per
// repository and commit.
func (l *Launcher) files(ctx context.Context, repo *haven.Repo, sha string) (string, error) {
	dir := filepath.Join(l.cfg.Dir, strconv.FormatInt(repo.ID, 10), sha)
	l.mu.Lock()
	lock := l.co[dir]
	if lock == nil {
		lock = &sync.Mutex{}
		l.co[dir] = lock
	}
	l.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "engine")); err == nil {
		return dir, nil
	}
	g, err := l.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return "", err
	}
	model := filepath.Join(dir, "model")
	if _, err := os.Stat(model); errors.Is(err, fs.ErrNotExist) {
		if err := g.Checkout(ctx, sha, model, l.cfg.Open); err != nil {
			return "", err
		}
	}
	tmp := filepath.Join(dir, ".engine")
	os.RemoveAll(tmp)
	err = fs.WalkDir(engineFiles, "engine", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, strings.TrimPrefix(p, "engine"))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(engineFiles, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "engine")); err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755)
	return dir, nil
}
