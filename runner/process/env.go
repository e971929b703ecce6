package process

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/havenhub/haven/runner"
)

// envVersion changes when the way environments are built changes, so old
// ones are not reused.
const envVersion = 1

// env is a built Python environment (or none, for recipes without Python).
type env struct {
	key    string
	dir    string // the virtual environment; "" for none
	base   string // the interpreter's installation the environment links to
	reused bool
}

func (e *env) Key() string  { return e.key }
func (e *env) Reused() bool { return e.reused }

// recipeKey hashes what decides an environment's contents.
func recipeKey(r runner.Recipe) string {
	b, _ := json.Marshal(struct {
		V    int
		Py   string
		Pre  []string
		Reqs []string
	}{envVersion, r.Python, r.PreRequirements, r.Requirements})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:32]
}

// readyFile marks an environment whose build finished; a folder without it
// is the remains of an interrupted build and is built again.
const readyFile = ".haven-ready"

// build makes (or finds) the environment of r: `uv venv` with the requested
// interpreter, then `uv pip install` of the pre-requirements and the
// requirements. Environments live under envs/{key} and are shared by every
// workload with the same recipe, across restarts and rebuilds.
func (p *Runner) build(ctx context.Context, r runner.Recipe, fresh bool, log io.Writer) (*env, error) {
	key := recipeKey(r)
	if r.Python == "" && len(r.Requirements) == 0 && len(r.PreRequirements) == 0 {
		return &env{key: key}, nil
	}
	if p.uv == "" {
		return nil, &runner.Error{Message: "Python environments need uv, which this machine lacks: install it (pip install uv) and restart Haven"}
	}
	dir := filepath.Join(p.envs, key)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	// One build per key at a time, across Haven processes too.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if !fresh {
		if _, err := os.Stat(filepath.Join(dir, readyFile)); err == nil {
			return &env{key: key, dir: dir, base: venvHome(dir), reused: true}, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "Creating the Python environment %s\n", key[:12])
	if err := p.venv(ctx, r.Python, dir, log); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, reqs := range [][]string{r.PreRequirements, r.Requirements} {
		if len(reqs) == 0 {
			continue
		}
		file := filepath.Join(dir, ".haven-requirements.txt")
		if err := os.WriteFile(file, []byte(strings.Join(reqs, "\n")+"\n"), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "--> uv pip install %s\n", strings.Join(reqs, " "))
		if err := p.uvRun(ctx, log, "pip", "install", "--python", filepath.Join(dir, "bin", "python"), "-r", file); err != nil {
			os.RemoveAll(dir)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &runner.Error{Message: "Installing the requirements failed: see the build logs"}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, readyFile), nil, 0o644); err != nil {
		return nil, err
	}
	return &env{key: key, dir: dir, base: venvHome(dir)}, nil
}

// venv creates the virtual environment. Interpreters are not downloaded:
// when the requested version is not installed, the machine's python3 is
// used and the log says so.
func (p *Runner) venv(ctx context.Context, python, dir string, log io.Writer) error {
	args := []string{"venv", "--no-python-downloads", "--seed", dir}
	if python != "" {
		err := p.uvRun(ctx, io.Discard, append(args, "--python", python)...)
		if err == nil {
			fmt.Fprintf(log, "Python %s\n", python)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(log, "WARNING: Python %s is not installed on this machine; using %s instead\n", python, p.python)
	}
	if err := p.uvRun(ctx, log, append(args, "--python", p.python)...); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &runner.Error{Message: "No Python interpreter could be found for the environment"}
	}
	return nil
}

// uvRun runs uv with the runner's cache, copying its
// output to log line by line.
func (p *Runner) uvRun(ctx context.Context, log io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, p.uv, args...)
	cmd.Env = append(os.Environ(),
		"UV_CACHE_DIR="+p.uvCache,
		"UV_PYTHON_DOWNLOADS=never",
		"UV_COMPILE_BYTECODE=1", // imports at every start and wake are then faster
		"UV_NO_PROGRESS=1",
		"NO_COLOR=1",
	)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	return err
}

// venvHome reads the interpreter's folder from the environment's
// pyvenv.cfg: workloads must be able to read it.
func venvHome(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "pyvenv.cfg"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "home" {
			// home is the bin folder; the standard library sits beside it.
			return filepath.Dir(strings.TrimSpace(v))
		}
	}
	return ""
}
