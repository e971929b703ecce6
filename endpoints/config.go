package endpoints

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/runner"
)

// Settings is an endpoint's configuration: the Hub's endpoint object without
// its status, plus Haven's rollout settings. It is stored as JSON; secret
// values are kept apart, sealed.
type Settings struct {
	Name               string          `json:"name"`
	Type               string          `json:"type"`
	AccountID          *string         `json:"accountId"`
	Provider           Provider        `json:"provider"`
	Compute            Compute         `json:"compute"`
	Model              Model           `json:"model"`
	Route              json.RawMessage `json:"route,omitempty"`
	CacheHTTPResponses bool            `json:"cacheHttpResponses"`
	Tags               []string        `json:"tags"`
	Rollout            Rollout         `json:"rollout"`
}

// Provider is where an endpoint runs: always this hub.
type Provider struct {
	Vendor string `json:"vendor"`
	Region string `json:"region"`
}

// Compute is an endpoint's hardware and scaling.
type Compute struct {
	ID           string  `json:"id"`
	Accelerator  string  `json:"accelerator"`
	InstanceType string  `json:"instanceType"`
	InstanceSize string  `json:"instanceSize"`
	Scaling      Scaling `json:"scaling"`
}

// Scaling bounds an endpoint's replicas. ScaleToZeroTimeout is in minutes;
// Measure holds pendingRequests (requests in flight per replica that add a
// replica) or hardwareUsage.
type Scaling struct {
	MinReplica         int                 `json:"minReplica"`
	MaxReplica         int                 `json:"maxReplica"`
	ScaleToZeroTimeout *int                `json:"scaleToZeroTimeout"`
	Measure            map[string]*float64 `json:"measure,omitempty"`
}

// Model is what an endpoint serves. Revision is the pinned commit once
// created; Secrets carries values only on their way in.
type Model struct {
	Repository string            `json:"repository"`
	Revision   *string           `json:"revision"`
	Task       *string           `json:"task"`
	Framework  string            `json:"framework"`
	Image      map[string]any    `json:"image"`
	Env        map[string]string `json:"env"`
	Secrets    map[string]string `json:"secrets"`
	Command    []string          `json:"command"`
	Args       []string          `json:"args"`
}

// Rollout is how a new revision takes over: "rolling" (all traffic once it
// is healthy) or "canary" (CanaryPercent of it, the rest to the last good
// revision).
type Rollout struct {
	Strategy      string `json:"strategy"`
	CanaryPercent int    `json:"canaryPercent"`
}

// Default scaling numbers.
const (
	defaultPendingRequests = 1.5
	defaultIdleMinutes     = 60
)

// defaultHardwareUsage is the CPU use (percent of a replica's CPUs) above
// which hardwareUsage adds a replica.
const defaultHardwareUsage = 80

// hardware reports whether the endpoint scales on its replicas' CPU use
// (measure.hardwareUsage) rather than on requests, and the threshold.
func (s Scaling) hardware() (bool, float64) {
	v, ok := s.Measure["hardwareUsage"]
	if !ok {
		return false, 0
	}
	if v == nil || *v <= 0 || *v > 100 {
		return true, defaultHardwareUsage
	}
	return true, *v
}

// threshold is the in-flight requests per replica above which a replica
// is added.
func (s Scaling) threshold() float64 {
	if v := s.Measure["pendingRequests"]; v != nil && *v > 0 {
		return *v
	}
	return defaultPendingRequests
}

// idleMinutes is how long an endpoint with minReplica 0 stays up without
// requests (0: for ever).
func (s Scaling) idleMinutes() int {
	if s.MinReplica > 0 {
		return 0
	}
	if s.ScaleToZeroTimeout == nil {
		return defaultIdleMinutes
	}
	return max(0, *s.ScaleToZeroTimeout)
}

// wholesale are the paths whose value an update replaces instead of
// merging into.
var wholesale = map[string]bool{"model.env": true, "model.secrets": true, "model.command": true, "model.args": true, "tags": true,
	"model.image": true}

// merge applies a partial update to a configuration as JSON objects: nested
// objects are merged key by key, everything else (and the wholesale paths)
// replaced.
func merge(dst, src map[string]any, path string) {
	for k, v := range src {
		p := k
		if path != "" {
			p = path + "." + k
		}
		sub, ok := v.(map[string]any)
		cur, ok2 := dst[k].(map[string]any)
		if ok && ok2 && !wholesale[p] {
			merge(cur, sub, p)
			continue
		}
		dst[k] = v
	}
}

