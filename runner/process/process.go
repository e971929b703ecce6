// Package process is the runner backend that runs workloads as local
// processes: each in its own process group, as its own user where Haven
// runs as root, confined by Landlock to its folders and the system's
// read-only ones, with rlimits, its Python environment built by uv.
package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/havenhub/haven/runner"
)

// Config configures a process runner.
type Config struct {
	// Dir holds environments (envs/), uv's cache (cache/) and the folders
	// of running workloads (work/).
	Dir string
	// UV is the uv executable; "" looks it up in PATH. Without one, only
	// workloads with no Python environment build.
	UV string
	// Python is the interpreter used when a recipe's version is not
	// installed; "" means python3.
	Python string
	// UVCache is uv's download cache; "" puts it under Dir. A cache shared
	// with other uv users saves downloads.
	UVCache string
	// Read are folders workloads may read besides the system's (/usr,
	// /etc, …), such as an /opt holding interpreters.
	Read []string
	// Envs holds the Python environments; "" puts them under Dir. Havens
	// that share one (on one machine) build each environment once.
	Envs string
	// Hide are folders no workload may read even where they lie inside a
	// readable one: Haven's data folder in /var/lib or /opt, say.
	Hide []string
	Log  *slog.Logger
}

// Runner is the process backend of runner.Runner.
type Runner struct {
	dir      string
	envs     string
	uv       string
	uvCache  string
	read     []string // what every workload may read, Hide carved out
	python   string
	exe      string // this binary, re-executed as the sandbox helper
	landlock int
	log      *slog.Logger

	mu   sync.Mutex
	live map[string]bool // work folders of running workloads
	uids map[string]int  // workload → user id, as in uids.json
}

var _ runner.Runner = (*Runner)(nil)

