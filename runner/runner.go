// Package runner runs workloads — Space apps, jobs, inference engines — behind
// one interface, whatever executes them: local processes (the default),
// containers, or a cluster. Callers above it (the Spaces stage machine, the
// jobs service, inference endpoints) never see process details.
package runner

import (
	"context"
	"io"
	"strings"
	"time"
)

// Kind says what a workload is for; backends may place kinds differently
// (a job may be given a deadline, an app a readiness check).
type Kind string

// Workload kinds.
const (
	KindSpace    Kind = "space"
	KindJob      Kind = "job"
	KindEndpoint Kind = "endpoint"
)

// Recipe says how to build a workload's environment. Two recipes that are
// equal build the same environment, which backends reuse (Key).
type Recipe struct {
	// Python is the interpreter version ("3.10", "3.12.4"); empty for none.
	Python string
	// PreRequirements are installed first, then Requirements (pip lines).
	PreRequirements []string
	Requirements    []string
	// Packages are Debian packages (a Space's packages.txt). Backends that
	// cannot install them say so in the build log.
	Packages []string
	// Image is a container image to run in ("python:3.12"); Dockerfile is
	// the path of a Dockerfile inside the workload's files to build one.
	// Only container backends honour them; others refuse with ErrNeedsEngine.
	Image      string
	Dockerfile string
}

// Limits bound what a workload may use; zero means the backend's default.
type Limits struct {
	CPUs      float64 // cores
	MemoryMB  int64
	Pids      int
	DiskMB    int64
	GPUs      []string // device ids to expose (CUDA_VISIBLE_DEVICES)
	WallClock time.Duration
}

// Workload is one thing to build and run.
type Workload struct {
	// ID names the workload, stable across restarts ("space-alice-demo",
	// "job-687f…"); backends use it for folders and process names.
	ID   string
	Kind Kind
	// Files is a folder holding the workload's files (a checkout of the repo
	// at the revision); the backend runs Command in a copy or view of it.
	Files  string
	Recipe Recipe
	// Command is the argv to run, in the app folder. "${PORT}" in Command and
	// in Env values is replaced by the port the workload must listen on,
	// "${APP}" by the folder its files are in, as the workload sees it.
	Command []string
	Env     map[string]string
	// Secrets are passed like Env but their values are masked in every log.
	Secrets map[string]string
	// Port is the port the app listens on inside its sandbox; 0 when it
	// serves nothing. Backends may map it elsewhere: Handle.Addr says where.
	Port   int
	Limits Limits
	// Data is a folder that outlives restarts (mounted at /data where the
	// backend can mount; its path in HAVEN_DATA_DIR otherwise); "" for none.
	Data string
	// Mounts are more folders the workload sees (a job's volumes, caches).
	Mounts []Mount
	// User groups workloads that run as one user (a job owner's jobs share
	// a cache); "" gives the workload a user of its own.
	User string
}

// Mount is a folder of the host a workload sees at Target. Backends that
// cannot mount (local processes) give the workload Source itself, and
// replace Target at the start of Command arguments and Env values with it.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
}

// Rewrite replaces a mount target at the start of s, or of the value after
// "=" in an --option=value argument, with its source.
func (m Mount) Rewrite(s string) string {
	if m.Target == "" || m.Target == "/" {
		return s
	}
	prefix, rest := "", s
	if strings.HasPrefix(s, "-") {
		if k, v, ok := strings.Cut(s, "="); ok {
			prefix, rest = k+"=", v
		}
	}
	if rest == m.Target || strings.HasPrefix(rest, m.Target+"/") {
		return prefix + m.Source + rest[len(m.Target):]
	}
	return s
}

// Build is a built environment, ready to start workloads from.
type Build interface {
	// Key identifies the environment: equal recipes give equal keys.
	Key() string
	// Reused reports whether the environment existed before this build.
	Reused() bool
}

// Runner builds and starts workloads.
type Runner interface {
	// Build prepares w's environment, writing progress to log line by line.
	// An environment with the same key is reused unless fresh is set (a
	// factory rebuild). Build errors are *Error values meant for the user.
	Build(ctx context.Context, w *Workload, fresh bool, log io.Writer) (Build, error)
	// Start runs w in the environment b, writing its stdout and stderr to
	// out. It returns once the workload is started, not when it is ready.
	Start(ctx context.Context, w *Workload, b Build, out io.Writer) (Handle, error)
	// Name is the backend's name ("process", "oci", "kubernetes").
	Name() string
}

// Handle is a started workload.
type Handle interface {
	// Addr is the host:port where the workload's Port is reachable, "" when
	// it has none.
	Addr() string
	// Done is closed when the workload has exited; Exit then says how.
	Done() <-chan struct{}
	Exit() Exit
	// Metrics samples the workload's resource use now.
	Metrics(ctx context.Context) (Metrics, error)
	// Stop ends the workload: a polite signal, then a kill after grace.
	Stop(ctx context.Context, grace time.Duration) error
	// Exec runs argv beside the workload, in its environment and folder.
	Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// Exit is how a workload ended.
type Exit struct {
	Code     int    // exit status, -1 when killed by a signal
	Signal   string // "killed", "terminated", … when killed
	OOM      bool   // ended by its memory limit
	Stopped  bool   // ended by Stop
	TimedOut bool   // ended by Limits.WallClock
	Reason   string // one line for people: "Exit code: 1", "Memory limit exceeded (512Mi)"
}

// Metrics is one sample of a workload's resource use.
type Metrics struct {
	CPUMillicores  int64 // average since the previous sample
	CPUPercent     float64
	MemoryBytes    int64
	MemoryMaxBytes int64 // the limit, or the machine's memory
	Pids           int
}

// Error is a failure meant for the workload's owner (a bad requirement, a
// missing interpreter); its message goes into errorMessage as it is.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

// ErrNeedsEngine is the message of a Recipe that only a container backend
// can build (an Image or a Dockerfile) given to one that cannot.
const ErrNeedsEngine = "This workload needs a container engine: start Haven with --runner oci on a machine where podman or docker runs"
