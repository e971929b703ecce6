package jobs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/runner"
)

// defaultTimeout is the Hub's time limit of a job that names none.
const defaultTimeout = 30 * time.Minute

// uvVersion is the uv put into the environment of jobs on uv's images, so
// that `uv run` works as it does there; pinned, so that the environment is
// built once and shared.
const uvVersion = "0.13.8"

// wireSpec is a JobSpec as clients send it. Secret values may be null
// (`hf jobs run -s NAME` with NAME unset): those are dropped.
type wireSpec struct {
	DockerImage    string             `json:"dockerImage"`
	SpaceID        string             `json:"spaceId"`
	Command        []string           `json:"command"`
	Arguments      []string           `json:"arguments"`
	Environment    map[string]any     `json:"environment"`
	Secrets        map[string]*string `json:"secrets"`
	Flavor         string             `json:"flavor"`
	TimeoutSeconds *float64           `json:"timeoutSeconds"`
	Labels         map[string]string  `json:"labels"`
	Volumes        []haven.JobVolume  `json:"volumes"`
	Expose         json.RawMessage    `json:"expose"`
	SSH            *struct {
		Enabled bool `json:"enabled"`
	} `json:"ssh"`
	Arch     string `json:"arch"`
	Attempts int    `json:"attempts"`
}

var labelRE = regexp.MustCompile(`^[A-Za-z0-9._-]{0,100}$`)

