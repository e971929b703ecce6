// Package kubernetes is the runner backend that runs workloads on a
// Kubernetes cluster through its API: a Space app or an endpoint replica is
// a Deployment of one pod with a Service in front of it, a job is a batch/v1
// Job, a workload's secrets are a Secret its pod reads its environment from.
// Images are never built here: a Recipe naming an Image runs that image,
// a Python recipe runs a configured base image whose requirements an init
// container installs, and a Dockerfile is refused.
//
// Pods see Haven's files through the PersistentVolumeClaim that holds
// Haven's data folder: a workload's files, its /data and its mounts are
// folders inside that folder, which pods mount as sub-paths of the claim.
package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/havenhub/haven/runner"
)

// Config configures a Kubernetes runner.
type Config struct {
	// Client talks to the cluster (NewClient, or a fake in tests).
	Client k8s.Interface
	// Namespace is where the runner creates its objects; "" is "default".
	Namespace string
	// PythonImage is the image of Python recipes, "{python}" replaced by
	// the recipe's version; "" is docker.io/library/python:{python}-slim.
	PythonImage string
	// Claim is the PersistentVolumeClaim holding Haven's data folder, which
	// Haven sees at DataRoot. Workloads with files, /data or mounts need it:
	// without it only those with none of them run.
	Claim    string
	DataRoot string
	// GPUNodeSelector places pods that ask for GPUs ("nvidia.com/gpu.present":
	// "true"); nil places them wherever the scheduler finds the GPUs.
	GPUNodeSelector map[string]string
	Log             *slog.Logger
}

// Runner is the Kubernetes backend of runner.Runner.
type Runner struct {
	client    k8s.Interface
	ns        string
	pyImage   string
	claim     string
	dataRoot  string
	gpuNodes  map[string]string
	log       *slog.Logger
	mu        sync.Mutex
	live      map[string]bool // instances this runner started and has not seen end
	watchWait func()          // tests: called once a handle's watches are set
}

var (
	_ runner.Runner       = (*Runner)(nil)
	_ runner.ImageBuilder = (*Runner)(nil)
)

// New returns a runner on cfg's cluster.
func New(cfg Config) (*Runner, error) {
	if cfg.Client == nil {
		return nil, errors.New("kubernetes runner: no client")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		client: cfg.Client, ns: cfg.Namespace, pyImage: cfg.PythonImage, claim: cfg.Claim,
		gpuNodes: cfg.GPUNodeSelector, log: log, live: map[string]bool{},
	}
	if r.ns == "" {
		r.ns = "default"
	}
	if r.pyImage == "" {
		r.pyImage = "docker.io/library/python:{python}-slim"
	}
	if cfg.Claim != "" {
		if cfg.DataRoot == "" {
			return nil, errors.New("kubernetes runner: a claim needs the folder Haven mounts it at")
		}
		root, err := filepath.Abs(cfg.DataRoot)
		if err != nil {
			return nil, err
		}
		r.dataRoot = root
	}
	return r, nil
}

// NewClient connects to the cluster named by kubeconfig, a file; "" reads
// $KUBECONFIG or ~/.kube/config, else the service account of the pod Haven
// runs in. It returns the namespace of that configuration too.
func NewClient(kubeconfig string) (k8s.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	rc, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes runner: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes runner: %w", err)
	}
	rc.UserAgent = "haven"
	c, err := k8s.NewForConfig(rc)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes runner: %w", err)
	}
	return c, ns, nil
}

// Name reports "kubernetes".
func (r *Runner) Name() string { return "kubernetes" }

// Namespace is where the runner's objects are.
func (r *Runner) Namespace() string { return r.ns }

// BuildsImages reports true: recipes naming an image run here, and apps
// listen on every address of their pod, where the Service reaches them.
// Dockerfiles are the exception, refused by Build with a message saying so.
func (r *Runner) BuildsImages() bool { return true }

// ErrDockerfile is the message of a Dockerfile recipe: images are built
// elsewhere and pushed to a registry the cluster pulls from.
const ErrDockerfile = "Dockerfiles are not built on Kubernetes: build the image elsewhere, push it to a registry the cluster can pull from, or start Haven with --runner oci"

