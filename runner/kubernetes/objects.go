package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/havenhub/haven/runner"
)

// Labels every object of the runner carries: ManagedBy finds them all,
// Workload those of one workload (leftovers of a Haven that ended without
// removing them), Instance those of one Start.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelWorkload  = "haven.dev/workload"
	LabelInstance  = "haven.dev/instance"
	LabelKind      = "haven.dev/kind"
	// AnnotationWorkload holds the workload's ID as it is, which a label
	// value may be too short or too narrow for.
	AnnotationWorkload = "haven.dev/workload-id"
	managedBy          = "haven"
)

// Containers of a workload's pod.
const (
	appContainer     = "app"
	installContainer = "install"
)

// Where pods see things.
const (
	appDir   = "/home/user/app"
	homeDir  = "/home/user"
	filesDir = "/haven/files"
	envsPath = "/haven/envs"
	dataDir  = "/data"
)

// workloadLabel is a workload ID as a label value: itself where it fits,
// a hash of it otherwise.
func workloadLabel(id string) string {
	if len(validation.IsValidLabelValue(id)) == 0 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h-" + hex.EncodeToString(sum[:])[:40]
}

// instanceName is the name of one Start's objects: haven-{id}-{suffix},
// a DNS label as a Service name must be.
func instanceName(id, suffix string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, id)
	if len(s) > 48 {
		s = s[:48]
	}
	s = strings.Trim(s, "-")
	if s == "" {
		return "haven-" + suffix
	}
	return "haven-" + s + "-" + suffix
}

func (r *Runner) labels(w *runner.Workload, name string) map[string]string {
	return map[string]string{
		LabelManagedBy: managedBy,
		LabelWorkload:  workloadLabel(w.ID),
		LabelInstance:  name,
		LabelKind:      string(w.Kind),
	}
}

func (r *Runner) meta(w *runner.Workload, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        name,
		Namespace:   r.ns,
		Labels:      r.labels(w, name),
		Annotations: map[string]string{AnnotationWorkload: w.ID},
	}
}

// expand replaces "${PORT}" and "${APP}" as the workload sees them.
func expand(s string, port int) string {
	return strings.NewReplacer("${PORT}", strconv.Itoa(port), "${APP}", appDir).Replace(s)
}

// secretObject holds w's Secrets, which the pod reads with envFrom: their
// values never appear in the pod's spec.
func (r *Runner) secretObject(w *runner.Workload, name string) *corev1.Secret {
	data := map[string][]byte{}
	for k, v := range w.Secrets {
		data[k] = []byte(expand(v, w.Port))
	}
	return &corev1.Secret{ObjectMeta: r.meta(w, name), Type: corev1.SecretTypeOpaque, Data: data}
}

// mounted are the claim's sub-paths a pod mounts.
type mounted struct {
	files string // the workload's files, "" for none
	data  string
	more  []runner.Mount // Source replaced by its sub-path
}

// mounts maps w's folders onto the claim.
func (r *Runner) mounts(w *runner.Workload, b *build) (*mounted, error) {
	m := &mounted{}
	var err error
	// Files are given to Python recipes only, copied into the app folder;
	// an image brings its own, as with the OCI backend.
	if b.python != nil && w.Files != "" {
		if m.files, err = r.claimPath(w.Files, "the workload's files"); err != nil {
			return nil, err
		}
	}
	if w.Data != "" {
		if m.data, err = r.claimPath(w.Data, "a /data folder"); err != nil {
			return nil, err
		}
		// Made here, as Haven's user, for the same reason as the
		// environments' folder.
		if err := os.MkdirAll(w.Data, 0o755); err != nil {
			return nil, err
		}
	}
	for _, mt := range w.Mounts {
		sub, err := r.claimPath(mt.Source, "the volume "+mt.Target)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(mt.Source); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(mt.Source, 0o755); err != nil {
				return nil, err
			}
		}
		mt.Source = sub
		m.more = append(m.more, mt)
	}
	return m, nil
}