// New returns a process runner. Programs using it must call Main at the
// start of main.
func New(cfg Config) (*Runner, error) {
	if cfg.Dir == "" {
		return nil, errors.New("process runner: no folder")
	}
	// Workloads run elsewhere than Haven's working folder: every path they
	// are given must be absolute.
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = abs
	if cfg.Envs != "" {
		if cfg.Envs, err = filepath.Abs(cfg.Envs); err != nil {
			return nil, err
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("process runner: %w", err)
	}
	uv := cfg.UV
	if uv == "" {
		uv, _ = exec.LookPath("uv")
	}
	py := cfg.Python
	if py == "" {
		// The distribution's interpreter sits where every user reaches it,
		// unlike one installed under a home folder.
		py = "python3"
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			py = "/usr/bin/python3"
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{"envs", "cache", "work"} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	envs := cfg.Envs
	if envs == "" {
		envs = filepath.Join(cfg.Dir, "envs")
	}
	if err := os.MkdirAll(envs, 0o755); err != nil {
		return nil, err
	}
	uvCache := cfg.UVCache
	if uvCache == "" {
		uvCache = filepath.Join(cfg.Dir, "cache", "uv")
	}
	// Workloads run as other users where Haven is root: they must be able
	// to reach their folders, and nothing else of Haven's.
	os.Chmod(cfg.Dir, 0o711)
	read := append(append([]string{}, systemReadable...), cfg.Read...)
	for _, h := range cfg.Hide {
		// Landlock sees files where they really are.
		abs, _ := filepath.Abs(h)
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			read = carve(read, real)
		}
	}
	r := &Runner{dir: cfg.Dir, envs: envs, uv: uv, uvCache: uvCache, python: py, read: read, exe: exe, landlock: landlockABI(), log: log, live: map[string]bool{}}
	// Nothing runs here yet: whatever a previous Haven left in work/ (a
	// crash leaves its workloads running) is stopped and removed, the
	// workloads that are wanted start again from their owners.
	r.reapStale("")
	return r, nil
}

// Name reports "process".
func (p *Runner) Name() string { return "process" }

// Build builds w's Python environment. Images and Dockerfiles need a
// container engine; packages.txt cannot be installed and is only reported.
func (p *Runner) Build(ctx context.Context, w *runner.Workload, fresh bool, log io.Writer) (runner.Build, error) {
	if w.Recipe.Image != "" || w.Recipe.Dockerfile != "" {
		return nil, &runner.Error{Message: runner.ErrNeedsEngine}
	}
	if len(w.Recipe.Packages) > 0 {
		fmt.Fprintf(log, "WARNING: Debian packages are not installed by the process runner; these must already be on the machine: %s\n", strings.Join(w.Recipe.Packages, " "))
	}
	if p.landlock == 0 {
		fmt.Fprintln(log, "WARNING: this kernel has no Landlock: the app's file system access is not confined")
	}
	return p.build(ctx, w.Recipe, fresh, log)
}

// Start runs w in b. The workload gets a free loopback port for ${PORT}, a
// fresh copy of its files in work/{id}/app, a home and a temporary folder of
// its own.
func (p *Runner) Start(ctx context.Context, w *runner.Workload, b runner.Build, out io.Writer) (runner.Handle, error) {
	e, ok := b.(*env)
	if !ok {
		return nil, errors.New("process runner: a build from another runner")
	}
	if len(w.Command) == 0 {
		return nil, &runner.Error{Message: "nothing to run"}
	}
	// Each start gets a folder of its own: while a new revision starts, the
	// one it replaces still runs from its folder.
	p.reapStale(safeName(w.ID))
	work := filepath.Join(p.dir, "work", safeName(w.ID)+"."+strconv.FormatInt(time.Now().UnixNano(), 36))
	p.mu.Lock()
	p.live[work] = true
	p.mu.Unlock()
	app, home, tmp := filepath.Join(work, "app"), filepath.Join(work, "home"), filepath.Join(work, "tmp")
	for _, d := range []string{app, tmp} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{work, home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	identity := w.User
	if identity == "" {
		identity = w.ID
	}
	uid, gid, dropped, err := p.identity(identity)
	if err != nil {
		return nil, err
	}
	if err := runner.CopyTree(w.Files, app, dropped); err != nil {
		return nil, fmt.Errorf("process runner: copying the files: %w", err)
	}
	owned := []string{work, app, home, tmp}
	if w.Data != "" {
		if err := os.MkdirAll(w.Data, 0o700); err != nil {
			return nil, err
		}
		owned = append(owned, w.Data)
	}
	for _, m := range w.Mounts {
		if err := os.MkdirAll(m.Source, 0o755); err != nil {
			return nil, err
		}
		if !m.ReadOnly {
			owned = append(owned, m.Source)
		}
	}
	if dropped {
		for _, m := range w.Mounts {
			traversable(m.Source)
		}
		traversable(work)
		if w.Data != "" {
			traversable(w.Data)
		}
		for _, d := range []string{e.dir, e.base} {
			if d != "" {
				traversable(d)
			}
		}
		for _, d := range owned {
			if err := chownTree(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}

	port := 0
	if w.Port > 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	// Where Haven is root, mounts are real (in a mount namespace of the
	// workload's own); elsewhere their targets are rewritten to the folders.
	realMounts := dropped && len(w.Mounts) > 0
	expand := func(s string) string {
		s = strings.NewReplacer("${PORT}", strconv.Itoa(port), "${APP}", app).Replace(s)
		if !realMounts {
			for _, m := range w.Mounts {
				s = m.Rewrite(s)
			}
		}
		return s
	}
	environ := p.environ(w, e, app, home, tmp, expand)
	argv := make([]string, len(w.Command))
	for i, a := range w.Command {
		argv[i] = expand(a)
	}
	h := &handle{p: p, w: w, env: e, work: work, app: app, environ: environ, uid: uid, gid: gid, dropped: dropped, realMounts: realMounts, done: make(chan struct{})}
	if port > 0 {
		h.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	cmd, err := h.command(argv, port, app)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("process runner: %w", err)
	}
	h.cmd = cmd
	h.pgid = cmd.Process.Pid
	writePidFile(work, h.pgid)
	go h.wait()
	if port > 0 {
		go h.guardLoopback(port, out)
	}
	if w.Limits.WallClock > 0 {
		h.timer = time.AfterFunc(w.Limits.WallClock, func() {
			h.mu.Lock()
			h.timedOut = true
			h.mu.Unlock()
			h.Stop(context.Background(), 10*time.Second)
		})
	}
	return h, nil
}

// hasNvidiaDevices reports whether the machine has NVIDIA GPUs a
// workload could reach.
func hasNvidiaDevices() bool {
	m, _ := filepath.Glob("/dev/nvidia[0-9]*")
	return len(m) > 0
}

// networkVars are the variables of the machine's network settings.
var networkVars = []string{
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT",
	"UV_NATIVE_TLS", "UV_SYSTEM_CERTS", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL",
	"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
}

// environ is the workload's whole environment: a clean base, then its Env
// and Secrets. Nothing of Haven's own environment leaks in.
func (p *Runner) environ(w *runner.Workload, e *env, app, home, tmp string, expand func(string) string) []string {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	vars := map[string]string{
		"HOME":           home,
		"TMPDIR":         tmp,
		"LANG":           "C.UTF-8",
		"PATH":           path,
		"XDG_CACHE_HOME": filepath.Join(home, ".cache"),
		"HF_HOME":        filepath.Join(home, ".cache", "huggingface"),
	}
	// The machine's network settings pass through, so that workloads reach
	// what Haven reaches: behind a proxy or a private CA, or from a mirror
	// of the package index.
	for _, k := range networkVars {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	if e.dir != "" {
		vars["VIRTUAL_ENV"] = e.dir
		vars["PATH"] = filepath.Join(e.dir, "bin") + ":" + path
	}
	if w.Data != "" {
		vars["HAVEN_DATA_DIR"] = w.Data
	}
	for k, v := range w.Env {
		vars[k] = expand(v)
	}
	for k, v := range w.Secrets {
		vars[k] = expand(v)
	}
	// Only the GPUs handed to the workload, whatever its variables say
	// (empty: none, where the machine has some to hide; where it has none
	// the variable is left out, since an empty one slows CUDA libraries down).
	if len(w.Limits.GPUs) > 0 || hasNvidiaDevices() {
		vars["CUDA_VISIBLE_DEVICES"] = strings.Join(w.Limits.GPUs, ",")
	} else {
		delete(vars, "CUDA_VISIBLE_DEVICES")
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// identity is the user a workload runs as: where Haven is root, a user id
// of its own, so workloads cannot signal, trace or read one another;
// otherwise Haven's own.
func (p *Runner) identity(id string) (uid, gid int, dropped bool, err error) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid(), false, nil
	}
	// Never root: a workload that gets no id of its own does not start.
	if uid, err = p.allocateUID(id); err != nil {
		return 0, 0, false, fmt.Errorf("process runner: a user id for %s: %w", id, err)
	}
	return uid, uid, true, nil
}

// Workload user ids: each runner folder starts looking in a range of
// uidRange ids, one of uidSlots ranges above uidFirst chosen by the
// folder's path; ids are handed out once per workload and kept in
// uids.json. Every id in use is claimed machine-wide in uidClaims (a file
// per id naming the runner folder), so that two Havens on one machine
// never share one, even where their ranges meet.
const (
	uidFirst = 200000
	uidRange = 10000
	uidSlots = 400
)

func (p *Runner) allocateUID(id string) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	file := filepath.Join(p.dir, "uids.json")
	if p.uids == nil {
		p.uids = map[string]int{}
		if b, err := os.ReadFile(file); err == nil {
			if err := json.Unmarshal(b, &p.uids); err != nil {
				return 0, fmt.Errorf("%s: %w", file, err)
			}
		}
	}
	abs, _ := filepath.Abs(p.dir)
	if uid, ok := p.uids[id]; ok && claimUID(uid, abs) {
		return uid, nil
	}
	h := fnv.New32a()
	h.Write([]byte(abs))
	base := uidFirst + int(h.Sum32()%uidSlots)*uidRange
	used := map[int]bool{}
	for w, u := range p.uids {
		if w != id {
			used[u] = true
		}
	}
	for uid := base; uid < base+uidRange; uid++ {
		if used[uid] || !claimUID(uid, abs) {
			continue
		}
		p.uids[id] = uid
		b, _ := json.Marshal(p.uids)
		tmp := file + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return 0, err
		}
		return uid, os.Rename(tmp, file)
	}
	return 0, fmt.Errorf("all %d user ids of %s are taken", uidRange, abs)
}

// reapStale stops and removes what earlier starts of the workload named
// base ("": of every workload) left behind and nothing here runs any more:
// the folders of a Haven that crashed, and the processes still running in
// them.
func (p *Runner) reapStale(base string) {
	entries, _ := os.ReadDir(filepath.Join(p.dir, "work"))
	for _, e := range entries {
		if !e.IsDir() || (base != "" && e.Name() != base && !strings.HasPrefix(e.Name(), base+".")) {
			continue
		}
		work := filepath.Join(p.dir, "work", e.Name())
		p.mu.Lock()
		live := p.live[work]
		p.mu.Unlock()
		if live {
			continue
		}
		p.reap(work)
		os.RemoveAll(work)
	}
}

// reap kills what a previous Haven left running in a folder (a crash
// leaves no one to stop it), identified by its process group and start time.
func (p *Runner) reap(work string) {
	b, err := os.ReadFile(filepath.Join(work, "pid"))
	if err != nil {
		return
	}
	pgid, start, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if !ok {
		return
	}
	pid, _ := strconv.Atoi(pgid)
	if pid <= 1 {
		return
	}
	if st, err := readStat(pid); err == nil && st.pgrp == pid && strconv.FormatUint(st.start, 10) == start {
		p.log.Warn("process runner: stopping a workload left from before", "pgid", pid, "folder", work)
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func writePidFile(work string, pid int) {
	st, err := readStat(pid)
	if err != nil {
		return
	}
	os.WriteFile(filepath.Join(work, "pid"), []byte(fmt.Sprintf("%d %d\n", pid, st.start)), 0o600)
}

// safeName turns an ID into a folder name.
func safeName(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, id)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// chownTree gives dir's folders (and the files it created, not hard links)
// to the workload's user.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				return nil
			}
		}
		return os.Lchown(path, uid, gid)
	})
}