// build is what Build decided: the image, and for a Python recipe the key
// of its installed requirements.
type build struct {
	key    string
	image  string
	python *runner.Recipe // nil for an image recipe
	reused bool
}

func (b *build) Key() string  { return b.key }
func (b *build) Reused() bool { return b.reused }

// envVersion changes when the way requirements are installed changes.
const envVersion = 1

var pythonVersion = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)

// Build decides what w's pods run; nothing runs until Start. An Image is
// pulled by the cluster. A Python recipe runs PythonImage with the
// requirements that an init container installs under the claim's
// runner/kube-envs/{key} the first time, and that later pods of equal
// recipes reuse (without a claim, each pod installs them anew). Debian
// packages cannot be installed and a Dockerfile is refused.
func (r *Runner) Build(ctx context.Context, w *runner.Workload, fresh bool, log io.Writer) (runner.Build, error) {
	rc := w.Recipe
	switch {
	case rc.Dockerfile != "":
		return nil, &runner.Error{Message: ErrDockerfile}
	case rc.Image != "":
		fmt.Fprintf(log, "The cluster pulls %s when the workload starts\n", rc.Image)
		return &build{key: rc.Image, image: rc.Image}, nil
	}
	py := rc.Python
	if py == "" {
		py = "3.10"
	}
	if !pythonVersion.MatchString(py) {
		return nil, &runner.Error{Message: fmt.Sprintf("Invalid Python version %q", py)}
	}
	for _, p := range rc.Packages {
		fmt.Fprintf(log, "WARNING: %s from packages.txt is not installed: on Kubernetes, put Debian packages in an image of your own\n", p)
	}
	image := strings.ReplaceAll(r.pyImage, "{python}", py)
	h := sha256.New()
	fmt.Fprintf(h, "haven-kube-env %d\n%s\n%q\n%q\n", envVersion, image, rc.PreRequirements, rc.Requirements)
	key := hex.EncodeToString(h.Sum(nil))[:32]
	b := &build{key: key, image: image, python: &rc}
	if r.claim != "" {
		// Made here, as Haven's user: a sub-path the kubelet makes is
		// root's, where pods running as uid 1000 could not install.
		if err := os.MkdirAll(filepath.Join(r.dataRoot, envsDir), 0o755); err != nil {
			return nil, fmt.Errorf("kubernetes runner: %w", err)
		}
		dir := filepath.Join(r.dataRoot, envsDir, key)
		if fresh {
			if err := os.RemoveAll(dir); err != nil {
				return nil, fmt.Errorf("kubernetes runner: removing the environment: %w", err)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, readyFile)); err == nil {
			b.reused = true
		}
	}
	switch {
	case b.reused:
		fmt.Fprintf(log, "Using %s with the requirements installed before\n", image)
	case len(rc.PreRequirements)+len(rc.Requirements) > 0:
		fmt.Fprintf(log, "Using %s; the requirements are installed when the pod starts, in its run log\n", image)
	default:
		fmt.Fprintf(log, "Using %s\n", image)
	}
	return b, nil
}

// envsDir is where, in the data folder, installed requirements are kept;
// readyFile marks one installed completely.
const (
	envsDir   = "runner/kube-envs"
	readyFile = ".haven-ready"
)

// claimPath is the sub-path of the claim where Haven's folder p is; an
// error meant for the owner when p is outside the data folder.
func (r *Runner) claimPath(p, what string) (string, error) {
	if r.claim == "" {
		return "", &runner.Error{Message: fmt.Sprintf("This workload needs %s, which pods see only through the volume of Haven's data folder: start Haven with --kube-claim", what)}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(r.dataRoot, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", &runner.Error{Message: fmt.Sprintf("%s is outside Haven's data folder, which is all pods can see", what)}
	}
	if rel == "." {
		// The whole data folder holds Haven's keys and database.
		return "", &runner.Error{Message: fmt.Sprintf("%s cannot be Haven's whole data folder", what)}
	}
	return filepath.ToSlash(rel), nil
}
