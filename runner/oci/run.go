package oci

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/havenhub/haven/runner"
)

// expandPort replaces "${PORT}" in s: inside its container a workload
// listens on its own port, whatever the host maps it to. "${APP}" is the
// folder of the images built from a Python recipe (a Dockerfile decides
// its own).
func expandPort(s string, port int) string {
	return strings.NewReplacer("${PORT}", strconv.Itoa(port), "${APP}", appDir).Replace(s)
}

// Start runs w in a container named haven-{id}-{random} made from b's
// image, its Port published on a loopback port the engine picks. Command
// empty runs the image's own command.
func (r *Runner) Start(ctx context.Context, w *runner.Workload, b runner.Build, out io.Writer) (runner.Handle, error) {
	img, ok := b.(*image)
	if !ok {
		return nil, errors.New("oci runner: a build from another runner")
	}
	r.reap(ctx, w.ID)
	// A name of its own: the next instance of a workload starts while the
	// one it replaces still serves.
	var suffix [4]byte
	rand.Read(suffix[:])
	name := fmt.Sprintf("haven-%s-%x", safeName(w.ID), suffix)
	if w.Data != "" {
		// The engine runs in the runner's folder and mounts absolute paths
		// only.
		data, err := filepath.Abs(w.Data)
		if err != nil {
			return nil, err
		}
		cw := *w
		cw.Data = data
		w = &cw
		if err := os.MkdirAll(w.Data, 0o755); err != nil {
			return nil, err
		}
		// Apps run as uid 1000, as on the Hub: /data must be theirs.
		if os.Geteuid() == 0 {
			os.Chown(w.Data, 1000, 1000)
		}
	}
	envFile, err := r.writeEnvFile(w)
	if err != nil {
		return nil, err
	}
	if envFile != "" {
		defer os.Remove(envFile)
	}
	// Live before it exists, so that a concurrent reap leaves it alone.
	r.mu.Lock()
	r.live[name] = true
	r.mu.Unlock()
	argv := runArgs(r.podman, w, img.ref, name, envFile)
	if _, err := r.output(ctx, argv...); err != nil {
		r.remove(context.Background(), name)
		r.forget(name)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &runner.Error{Message: fmt.Sprintf("The container did not start: %v", err)}
	}
	h := &handle{r: r, w: w, name: name, done: make(chan struct{}), logsDone: make(chan struct{})}
	logs := r.command(context.Background(), "logs", "-f", name)
	logs.Stdout, logs.Stderr = out, out
	if err := logs.Start(); err != nil {
		close(h.logsDone)
		fmt.Fprintf(out, "Could not follow the container's output: %v\n", err)
	} else {
		go func() { logs.Wait(); close(h.logsDone) }()
	}
	if w.Port > 0 {
		p, err := r.output(ctx, "port", name, strconv.Itoa(w.Port)+"/tcp")
		if err == nil {
			h.addr, err = parsePort(p)
		}
		if err != nil {
			r.remove(context.Background(), name)
			r.forget(name)
			return nil, fmt.Errorf("oci runner: the container's port: %w", err)
		}
	}
	if w.Limits.WallClock > 0 {
		h.timer = time.AfterFunc(w.Limits.WallClock, func() {
			h.mu.Lock()
			h.timedOut = true
			h.mu.Unlock()
			h.Stop(context.Background(), 10*time.Second)
		})
	}
	go h.wait()
	return h, nil
}

// reap removes the containers of workload id that this runner did not
// start: the remains of a Haven that ended without removing them.
func (r *Runner) reap(ctx context.Context, id string) {
	names, err := r.output(ctx, "ps", "-a", "--filter", "label=haven.workload="+id, "--format", "{{.Names}}")
	if err != nil {
		return
	}
	for _, name := range strings.Fields(names) {
		r.mu.Lock()
		live := r.live[name]
		r.mu.Unlock()
		if !live {
			r.log.Warn("oci runner: removing a container left from before", "container", name)
			r.remove(ctx, name)
		}
	}
}

// remove removes a container, killing it first if it runs: podman's
// `rm -f` would wait for the stop timeout, docker's kills at once.
func (r *Runner) remove(ctx context.Context, name string) {
	args := []string{"rm", "-f"}
	if r.podman {
		args = append(args, "-t", "0")
	}
	r.output(ctx, append(args, name)...)
}

func (r *Runner) forget(name string) {
	r.mu.Lock()
	delete(r.live, name)
	r.mu.Unlock()
}

// writeEnvFile writes w's Secrets to an env file readable by Haven only,
// so they never appear on a command line or in the engine's record of it;
// "" when there are none. The caller removes it once the container exists.
func (r *Runner) writeEnvFile(w *runner.Workload) (string, error) {
	if len(w.Secrets) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(w.Secrets))
	for k := range w.Secrets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := expandPort(w.Secrets[k], w.Port)
		// An env file holds one variable a line.
		if strings.ContainsAny(v, "\n\r") || strings.ContainsAny(k, "=\n\r") {
			return "", &runner.Error{Message: fmt.Sprintf("The secret %s holds a line break, which a container's environment cannot be given", k)}
		}
		b.WriteString(k + "=" + v + "\n")
	}
	f, err := os.CreateTemp(r.dir, "env-")
	if err != nil {
		return "", err
	}
	// CreateTemp makes the file 0600 already; the check costs nothing.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// runArgs is the `run` command line of w in a container named name from