// mergeConfig returns c with the update body applied.
func mergeSettings(c Settings, body []byte) (Settings, error) {
	var upd map[string]any
	if err := json.Unmarshal(body, &upd); err != nil {
		return c, haven.Errorf(haven.EInvalid, "Invalid JSON body: %v", err)
	}
	cur := map[string]any{}
	b, _ := json.Marshal(c)
	json.Unmarshal(b, &cur)
	merge(cur, upd, "")
	b, _ = json.Marshal(cur)
	var out Settings
	if err := json.Unmarshal(b, &out); err != nil {
		return c, haven.Errorf(haven.EInvalid, "Invalid endpoint: %v", err)
	}
	return out, nil
}

// normalize checks a configuration and fills in its defaults, mapping the
// compute onto one of the hub's.
func (c *Settings) normalize(computes []compute, images bool) error {
	if !haven.ValidName(c.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid endpoint name: %q", c.Name)
	}
	switch c.Type {
	case "":
		c.Type = "authenticated"
	case "protected":
		c.Type = "authenticated"
	case "public", "authenticated", "private":
	default:
		return haven.Errorf(haven.EInvalid, "Unknown endpoint type %q: use public, authenticated or private", c.Type)
	}
	if _, err := haven.ParseRepoID(c.Model.Repository); err != nil {
		return haven.Errorf(haven.EInvalid, "Invalid model repository: %q", c.Model.Repository)
	}
	if c.Model.Framework == "" {
		c.Model.Framework = "pytorch"
	}
	if len(c.Model.Image) == 0 {
		c.Model.Image = map[string]any{"huggingface": map[string]any{}}
	}
	if c.Model.Task != nil && *c.Model.Task == "" {
		c.Model.Task = nil
	}
	if _, err := c.Model.custom(images); err != nil {
		return err
	}
	c.Provider = Provider{Vendor: "haven", Region: "local"}
	sc := &c.Compute.Scaling
	if sc.MaxReplica <= 0 {
		sc.MaxReplica = max(1, sc.MinReplica)
	}
	if sc.MinReplica < 0 || sc.MinReplica > sc.MaxReplica {
		return haven.Errorf(haven.EInvalid, "minReplica must be between 0 and maxReplica (%d)", sc.MaxReplica)
	}
	if sc.MaxReplica > 16 {
		return haven.Errorf(haven.EInvalid, "maxReplica may be at most 16 on this hub")
	}
	if sc.Measure == nil {
		sc.Measure = map[string]*float64{"pendingRequests": nil}
	}
	if c.Rollout.Strategy == "" {
		c.Rollout.Strategy = "rolling"
	}
	switch c.Rollout.Strategy {
	case "rolling":
		c.Rollout.CanaryPercent = 0
	case "canary":
		if c.Rollout.CanaryPercent <= 0 || c.Rollout.CanaryPercent >= 100 {
			c.Rollout.CanaryPercent = 10
		}
	default:
		return haven.Errorf(haven.EInvalid, "Unknown rollout strategy %q: use rolling or canary", c.Rollout.Strategy)
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	cp := closestCompute(computes, c.Compute)
	c.Compute.ID, c.Compute.Accelerator, c.Compute.InstanceType, c.Compute.InstanceSize = cp.ID, cp.Accelerator, cp.InstanceType, cp.InstanceSize
	return nil
}

// imageInt reads a number from the engine settings of the image
// ("maxBatch", "maxConcurrency" under its only variant).
func (m Model) imageInt(key string) int {
	for _, v := range m.Image {
		if o, ok := v.(map[string]any); ok {
			if f, ok := o[key].(float64); ok {
				return int(f)
			}
		}
	}
	return 0
}

// custom reads image.custom: a program of the endpoint's own that serves
// the model instead of Haven's engine (nil without one). images says
// whether the hub's runner runs container images; without it (the
// process runner) a command is run in the model's environment and an image
// that has no command is refused.
func (m Model) custom(images bool) (*inference.Custom, error) {
	raw, ok := m.Image["custom"]
	if !ok {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return haven.Errorf(haven.EInvalid, "model.image.custom: "+format, args...)
	}
	o, ok := raw.(map[string]any)
	if !ok || len(m.Image) != 1 {
		return nil, bad("must be the image's only variant, an object {url, command, args, env, healthRoute, port}")
	}
	cu := &inference.Custom{HealthRoute: "/health"}
	strs := func(key string, fallback []string) ([]string, error) {
		v, ok := o[key]
		if !ok || v == nil {
			return fallback, nil
		}
		switch x := v.(type) {
		case string:
			return strings.Fields(x), nil
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, bad("%s must be a list of strings", key)
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, bad("%s must be a list of strings", key)
	}
	var err error
	if cu.Image, ok = o["url"].(string); !ok && o["url"] != nil {
		return nil, bad("url must be a string")
	}
	cmd, err := strs("command", m.Command)
	if err != nil {
		return nil, err
	}
	args, err := strs("args", m.Args)
	if err != nil {
		return nil, err
	}
	cu.Command = append(append([]string{}, cmd...), args...)
	if len(cmd) == 0 && len(args) > 0 && cu.Image == "" {
		return nil, bad("args without a command or an image")
	}
	for _, k := range []string{"healthRoute", "health_route"} {
		if v, ok := o[k]; ok && v != nil {
			r, ok := v.(string)
			if !ok || !strings.HasPrefix(r, "/") {
				return nil, bad("%s must be a path starting with /", k)
			}
			cu.HealthRoute = r
		}
	}
	if v, ok := o["port"]; ok && v != nil {
		f, ok := v.(float64)
		if !ok || f != float64(int(f)) || f < 1 || f > 65535 {
			return nil, bad("port must be a port number")
		}
		cu.Port = int(f)
	}
	if v, ok := o["env"]; ok && v != nil {
		env, ok := v.(map[string]any)
		if !ok {
			return nil, bad("env must be an object of strings")
		}
		cu.Env = map[string]string{}
		for k, x := range env {
			s, ok := x.(string)
			if !ok {
				return nil, bad("env must be an object of strings")
			}
			cu.Env[k] = s
		}
	}
	switch {
	case cu.Image == "" && len(cmd) == 0:
		return nil, bad("give a command (and args) to run, or an image url")
	case !images && len(cmd) == 0:
		return nil, bad("this hub runs endpoints as processes and cannot run the image %s: give a command (model.command or image.custom.command) to run in the model's environment instead", cu.Image)
	case !images && o["credentials"] != nil:
		return nil, bad("this hub runs endpoints as processes and pulls no images: remove the registry credentials")
	}
	if !images {
		cu.Image = "" // a process: the command runs in the model's environment
	}
	return cu, nil
}

// RevSpec is what a revision fixes: the model at a commit, how it is run,
// and on what hardware.
type RevSpec struct {
	Repository   string            `json:"repository"`
	Commit       string            `json:"commit"`
	Task         *string           `json:"task"`
	Framework    string            `json:"framework"`
	Image        map[string]any    `json:"image"`
	Env          map[string]string `json:"env"`
	Command      []string          `json:"command"`
	Args         []string          `json:"args"`
	Compute      string            `json:"compute"`
	SecretsKey   string            `json:"secretsKey"` // the secret names and values, hashed
	Accelerator  string            `json:"accelerator"`
	InstanceType string            `json:"instanceType"`
	InstanceSize string            `json:"instanceSize"`
}

// revSpec is the revision that c (pinned to commit) describes.
func (c Settings) revSpec(commit, secretsKey string) RevSpec {
	return RevSpec{Repository: c.Model.Repository, Commit: commit, Task: c.Model.Task, Framework: c.Model.Framework,
		Image: c.Model.Image, Env: c.Model.Env, Command: c.Model.Command, Args: c.Model.Args, Compute: c.Compute.ID,
		SecretsKey: secretsKey, Accelerator: c.Compute.Accelerator, InstanceType: c.Compute.InstanceType, InstanceSize: c.Compute.InstanceSize}
}

// same reports whether two revisions run the same thing.
func (r RevSpec) same(o RevSpec) bool {
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(o)
	return string(a) == string(b)
}

// compute is one hardware choice of /provider/{ns}, on a runner flavor.
type compute struct {
	ID           string
	Accelerator  string // "cpu" or "gpu"
	InstanceType string // "cpu" or the GPU model ("nvidia-h100")
	InstanceSize string // "x1", "x2"…
	N            int    // vCPUs for CPU computes, GPUs for GPU ones
	Flavor       runner.Flavor
}

// computesOf maps the hub's flavors onto the computes it offers: one per
// CPU count and one per GPU count.
func computesOf(fl runner.Flavors) []compute {
	var out []compute
	seen := map[string]bool{}
	cpu := []runner.Flavor{{Name: "cpu-x1", Pretty: "CPU x1", CPUs: 1, MemoryGiB: 4}}
	var gpu []runner.Flavor
	for _, f := range fl.List() {
		if f.GPUs > 0 {
			gpu = append(gpu, f)
		} else {
			cpu = append(cpu, f)
		}
	}
	for _, f := range cpu {
		size := "x" + strconv.Itoa(f.CPUs)
		if seen["cpu"+size] {
			continue
		}
		seen["cpu"+size] = true
		out = append(out, compute{ID: "haven-local-cpu-" + size, Accelerator: "cpu", InstanceType: "cpu", InstanceSize: size, N: f.CPUs, Flavor: f})
	}
	for _, f := range gpu {
		typ := gpuType(f.GPUName)
		size := "x" + strconv.Itoa(f.GPUs)
		if seen[typ+size] {
			continue
		}
		seen[typ+size] = true
		out = append(out, compute{ID: "haven-local-" + typ + "-" + size, Accelerator: "gpu", InstanceType: typ, InstanceSize: size, N: f.GPUs, Flavor: f})
	}
	slices.SortStableFunc(out, func(a, b compute) int {
		if a.Accelerator != b.Accelerator {
			return strings.Compare(b.Accelerator, a.Accelerator) // cpu first
		}
		return a.N - b.N
	})
	return out
}

// gpuType is the instance type of a GPU model ("NVIDIA H100 80GB HBM3" →
// "nvidia-h100").
func gpuType(name string) string {
	f := strings.Fields(strings.ToLower(name))
	if len(f) == 0 {
		return "gpu"
	}
	if f[0] == "nvidia" && len(f) > 1 {
		return "nvidia-" + strings.Trim(f[1], "-")
	}
	return strings.Trim(f[0], "-")
}

// closestCompute is the offered compute nearest to what c asks: its id or
// exact type and size, else the smallest of its kind with at least the
// asked size (GPUs where the machine has them), else the largest.
func closestCompute(cs []compute, c Compute) compute {
	for _, cp := range cs {
		if c.ID != "" && cp.ID == c.ID || cp.InstanceType == c.InstanceType && cp.InstanceSize == c.InstanceSize {
			return cp
		}
	}
	wantGPU := c.Accelerator == "gpu" || c.InstanceType != "" && c.InstanceType != "cpu" && c.Accelerator != "cpu"
	n, _ := strconv.Atoi(strings.TrimPrefix(strings.ToLower(c.InstanceSize), "x"))
	n = max(n, 1)
	var kind []compute
	for _, cp := range cs {
		if (cp.Accelerator == "gpu") == wantGPU {
			kind = append(kind, cp)
		}
	}
	if len(kind) == 0 {
		kind = cs
		n = 1
	}
	for _, cp := range kind {
		if cp.N >= n {
			return cp
		}
	}
	return kind[len(kind)-1]
}

// providerJSON is GET /provider/{ns}.
func providerJSON(cs []compute) map[string]any {
	var list []map[string]any
	for _, cp := range cs {
		m := map[string]any{
			"id": cp.ID, "accelerator": cp.Accelerator, "numAccelerators": cp.N, "numCpus": cp.Flavor.CPUs,
			"memoryGb": cp.Flavor.MemoryGiB, "instanceType": cp.InstanceType, "instanceSize": cp.InstanceSize,
			"architecture": cp.Flavor.GPUName, "status": "available", "pricePerHour": 0,
			"quota": map[string]any{"maxAccelerators": cp.N, "usedAccelerators": 0},
		}
		if cp.Accelerator == "cpu" {
			m["numAccelerators"] = 1
			m["architecture"] = "x86"
		}
		list = append(list, m)
	}
	return map[string]any{"vendors": []any{map[string]any{"name": "haven", "status": "available",
		"regions": []any{map[string]any{"name": "local", "label": "This hub", "status": "available", "computes": list}}}}}
}

// secretsKey identifies a set of secrets without showing them (an HMAC
// under the hub's key).
func secretsKey(key []byte, s map[string]string) string {
	if len(s) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(s))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, s[k])
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(b.String()))
	return hex.EncodeToString(m.Sum(nil))[:32]
}
