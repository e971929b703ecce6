// Package oci is the runner backend that runs workloads in containers
// through a container engine's command line (podman or docker): a Space's
// Dockerfile or a generated one is built into an image, and each workload
// is one container with its port published on the loopback interface.
package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven/runner"
)

// Config configures an OCI runner.
type Config struct {
	// Engine is the engine's command: a path or a name looked up in PATH.
	// "" tries podman, then docker, and takes the first that answers.
	Engine string
	// Dir holds generated build contexts and, for a moment, env files;
	// "" uses the system's temporary folder.
	Dir string
	Log *slog.Logger
}

// Runner is the OCI backend of runner.Runner.
type Runner struct {
	engine string // the engine's executable
	podman bool   // the engine is podman (also behind a docker alias)
	dir    string
	log    *slog.Logger

	mu   sync.Mutex
	live map[string]bool // containers this runner started and has not seen end
}

var (
	_ runner.Runner       = (*Runner)(nil)
	_ runner.ImageBuilder = (*Runner)(nil)
)

// New returns an OCI runner after checking that its engine answers
// (`{engine} info`); the error says which engine failed and why.
func New(cfg Config) (*Runner, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := cfg.Dir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("oci runner: %w", err)
	}
	candidates := []string{cfg.Engine}
	if cfg.Engine == "" {
		candidates = []string{"podman", "docker"}
	}
	var errs []error
	for _, name := range candidates {
		path, err := exec.LookPath(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not found", name))
			continue
		}
		r := &Runner{engine: path, dir: dir, log: log, live: map[string]bool{}}
		if err := r.probe(); err != nil {
			errs = append(errs, err)
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("oci runner: no container engine answers (%w); start the engine's service or name one with --oci-engine", errors.Join(errs...))
}

// probe asks the engine for its info, which needs its daemon or storage
// to work, and learns whether it is podman.
func (r *Runner) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := r.output(ctx, "--version")
	if err != nil {
		return err
	}
	r.podman = strings.Contains(strings.ToLower(v), "podman")
	if _, err := r.output(ctx, "info"); err != nil {
		return err
	}
	return nil
}

// Name reports "oci".
func (r *Runner) Name() string { return "oci" }

// BuildsImages reports true: Dockerfiles and images are what this backend
// runs.
func (r *Runner) BuildsImages() bool { return true }

// Engine is the path of the engine's executable.
func (r *Runner) Engine() string { return r.engine }

// command is the engine run with args; the engine inherits Haven's
// environment, which says where its daemon or configuration is, and runs
// in the runner's folder, where what it may leave behind (conmon writes
// an "oom" file in its working folder on some hosts) does no harm.
func (r *Runner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.engine, args...)
	cmd.Dir = r.dir
	return cmd
}

// output runs the engine and returns its standard output; its error carries
// the last line of what the engine wrote to standard error.
func (r *Runner) output(ctx context.Context, args ...string) (string, error) {
	cmd := r.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), r.engineError(args, err, stderr.String())
	}
	return string(out), nil
}

// engineError names the engine's subcommand and says what it said.
func (r *Runner) engineError(args []string, err error, stderr string) error {
	sub := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			sub = " " + a
			break
		}
	}
	if msg := lastLine(stderr); msg != "" {
		return fmt.Errorf("%s%s: %s", filepath.Base(r.engine), sub, msg)
	}
	return fmt.Errorf("%s%s: %w", filepath.Base(r.engine), sub, err)
}

// lastLine is the last line of s that is not blank.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// safeName turns an ID into a name the engine accepts for containers.
func safeName(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '_'
	}, id)
}