// image ref; secrets come from envFile, never from the line itself.
func runArgs(podman bool, w *runner.Workload, ref, name, envFile string) []string {
	args := []string{"run", "-d", "--name", name, "--label", "haven.workload=" + w.ID,
		"--security-opt", "no-new-privileges"}
	if w.Port > 0 {
		// No host port: the engine picks a free one, without the race of
		// choosing it here first.
		args = append(args, "-p", "127.0.0.1::"+strconv.Itoa(w.Port))
	}
	l := w.Limits
	if l.MemoryMB > 0 {
		m := strconv.FormatInt(l.MemoryMB, 10) + "m"
		// Swap equal to memory: the limit is a limit, and going over it
		// ends the app with OOMKilled rather than slowing it down.
		args = append(args, "--memory", m, "--memory-swap", m)
	}
	if l.CPUs > 0 {
		args = append(args, "--cpus", strconv.FormatFloat(l.CPUs, 'f', -1, 64))
	}
	if l.Pids > 0 {
		args = append(args, "--pids-limit", strconv.Itoa(l.Pids))
	}
	if len(l.GPUs) > 0 {
		// The devices are renumbered from 0 inside the container, so
		// CUDA_VISIBLE_DEVICES is left to the engine's GPU hook.
		if podman {
			for _, g := range l.GPUs {
				args = append(args, "--device", "nvidia.com/gpu="+g)
			}
		} else {
			// Quoted: docker reads --gpus as CSV, whose commas would split
			// the device list.
			args = append(args, "--gpus", `"device=`+strings.Join(l.GPUs, ",")+`"`)
		}
	}
	if w.Data != "" {
		args = append(args, "-v", w.Data+":/data")
	}
	for _, m := range w.Mounts {
		v := m.Source + ":" + m.Target
		if m.ReadOnly {
			v += ":ro"
		}
		args = append(args, "-v", v)
	}
	keys := make([]string, 0, len(w.Env))
	for k := range w.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-e", k+"="+expandPort(w.Env[k], w.Port))
	}
	if w.Data != "" {
		if _, ok := w.Env["HAVEN_DATA_DIR"]; !ok {
			args = append(args, "-e", "HAVEN_DATA_DIR=/data")
		}
	}
	if envFile != "" {
		args = append(args, "--env-file", envFile)
	}
	args = append(args, ref)
	for _, a := range w.Command {
		args = append(args, expandPort(a, w.Port))
	}
	return args
}

// parsePort reads the host address `{engine} port` prints.
func parsePort(s string) (string, error) {
	line := strings.TrimSpace(strings.SplitN(strings.TrimSpace(s), "\n", 2)[0])
	host, port, err := net.SplitHostPort(line)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 || (host != "" && net.ParseIP(host) == nil) {
		return "", fmt.Errorf("unexpected %q", s)
	}
	if host == "0.0.0.0" || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// handle is a started container.
type handle struct {
	r        *Runner
	w        *runner.Workload
	name     string
	addr     string
	timer    *time.Timer
	done     chan struct{}
	logsDone chan struct{}

	mu       sync.Mutex
	exit     runner.Exit
	stopped  bool
	timedOut bool
}

// state is what `inspect` says of a container's end.
type state struct {
	ExitCode  int
	OOMKilled bool
	Error     string
}

// wait waits for the container to end, reads how it ended, then removes it.
func (h *handle) wait() {
	ctx := context.Background()
	_, werr := h.r.output(ctx, "wait", h.name)
	// The output follower ends with the container; its last lines must be
	// read before the container goes.
	select {
	case <-h.logsDone:
	case <-time.After(10 * time.Second):
	}
	var st state
	var ierr error
	if werr == nil {
		var js string
		js, ierr = h.r.output(ctx, "container", "inspect", "--format", "{{json .State}}", h.name)
		if ierr == nil {
			ierr = json.Unmarshal([]byte(js), &st)
		}
	}
	h.r.remove(ctx, h.name)
	h.r.forget(h.name)
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Lock()
	e := runner.Exit{Stopped: h.stopped, TimedOut: h.timedOut}
	switch {
	case werr != nil:
		e.Code, e.Reason = -1, "Lost the container: "+werr.Error()
	case ierr != nil:
		e.Code, e.Reason = -1, "Could not read how the container ended: "+ierr.Error()
	default:
		e.Code, e.OOM = st.ExitCode, st.OOMKilled
		// Engines report a death by signal as 128 + the signal's number.
		if e.Code > 128 && e.Code < 128+65 {
			e.Signal = syscall.Signal(e.Code - 128).String()
			e.Code = -1
		}
	}
	limit := h.w.Limits.MemoryMB
	switch {
	case e.Reason != "":
	case e.OOM && limit > 0:
		e.Reason = fmt.Sprintf("Memory limit exceeded (%s)", memString(limit))
	case e.OOM:
		e.Reason = "Memory limit exceeded"
	case e.TimedOut:
		e.Reason = fmt.Sprintf("Timed out after %s", h.w.Limits.WallClock)
	case e.Stopped:
		e.Reason = "Stopped"
	case st.Error != "":
		e.Reason = st.Error
	case e.Signal == "killed" && limit > 0:
		// Some engines (podman on cgroup v1) do not report OOMKilled; a
		// kill nobody asked for is then most often the memory limit.
		e.Reason = fmt.Sprintf("Killed (memory limit %s or the machine's memory)", memString(limit))
	case e.Signal != "":
		e.Reason = "Killed by signal: " + e.Signal
	default:
		e.Reason = fmt.Sprintf("Exit code: %d", e.Code)
	}
	h.exit = e
	h.mu.Unlock()
	close(h.done)
}

// memString writes megabytes as the Hub does: "512Mi", "16Gi".
func memString(mb int64) string {
	if mb%1024 == 0 {
		return fmt.Sprintf("%dGi", mb/1024)
	}
	return fmt.Sprintf("%dMi", mb)
}

func (h *handle) Addr() string          { return h.addr }
func (h *handle) Done() <-chan struct{} { return h.done }

func (h *handle) Exit() runner.Exit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exit
}