// handle is a started workload.
type handle struct {
	p       *Runner
	w       *runner.Workload
	env     *env
	work    string
	app     string
	environ []string
	uid     int
	gid     int
	dropped bool
	addr    string
	// realMounts: the workload's mounts are bind mounts at their targets.
	realMounts bool

	cmd   *exec.Cmd
	pgid  int
	timer *time.Timer
	done  chan struct{}

	mu       sync.Mutex
	exit     runner.Exit
	stopped  bool
	timedOut bool
	exposed  string  // the public address it listened on, when it did
	lastCPU  float64 // seconds of CPU at lastAt
	lastAt   time.Time
}

// command builds the exec.Cmd that starts argv through the sandbox helper,
// in its own process group, as the workload's user.
func (h *handle) command(argv []string, port int, dir string) (*exec.Cmd, error) {
	sb := sandbox{Argv: argv, Dir: dir, BindPort: port, Read: h.readable(), Write: h.writable()}
	if h.realMounts {
		// The helper starts as root in a mount namespace of its own, mounts,
		// then becomes the workload's user itself.
		sb.Mounts, sb.Drop, sb.UID, sb.GID = h.w.Mounts, true, h.uid, h.gid
	}
	if h.w.Limits.MemoryMB > 0 {
		sb.DataBytes = h.w.Limits.MemoryMB << 20
	}
	if h.dropped {
		// RLIMIT_NPROC counts the user's processes: only meaningful for a
		// user of the workload's own.
		sb.Procs = h.w.Limits.Pids
	}
	spec, err := jsonString(sb)
	if err != nil {
		return nil, err
	}
	// /proc/self/exe rather than the binary's path: a workload's user
	// may not be allowed to reach the folder Haven was started from.
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"haven-sandbox"}
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, h.environ...), sandboxEnv+"="+spec)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if h.realMounts {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS
	} else if h.dropped {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(h.uid), Gid: uint32(h.gid), Groups: []uint32{}}
	}
	return cmd, nil
}