// checkLabels refuses labels the Hub refuses.
func checkLabels(labels map[string]string) error {
	for k, v := range labels {
		if k == "" || !labelRE.MatchString(k) {
			return haven.Errorf(haven.EInvalid, "Invalid label key %q: up to 100 letters, digits, '.', '_' or '-'", k)
		}
		if !labelRE.MatchString(v) {
			return haven.Errorf(haven.EInvalid, "Invalid value of label %q: up to 100 letters, digits, '.', '_' or '-'", k)
		}
	}
	return nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parse checks a wire spec and splits it into the stored spec and the
// secret values.
func (s *Service) parse(w *wireSpec) (haven.JobSpec, map[string]string, error) {
	var spec haven.JobSpec
	if (w.DockerImage == "") == (w.SpaceID == "") {
		return spec, nil, haven.Errorf(haven.EInvalid, "A job needs either a dockerImage or a spaceId")
	}
	if len(w.Command) == 0 {
		return spec, nil, haven.Errorf(haven.EInvalid, "A job needs a command")
	}
	if w.SSH != nil && w.SSH.Enabled {
		return spec, nil, haven.Errorf(haven.EInvalid, "SSH into jobs is not offered by this hub")
	}
	if len(w.Expose) > 0 && string(w.Expose) != "null" && string(w.Expose) != "{}" {
		return spec, nil, haven.Errorf(haven.EInvalid, "Exposing ports of jobs is not offered by this hub")
	}
	if w.Arch != "" && w.Arch != "amd64" {
		return spec, nil, haven.Errorf(haven.EInvalid, "Unknown arch %q: this hub runs amd64 jobs", w.Arch)
	}
	spec = haven.JobSpec{
		DockerImage: w.DockerImage, SpaceID: w.SpaceID,
		Command: w.Command, Arguments: w.Arguments, Environment: map[string]string{},
		Flavor: w.Flavor, Labels: w.Labels, Volumes: w.Volumes,
	}
	if spec.Arguments == nil {
		spec.Arguments = []string{}
	}
	if spec.Flavor == "" {
		spec.Flavor = runner.DefaultFlavor
	}
	if err := runner.JobFlavors(s.cfg.GPUs).Check(spec.Flavor); err != nil {
		return spec, nil, haven.Errorf(haven.EInvalid, "%s", err.Error())
	}
	if w.TimeoutSeconds != nil {
		if *w.TimeoutSeconds <= 0 {
			return spec, nil, haven.Errorf(haven.EInvalid, "timeoutSeconds must be positive")
		}
		spec.TimeoutSeconds = int(*w.TimeoutSeconds + 0.5)
	}
	for k, v := range w.Environment {
		if !envNameRE.MatchString(k) {
			return spec, nil, haven.Errorf(haven.EInvalid, "Invalid environment variable name %q", k)
		}
		switch v := v.(type) {
		case string:
			spec.Environment[k] = v
		case nil:
		default:
			spec.Environment[k] = fmt.Sprint(v)
		}
	}
	secrets := map[string]string{}
	for k, v := range w.Secrets {
		if !envNameRE.MatchString(k) {
			return spec, nil, haven.Errorf(haven.EInvalid, "Invalid secret name %q", k)
		}
		if v != nil {
			secrets[k] = *v
			spec.Secrets = append(spec.Secrets, k)
		}
	}
	sort.Strings(spec.Secrets)
	if err := checkLabels(spec.Labels); err != nil {
		return spec, nil, err
	}
	for i, v := range spec.Volumes {
		if err := s.checkVolume(&spec.Volumes[i]); err != nil {
			return spec, nil, err
		}
		for _, o := range spec.Volumes[:i] {
			if o.MountPath == v.MountPath {
				return spec, nil, haven.Errorf(haven.EInvalid, "Two volumes are mounted at %s", v.MountPath)
			}
		}
	}
	if spec.DockerImage != "" {
		if _, err := s.recipe(spec.DockerImage); err != nil {
			return spec, nil, err
		}
	} else {
		if _, _, ok := strings.Cut(spec.SpaceID, "/"); !ok {
			return spec, nil, haven.Errorf(haven.EInvalid, "Invalid spaceId %q: expected NAMESPACE/NAME", spec.SpaceID)
		}
		if s.cfg.SpaceRecipe == nil {
			return spec, nil, haven.Errorf(haven.EInvalid, "This hub cannot run jobs in a Space's environment: it runs no Spaces")
		}
	}
	return spec, secrets, nil
}

func (s *Service) checkVolume(v *haven.JobVolume) error {
	if !strings.HasPrefix(v.MountPath, "/") || v.MountPath == "/" || strings.Contains(v.MountPath, "..") {
		return haven.Errorf(haven.EInvalid, "Invalid mountPath %q: an absolute folder other than /", v.MountPath)
	}
	if strings.Contains(v.Path, "..") {
		return haven.Errorf(haven.EInvalid, "Invalid volume path %q", v.Path)
	}
	switch v.Type {
	case "bucket":
		if s.cfg.Buckets == nil {
			return haven.Errorf(haven.EInvalid, "Bucket volumes are not offered by this hub")
		}
	case "model", "dataset", "space":
		v.ReadOnly = true // repositories are mounted read-only, as on the Hub
	default:
		return haven.Errorf(haven.EInvalid, "Invalid volume type %q: expected bucket, model, dataset or space", v.Type)
	}
	if _, _, ok := strings.Cut(v.Source, "/"); !ok {
		return haven.Errorf(haven.EInvalid, "Invalid volume source %q: expected NAMESPACE/NAME", v.Source)
	}
	return nil
}

var (
	pythonImageRE = regexp.MustCompile(`^(?:docker\.io/)?(?:library/)?python(?::(\d+(?:\.\d+){0,2}))?(?:[-.][A-Za-z0-9._-]*)?$`)
	uvImageRE     = regexp.MustCompile(`^(?:ghcr\.io/astral-sh/uv|(?:docker\.io/)?astral/uv)(?::(.*))?$`)
	uvPythonRE    = regexp.MustCompile(`python(\d+\.\d+)`)
	systemImageRE = regexp.MustCompile(`^(?:docker\.io/)?(?:library/)?(?:ubuntu|debian|bash|busybox)(?::[A-Za-z0-9._-]+)?$`)
)

// recipe maps an image onto an environment this hub's runner can build.
// Without a container engine, Python and uv images become uv environments
// of that Python (uv installed into them), and plain Debian-like images the
// machine's own system; any other image needs the OCI runner.
func (s *Service) recipe(image string) (runner.Recipe, error) {
	if s.cfg.Runner != nil && s.cfg.Runner.Name() != "process" {
		return runner.Recipe{Image: image}, nil
	}
	if m := pythonImageRE.FindStringSubmatch(image); m != nil {
		py := m[1]
		if py == "" || py == "3" {
			py = "3"
		}
		return runner.Recipe{Python: py}, nil
	}
	if m := uvImageRE.FindStringSubmatch(image); m != nil {
		py := "3"
		if pm := uvPythonRE.FindStringSubmatch(m[1]); pm != nil {
			py = pm[1]
		}
		return runner.Recipe{Python: py, Requirements: []string{"uv==" + uvVersion}}, nil
	}
	if systemImageRE.MatchString(image) {
		return runner.Recipe{}, nil
	}
	return runner.Recipe{}, haven.Errorf(haven.EInvalid,
		"This hub runs jobs as local processes and cannot run the image %q: use python:3.X, ghcr.io/astral-sh/uv:python3.X-bookworm, ubuntu or debian, or start Haven with --runner oci to run any image", image)
}
