package inference

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/havenhub/haven/inference/onnx"
	"github.com/havenhub/haven/runner"
)

// goEngine reports whether a replica of spec runs on the Go engine
// (package onnx, in Haven's process) rather than the Python one: its task
// is one the Go engine serves, the checkout in dir has an ONNX graph and a
// tokenizer.json, and it asks for no GPU. Without ONNX Runtime the Go
// engine's pure-Go backend is tens of times slower than PyTorch, so it then
// takes only models the Python engine cannot load (no PyTorch weights) or
// tasks only it serves (text-ranking).
func (l *Launcher) goEngine(spec Spec, dir string) bool {
	if spec.Flavor.GPUs > 0 || !onnx.Serves(spec.Task) || onnx.FindIn(dir) == "" {
		return false
	}
	return l.cfg.ONNXRuntime != "" || !hasWeights(dir) || goOnly(spec.Task)
}

// goOnly reports whether only the Go engine serves task.
func goOnly(task string) bool { return task == "text-ranking" }

// hasWeights reports whether a checkout has weights the Python engine
// loads at its root.
func hasWeights(dir string) bool {
	for _, pattern := range []string{"*.safetensors", "pytorch_model*.bin"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) > 0 {
			return true
		}
	}
	return false
}

// launchGo loads the model in dir on the Go engine and serves it on a
// loopback port, so that it is reached like any engine.
func (l *Launcher) launchGo(spec Spec, dir string, log io.Writer) (*Replica, error) {
	start := time.Now()
	name := spec.Name
	if name == "" {
		name = spec.Repo.FullName()
	}
	opts := onnx.Options{Task: spec.Task, Name: name, ORTLib: l.cfg.ONNXRuntime,
		Threads: int(spec.Flavor.Limits().CPUs), MaxBatch: spec.MaxBatch, MaxConcurrency: spec.MaxConcurrency}
	m, err := onnx.Load(dir, opts)
	if err != nil && opts.ORTLib != "" {
		fmt.Fprintf(log, "ONNX Runtime did not load the model (%v); trying the pure-Go backend\n", err)
		opts.ORTLib = ""
		m, err = onnx.Load(dir, opts)
	}
	if err != nil {
		fmt.Fprintf(log, "the Go engine did not load the model: %v\n", err)
		return nil, &runner.Error{Message: "The Go engine did not load the model: " + err.Error()}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Close()
		return nil, err
	}
	h := &localHandle{addr: ln.Addr().String(), model: m, done: make(chan struct{}),
		srv: &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go h.srv.Serve(ln)
	fmt.Fprintf(log, "%s: the Go engine serves %s (%s) on %s, loaded in %s\n",
		time.Now().UTC().Format(time.RFC3339), name, m.Backend(), h.addr, time.Since(start).Round(time.Millisecond))
	return &Replica{Spec: spec, h: h}, nil
}

// localHandle is a runner.Handle for an engine in Haven's process.
type localHandle struct {
	addr  string
	model *onnx.Model
	srv   *http.Server
	once  sync.Once
	done  chan struct{}
}

func (h *localHandle) Addr() string          { return h.addr }
func (h *localHandle) Done() <-chan struct{} { return h.done }

func (h *localHandle) Exit() runner.Exit {
	return runner.Exit{Code: 0, Stopped: true, Reason: "Stopped"}
}

// Metrics reports the memory of Haven's whole process: the engine has no
// process of its own.
func (h *localHandle) Metrics(context.Context) (runner.Metrics, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runner.Metrics{MemoryBytes: int64(ms.Sys)}, nil
}

// Stop lets the requests in flight finish for grace, then unloads the
// model.
func (h *localHandle) Stop(ctx context.Context, grace time.Duration) error {
	h.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, max(grace, 10*time.Millisecond))
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			h.srv.Close()
		}
		h.model.Close()
		close(h.done)
	})
	return nil
}

func (h *localHandle) Exec(context.Context, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return -1, errors.New("the Go engine runs in Haven's process: there is nothing to exec beside it")
}

// modelDir is where a checkout made by files keeps the model.
func modelDir(dir string) string { return filepath.Join(dir, "model") }