// mountPath is where the workload finds a mount.
func (h *handle) mountPath(m runner.Mount) string {
	if h.realMounts {
		return m.Target
	}
	return m.Source
}

// readable are the folders a workload may read: the system's, its
// environment and the interpreter behind it.
func (h *handle) readable() []string {
	paths := append([]string{}, h.p.read...)
	if h.env.dir != "" {
		paths = append(paths, h.env.dir)
	}
	if h.env.base != "" {
		paths = append(paths, h.env.base)
	}
	for _, m := range h.w.Mounts {
		paths = append(paths, h.mountPath(m))
	}
	return paths
}

// writable are the folders a workload may write: its own (TMPDIR among
// them: the shared /tmp is not, since Haven's own temporary files may be
// there) and the harmless devices.
func (h *handle) writable() []string {
	paths := []string{h.work, "/dev/shm", "/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/pts"}
	if h.w.Data != "" {
		paths = append(paths, h.w.Data)
	}
	for _, m := range h.w.Mounts {
		if !m.ReadOnly {
			paths = append(paths, h.mountPath(m))
		}
	}
	return paths
}

func (h *handle) wait() {
	err := h.cmd.Wait()
	// Children left in the group go with the workload.
	syscall.Kill(-h.pgid, syscall.SIGKILL)
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Lock()
	e := runner.Exit{Stopped: h.stopped, TimedOut: h.timedOut}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			e.Code = -1
			e.Signal = ws.Signal().String()
		} else {
			e.Code = ws.ExitStatus()
		}
	case err != nil:
		e.Code = -1
		e.Reason = err.Error()
	}
	switch {
	case e.Reason != "":
	case h.exposed != "":
		e.Reason = "Stopped: the app listened on " + h.exposed + "; apps may listen on 127.0.0.1 only, where Haven's proxy reaches them"
	case e.TimedOut:
		e.Reason = fmt.Sprintf("Timed out after %s", h.w.Limits.WallClock)
	case e.Stopped:
		e.Reason = "Stopped"
	case e.Signal == "killed" && h.w.Limits.MemoryMB > 0:
		// Without a memory cgroup a kill from outside is most often the
		// kernel's OOM killer.
		e.Reason = fmt.Sprintf("Killed (memory limit %dMi or the machine's memory)", h.w.Limits.MemoryMB)
	case e.Signal != "":
		e.Reason = "Killed by signal: " + e.Signal
	default:
		e.Reason = fmt.Sprintf("Exit code: %d", e.Code)
	}
	h.exit = e
	h.mu.Unlock()
	// The folder held a copy of the files, a home and a temporary folder:
	// nothing that must outlive the run (Data is elsewhere).
	os.RemoveAll(h.work)
	h.p.mu.Lock()
	delete(h.p.live, h.work)
	h.p.mu.Unlock()
	close(h.done)
}