// installScript installs a Python recipe's requirements as the user's
// site-packages of a folder of their own (PYTHONUSERBASE), which stays
// valid once moved: it is made under a temporary name and renamed into
// place, so that pods installing the same recipe at once never see a
// half-made one. Then it copies the app's files where the app may write.
const installScript = `set -eu
mkdir -p "$HAVEN_APP"
if [ -d /haven/files ]; then cp -R /haven/files/. "$HAVEN_APP"/; fi
env="$HAVEN_ENVS/$HAVEN_ENV_KEY"
if [ -e "$env/.haven-ready" ]; then exit 0; fi
tmp=$(mktemp -d "$HAVEN_ENVS/.tmp-XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT
export PYTHONUSERBASE="$tmp" PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
reqs=$(mktemp -d)
trap 'rm -rf "$tmp" "$reqs"' EXIT
if [ -n "$HAVEN_PRE_REQUIREMENTS" ]; then
  printf '%s\n' "$HAVEN_PRE_REQUIREMENTS" > "$reqs/pre-requirements.txt"
  python -m pip install --user -r "$reqs/pre-requirements.txt"
fi
if [ -n "$HAVEN_REQUIREMENTS" ]; then
  printf '%s\n' "$HAVEN_REQUIREMENTS" > "$reqs/requirements.txt"
  python -m pip install --user -r "$reqs/requirements.txt"
fi
touch "$tmp/.haven-ready"
mv -T "$tmp" "$env" 2>/dev/null || rm -rf "$tmp"
`

// podSpec is the pod of w started from b.
func (r *Runner) podSpec(w *runner.Workload, b *build, name string, m *mounted, restart corev1.RestartPolicy) corev1.PodSpec {
	no := false
	app := corev1.Container{
		Name:            appContainer,
		Image:           b.image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no},
		Resources:       resources(w.Limits),
	}
	for _, a := range w.Command {
		app.Args = append(app.Args, expand(a, w.Port))
	}
	if len(w.Secrets) > 0 {
		app.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}
	}
	env := map[string]string{}
	for k, v := range w.Env {
		env[k] = expand(v, w.Port)
	}
	spec := corev1.PodSpec{
		RestartPolicy:                restart,
		AutomountServiceAccountToken: &no, // apps have no business with the cluster's API
		EnableServiceLinks:           &no, // nor with the variables of every Service in the namespace
		SecurityContext:              &corev1.PodSecurityContext{FSGroup: ptr(int64(1000))},
	}
	if m.files != "" || m.data != "" || len(m.more) > 0 || (b.python != nil && r.claim != "") {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "haven", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: r.claim}}})
	}
	if m.data != "" {
		app.VolumeMounts = append(app.VolumeMounts, corev1.VolumeMount{Name: "haven", MountPath: dataDir, SubPath: m.data})
		if _, ok := env["HAVEN_DATA_DIR"]; !ok {
			env["HAVEN_DATA_DIR"] = dataDir
		}
	}
	for _, mt := range m.more {
		app.VolumeMounts = append(app.VolumeMounts, corev1.VolumeMount{Name: "haven", MountPath: mt.Target, SubPath: mt.Source, ReadOnly: mt.ReadOnly})
	}
	if w.Port > 0 {
		app.Ports = []corev1.ContainerPort{{Name: "app", ContainerPort: int32(w.Port), Protocol: corev1.ProtocolTCP}}
		// Only a pod that accepts connections is behind the Service.
		app.ReadinessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(w.Port))}},
			PeriodSeconds: 2,
		}
	}
	if b.python != nil {
		r.pythonPod(&spec, &app, env, w, b, m)
	}
	app.Env = envList(env)
	spec.Containers = []corev1.Container{app}
	if len(w.Limits.GPUs) > 0 {
		spec.NodeSelector = r.gpuNodes
		// GPU nodes are commonly tainted so that only pods asking for
		// GPUs land there.
		spec.Tolerations = []corev1.Toleration{{Key: gpuResource, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	}
	return spec
}

// pythonPod runs the app as uid 1000 in its own copy of its files, with the
// requirements that the init container installs.
func (r *Runner) pythonPod(spec *corev1.PodSpec, app *corev1.Container, env map[string]string, w *runner.Workload, b *build, m *mounted) {
	uid := int64(1000)
	yes := true
	spec.SecurityContext.RunAsUser = &uid
	spec.SecurityContext.RunAsGroup = &uid
	spec.SecurityContext.RunAsNonRoot = &yes
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	envs := corev1.VolumeMount{Name: "envs", MountPath: envsPath}
	if r.claim != "" {
		envs = corev1.VolumeMount{Name: "haven", MountPath: envsPath, SubPath: envsDir}
	} else {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "envs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	no := false
	install := corev1.Container{
		Name:            installContainer,
		Image:           b.image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"sh", "-c", installScript},
		Env: envList(map[string]string{
			"HOME":                   homeDir,
			"HAVEN_APP":              appDir,
			"HAVEN_ENVS":             envsPath,
			"HAVEN_ENV_KEY":          b.key,
			"HAVEN_PRE_REQUIREMENTS": strings.Join(b.python.PreRequirements, "\n"),
			"HAVEN_REQUIREMENTS":     strings.Join(b.python.Requirements, "\n"),
		}),
		VolumeMounts:    []corev1.VolumeMount{{Name: "home", MountPath: homeDir}, envs},
		SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no},
		// Installing needs the app's memory more than anything.
		Resources: resources(runner.Limits{CPUs: w.Limits.CPUs, MemoryMB: w.Limits.MemoryMB}),
	}
	if m.files != "" {
		install.VolumeMounts = append(install.VolumeMounts, corev1.VolumeMount{Name: "haven", MountPath: filesDir, SubPath: m.files, ReadOnly: true})
	}
	spec.InitContainers = []corev1.Container{install}
	envs.ReadOnly = true
	app.VolumeMounts = append(app.VolumeMounts, corev1.VolumeMount{Name: "home", MountPath: homeDir}, envs)
	app.WorkingDir = appDir
	user := envsPath + "/" + b.key
	for k, v := range map[string]string{
		"HOME":           homeDir,
		"PYTHONUSERBASE": user,
		"PATH":           user + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	} {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
}

func ptr[T any](v T) *T { return &v }

// envList is env in a fixed order, "$(" escaped: Kubernetes would expand
// $(NAME) in values, which the other backends pass as they are.
func envList(env map[string]string) []corev1.EnvVar {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]corev1.EnvVar, 0, len(keys))
	for _, k := range keys {
		out = append(out, corev1.EnvVar{Name: k, Value: strings.ReplaceAll(env[k], "$(", "$$(")})
	}
	return out
}