// Stop asks the engine to stop the container: its stop signal, then a kill
// after grace (rounded up to whole seconds, the engine's unit). The
// container is removed once its end is read.
func (h *handle) Stop(ctx context.Context, grace time.Duration) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	secs := int((grace + time.Second - 1) / time.Second)
	_, err := h.r.output(ctx, "stop", "-t", strconv.Itoa(secs), h.name)
	if err != nil {
		// Gone already, or the engine is slow: kill it outright.
		h.r.output(context.Background(), "kill", h.name)
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exec runs argv in the container, as its user, in its working folder.
func (h *handle) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	select {
	case <-h.done:
		return -1, errors.New("oci runner: the workload has exited")
	default:
	}
	args := []string{"exec"}
	if stdin != nil {
		args = append(args, "-i")
	}
	args = append(append(args, h.name), argv...)
	cmd := h.r.command(ctx, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// Metrics asks the engine for one sample of the container's use.
func (h *handle) Metrics(ctx context.Context) (runner.Metrics, error) {
	select {
	case <-h.done:
		return runner.Metrics{}, errors.New("oci runner: the workload has exited")
	default:
	}
	js, err := h.r.output(ctx, "stats", "--no-stream", "--format", "json", h.name)
	if err != nil {
		return runner.Metrics{}, err
	}
	m, err := parseStats(js)
	if err != nil {
		return m, err
	}
	cores := h.w.Limits.CPUs
	if cores <= 0 {
		cores = float64(runtime.NumCPU())
	}
	m.CPUPercent = float64(m.CPUMillicores) / (cores * 10)
	if lim := h.w.Limits.MemoryMB << 20; lim > 0 {
		m.MemoryMaxBytes = lim
	}
	return m, nil
}

// parseStats reads `stats --format json`: podman prints an array of
// objects with snake_case keys, docker one object a line with CamelCase
// keys; both give percentages and "used / limit" strings.
func parseStats(js string) (runner.Metrics, error) {
	var m runner.Metrics
	var rows []map[string]any
	if err := json.Unmarshal([]byte(js), &rows); err != nil {
		dec := json.NewDecoder(strings.NewReader(js))
		for {
			var row map[string]any
			if err := dec.Decode(&row); err == io.EOF {
				break
			} else if err != nil {
				return m, fmt.Errorf("oci runner: reading stats: %w", err)
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return m, errors.New("oci runner: the engine gave no stats")
	}
	get := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := rows[0][k]; ok {
				return strings.TrimSpace(fmt.Sprint(v))
			}
		}
		return ""
	}
	if pct, err := strconv.ParseFloat(strings.TrimSuffix(get("cpu_percent", "CPUPerc"), "%"), 64); err == nil {
		// A percentage of one core, as both engines count it.
		m.CPUMillicores = int64(pct * 10)
	}
	used, limit, _ := strings.Cut(get("mem_usage", "MemUsage"), "/")
	m.MemoryBytes = parseSize(used)
	m.MemoryMaxBytes = parseSize(limit)
	m.Pids, _ = strconv.Atoi(get("pids", "PIDs"))
	return m, nil
}

// parseSize reads sizes as engines print them: "1.303MB", "512MiB", "0B".
func parseSize(s string) int64 {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0
	}
	units := map[string]float64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}
	u, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0
	}
	return int64(n * u)
}