func (h *handle) Addr() string          { return h.addr }
func (h *handle) Done() <-chan struct{} { return h.done }

func (h *handle) Exit() runner.Exit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exit
}

// Stop sends SIGTERM to the workload's process group, then SIGKILL after
// grace.
func (h *handle) Stop(ctx context.Context, grace time.Duration) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	syscall.Kill(-h.pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-h.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	syscall.Kill(-h.pgid, syscall.SIGKILL)
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exec runs argv beside the workload: same user, environment, folder and
// confinement.
func (h *handle) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd, err := h.command(argv, 0, h.app)
	if err != nil {
		return -1, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// Metrics sums the CPU and resident memory of the workload's process group
// from /proc.
func (h *handle) Metrics(ctx context.Context) (runner.Metrics, error) {
	select {
	case <-h.done:
		return runner.Metrics{}, errors.New("process runner: the workload has exited")
	default:
	}
	var m runner.Metrics
	var cpu float64
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return m, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != h.pgid || st.zombie {
			continue
		}
		m.Pids++
		cpu += st.cpuSeconds
		m.MemoryBytes += st.rssBytes
	}
	now := time.Now()
	h.mu.Lock()
	if !h.lastAt.IsZero() {
		if dt := now.Sub(h.lastAt).Seconds(); dt > 0 {
			m.CPUMillicores = int64((cpu - h.lastCPU) / dt * 1000)
		}
	}
	h.lastCPU, h.lastAt = cpu, now
	h.mu.Unlock()
	if m.CPUMillicores < 0 {
		m.CPUMillicores = 0
	}
	cores := h.w.Limits.CPUs
	if cores <= 0 {
		cores = float64(numCPU())
	}
	m.CPUPercent = float64(m.CPUMillicores) / (cores * 10)
	m.MemoryMaxBytes = h.w.Limits.MemoryMB << 20
	if m.MemoryMaxBytes == 0 {
		m.MemoryMaxBytes = memTotal()
	}
	return m, nil
}

// systemReadable are the system's folders, which every workload may read.
var systemReadable = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/proc", "/sys", "/dev", "/run", "/var/lib"}

// carve returns paths with hidden taken out: a path that holds hidden is
// replaced by its entries, down to hidden's own folder, less hidden.
// Landlock only allows, so a secret folder inside an allowed one must be
// left out this way.
func carve(paths []string, hidden string) []string {
	var out []string
	for _, p := range paths {
		rel, err := filepath.Rel(p, hidden)
		switch {
		case err != nil || rel == ".." || strings.HasPrefix(rel, "../"):
			out = append(out, p) // hidden is elsewhere
		case rel == ".":
			// p is hidden itself
		default:
			entries, err := os.ReadDir(p)
			if err != nil {
				continue
			}
			var children []string
			for _, e := range entries {
				children = append(children, filepath.Join(p, e.Name()))
			}
			out = append(out, carve(children, hidden)...)
		}
	}
	return out
}

// guardLoopback stops a workload that listens on its port on an address
// other than loopback: Landlock bounds the ports it binds, not the
// addresses, and an app on 0.0.0.0 would be reachable past the proxy.
func (h *handle) guardLoopback(port int, out io.Writer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		addr := publicListener(port)
		if addr == "" {
			continue
		}
		fmt.Fprintf(out, "runner: the app listens on %s; apps may listen on 127.0.0.1 only\n", addr)
		h.mu.Lock()
		h.exposed = addr
		h.mu.Unlock()
		syscall.Kill(-h.pgid, syscall.SIGKILL)
		return
	}
}

// uidClaims is the machine-wide folder of user id claims: /run/haven-uids,
// or one in the temporary folder where /run cannot be written.
var uidClaims = sync.OnceValue(func() string {
	for _, d := range []string{"/run/haven-uids", filepath.Join(os.TempDir(), "haven-uids")} {
		if os.MkdirAll(d, 0o700) == nil {
			return d
		}
	}
	return ""
})

// claimUID claims uid for the runner folder owner, or reports that
// another folder holds it.
func claimUID(uid int, owner string) bool {
	dir := uidClaims()
	if dir == "" {
		return true
	}
	path := filepath.Join(dir, strconv.Itoa(uid))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		_, werr := f.WriteString(owner)
		return f.Close() == nil && werr == nil
	}
	b, err := os.ReadFile(path)
	return err == nil && string(b) == owner
}