// gpuResource is the extended resource of NVIDIA's device plugin.
const gpuResource = "nvidia.com/gpu"

// resources are the flavor's limits as requests and limits alike: what a
// flavor promises is reserved on the node, as on a machine of its own.
func resources(l runner.Limits) corev1.ResourceRequirements {
	rl := corev1.ResourceList{}
	if l.CPUs > 0 {
		rl[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(l.CPUs*1000), resource.DecimalSI)
	}
	if l.MemoryMB > 0 {
		rl[corev1.ResourceMemory] = *resource.NewQuantity(l.MemoryMB<<20, resource.BinarySI)
	}
	if l.DiskMB > 0 {
		rl[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(l.DiskMB<<20, resource.BinarySI)
	}
	if len(l.GPUs) > 0 {
		rl[gpuResource] = *resource.NewQuantity(int64(len(l.GPUs)), resource.DecimalSI)
	}
	if len(rl) == 0 {
		return corev1.ResourceRequirements{}
	}
	return corev1.ResourceRequirements{Requests: rl.DeepCopy(), Limits: rl}
}

// deployment runs an app or an endpoint replica: one pod, which the
// Deployment brings back if its node goes.
func (r *Runner) deployment(w *runner.Workload, b *build, name string, m *mounted) *appsv1.Deployment {
	labels := r.labels(w, name)
	return &appsv1.Deployment{
		ObjectMeta: r.meta(w, name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelInstance: name}},
			// Recreate: two pods of one instance would be two apps.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationWorkload: w.ID}},
				Spec:       r.podSpec(w, b, name, m, corev1.RestartPolicyAlways),
			},
		},
	}
}

// jobObject runs a job once: Haven decides about attempts. The cluster
// enforces the wall clock itself and removes a Job Haven left behind.
func (r *Runner) jobObject(w *runner.Workload, b *build, name string, m *mounted) *batchv1.Job {
	labels := r.labels(w, name)
	j := &batchv1.Job{
		ObjectMeta: r.meta(w, name),
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(0)),
			TTLSecondsAfterFinished: ptr(int32(3600)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{AnnotationWorkload: w.ID}},
				Spec:       r.podSpec(w, b, name, m, corev1.RestartPolicyNever),
			},
		},
	}
	if wc := w.Limits.WallClock; wc > 0 {
		secs := int64((wc + 999_999_999) / 1_000_000_000)
		j.Spec.ActiveDeadlineSeconds = &secs
	}
	return j
}

// service gives the instance's pod an address in the cluster.
func (r *Runner) service(w *runner.Workload, name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: r.meta(w, name),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{LabelInstance: name},
			Ports: []corev1.ServicePort{{
				Name: "app", Port: int32(w.Port), TargetPort: intstr.FromInt32(int32(w.Port)), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// serviceAddr is where the Service answers: its cluster IP, or its name in
// the cluster's DNS before one is given.
func (r *Runner) serviceAddr(svc *corev1.Service, port int) string {
	host := svc.Spec.ClusterIP
	if host == "" || host == corev1.ClusterIPNone {
		host = fmt.Sprintf("%s.%s.svc", svc.Name, r.ns)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}
