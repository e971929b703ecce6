package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/havenhub/haven/runner"
)

// These tests run the runner against client-go's fake clientset, an object
// store with watches and no controllers: the tests play the controllers'
// part by creating pods and writing their status.

const ns = "haven-test"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRunner(t *testing.T) (*Runner, *fake.Clientset, string) {
	t.Helper()
	cs := fake.NewSimpleClientset()
	root := t.TempDir()
	r, err := New(Config{Client: cs, Namespace: ns, Claim: "haven-data", DataRoot: root,
		GPUNodeSelector: map[string]string{"nvidia.com/gpu.present": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	r.watchWait = func() {}
	return r, cs, root
}

func start(t *testing.T, r *Runner, w *runner.Workload) (runner.Handle, *syncBuffer) {
	t.Helper()
	b, err := r.Build(context.Background(), w, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	h, err := r.Start(context.Background(), w, b, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Stop(context.Background(), 0) })
	return h, out
}

// instance is the name of the one instance of workload id.
func instance(t *testing.T, cs *fake.Clientset, id string) string {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: LabelWorkload + "=" + workloadLabel(id)}
	ds, _ := cs.AppsV1().Deployments(ns).List(context.Background(), sel)
	js, _ := cs.BatchV1().Jobs(ns).List(context.Background(), sel)
	switch {
	case len(ds.Items) == 1 && len(js.Items) == 0:
		return ds.Items[0].Name
	case len(js.Items) == 1 && len(ds.Items) == 0:
		return js.Items[0].Name
	}
	t.Fatalf("%d Deployments and %d Jobs for %s", len(ds.Items), len(js.Items), id)
	return ""
}

// runPod creates the pod a controller would, running.
func runPod(t *testing.T, cs *fake.Clientset, name string, labels map[string]string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-abcde", Namespace: ns, Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: appContainer, Image: "x", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
	p, err := cs.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// endPod writes the app container's end into the pod's status.
func endPod(t *testing.T, cs *fake.Clientset, p *corev1.Pod, phase corev1.PodPhase, term *corev1.ContainerStateTerminated) {
	t.Helper()
	p = p.DeepCopy()
	p.Status.Phase = phase
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: term}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitDone(t *testing.T, h runner.Handle) runner.Exit {
	t.Helper()
	select {
	case <-h.Done():
		return h.Exit()
	case <-time.After(30 * time.Second):
		t.Fatal("Done did not close")
	}
	return runner.Exit{}
}

// left counts the objects of an instance still in the store.
func left(t *testing.T, cs *fake.Clientset, name string) int {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: LabelInstance + "=" + name}
	n := 0
	if l, _ := cs.AppsV1().Deployments(ns).List(ctx, sel); l != nil {
		n += len(l.Items)
	}
	if l, _ := cs.BatchV1().Jobs(ns).List(ctx, sel); l != nil {
		n += len(l.Items)
	}
	if l, _ := cs.CoreV1().Services(ns).List(ctx, sel); l != nil {
		n += len(l.Items)
	}
	if l, _ := cs.CoreV1().Secrets(ns).List(ctx, sel); l != nil {
		n += len(l.Items)
	}
	if l, _ := cs.CoreV1().Pods(ns).List(ctx, sel); l != nil {
		n += len(l.Items)
	}
	return n
}

func spaceWorkload(root string) *runner.Workload {
	files := filepath.Join(root, "spaces", "7", "src", "abc")
	os.MkdirAll(files, 0o755)
	return &runner.Workload{
		ID:      "space-7",
		Kind:    runner.KindSpace,
		Files:   files,
		Recipe:  runner.Recipe{Python: "3.12", Requirements: []string{"gradio==5.0"}},
		Command: []string{"python", "app.py", "--port", "${PORT}"},
		Env:     map[string]string{"GRADIO_SERVER_PORT": "${PORT}", "HF_HOME": "${APP}/.cache", "ODD": "$(HOME)"},
		Secrets: map[string]string{"API_KEY": "s3cr3t-value", "URL": "http://x:${PORT}"},
		Port:    7860,
		Limits:  runner.Limits{CPUs: 2, MemoryMB: 512, GPUs: []string{"0"}},
		Data:    filepath.Join(root, "spaces", "7", "data"),
	}
}

func TestDeploymentShape(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	h, _ := start(t, r, w)
	ctx := context.Background()
	name := instance(t, cs, w.ID)
	if !strings.HasPrefix(name, "haven-space-7-") || len(name) > 63 {
		t.Fatalf("name %q", name)
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 1 || d.Spec.Selector.MatchLabels[LabelInstance] != name {
		t.Fatalf("replicas %d, selector %v", *d.Spec.Replicas, d.Spec.Selector.MatchLabels)
	}
	for _, labels := range []map[string]string{d.Labels, d.Spec.Template.Labels} {
		if labels[LabelManagedBy] != "haven" || labels[LabelWorkload] != "space-7" || labels[LabelInstance] != name || labels[LabelKind] != "space" {
			t.Fatalf("labels %v", labels)
		}
	}
	if d.Annotations[AnnotationWorkload] != "space-7" {
		t.Fatalf("annotations %v", d.Annotations)
	}
	pod := d.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyAlways || *pod.AutomountServiceAccountToken || *pod.SecurityContext.RunAsUser != 1000 {
		t.Fatalf("pod spec %+v", pod)
	}
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Image != "docker.io/library/python:3.12-slim" {
		t.Fatalf("init containers %+v", pod.InitContainers)
	}
	app := pod.Containers[0]
	if app.Image != "docker.io/library/python:3.12-slim" || strings.Join(app.Args, " ") != "python app.py --port 7860" || app.WorkingDir != appDir {
		t.Fatalf("app container %+v", app)
	}
	env := map[string]string{}
	for _, e := range app.Env {
		env[e.Name] = e.Value
	}
	if env["GRADIO_SERVER_PORT"] != "7860" || env["HF_HOME"] != appDir+"/.cache" || env["HAVEN_DATA_DIR"] != "/data" || env["ODD"] != "$$(HOME)" {
		t.Fatalf("env %v", env)
	}
	if len(app.EnvFrom) != 1 || app.EnvFrom[0].SecretRef.Name != name {
		t.Fatalf("envFrom %+v", app.EnvFrom)
	}
	lim := app.Resources.Limits
	if lim.Cpu().String() != "2" || lim.Memory().String() != "512Mi" || lim.Name(gpuResource, "").String() != "1" {
		t.Fatalf("limits %v", lim)
	}
	if pod.NodeSelector["nvidia.com/gpu.present"] != "true" || len(pod.Tolerations) != 1 {
		t.Fatalf("GPU placement %v %v", pod.NodeSelector, pod.Tolerations)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range app.VolumeMounts {
		mounts[m.MountPath] = m
	}
	if m := mounts["/data"]; m.SubPath != "spaces/7/data" || m.Name != "haven" {
		t.Fatalf("mounts %+v", app.VolumeMounts)
	}
	var files string
	for _, m := range pod.InitContainers[0].VolumeMounts {
		if m.MountPath == filesDir {
			files = m.SubPath
		}
	}
	if files != "spaces/7/src/abc" {
		t.Fatalf("files sub-path %q", files)
	}
	if pod.Volumes[0].PersistentVolumeClaim == nil || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "haven-data" {
		t.Fatalf("volumes %+v", pod.Volumes)
	}

	// The secrets are in the Secret, and nowhere in the Deployment.
	js, _ := json.Marshal(d)
	if bytes.Contains(js, []byte("s3cr3t-value")) {
		t.Fatal("a secret's value is in the Deployment")
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["API_KEY"]) != "s3cr3t-value" || string(sec.Data["URL"]) != "http://x:7860" || sec.Labels[LabelWorkload] != "space-7" {
		t.Fatalf("secret %+v", sec)
	}

	svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Selector[LabelInstance] != name || svc.Spec.Ports[0].Port != 7860 || svc.Spec.Ports[0].TargetPort.IntValue() != 7860 {
		t.Fatalf("service %+v", svc.Spec)
	}
	if h.Addr() != name+"."+ns+".svc:7860" {
		t.Fatalf("addr %q", h.Addr())
	}
}

func TestDoneWhenTheAppEnds(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	w.Recipe = runner.Recipe{Image: "ghcr.io/acme/app:1"}
	h, out := start(t, r, w)
	name := instance(t, cs, w.ID)
	d, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if len(d.Spec.Template.Spec.InitContainers) != 0 || d.Spec.Template.Spec.Containers[0].Image != "ghcr.io/acme/app:1" {
		t.Fatalf("an image recipe's pod %+v", d.Spec.Template.Spec)
	}
	p := runPod(t, cs, name, d.Spec.Template.Labels)
	select {
	case <-h.Done():
		t.Fatal("Done closed while the pod runs")
	case <-time.After(300 * time.Millisecond):
	}
	endPod(t, cs, p, corev1.PodRunning, &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"})
	e := waitDone(t, h)
	if e.Code != 3 || e.Reason != "Exit code: 3" || e.Stopped || e.OOM {
		t.Fatalf("exit %+v", e)
	}
	if !strings.Contains(out.String(), "fake logs") {
		t.Fatalf("output %q", out.String())
	}
	if n := left(t, cs, name); n != 0 {
		t.Fatalf("%d objects left", n)
	}
}

func TestOOMAndRestarts(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	w.Recipe = runner.Recipe{Image: "app:1"}
	h, _ := start(t, r, w)
	name := instance(t, cs, w.ID)
	d, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	p := runPod(t, cs, name, d.Spec.Template.Labels)
	// Restarted by the kubelet after the memory limit ended it: the end
	// is the last state.
	p.Status.ContainerStatuses[0].RestartCount = 1
	p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e := waitDone(t, h)
	if !e.OOM || e.Signal != "killed" || e.Reason != "Memory limit exceeded (512Mi)" {
		t.Fatalf("exit %+v", e)
	}
}

func TestInstallFails(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	h, _ := start(t, r, w)
	name := instance(t, cs, w.ID)
	p := runPod(t, cs, name, map[string]string{LabelInstance: name})
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{
		Name: installContainer, RestartCount: 1,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}}
	cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
	if e := waitDone(t, h); e.Reason != "Installing the requirements failed (exit code 1)" {
		t.Fatalf("exit %+v", e)
	}
}

func TestImagePullFails(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	w.Recipe = runner.Recipe{Image: "nope:1"}
	h, _ := start(t, r, w)
	name := instance(t, cs, w.ID)
	p := runPod(t, cs, name, map[string]string{LabelInstance: name})
	p.Status.ContainerStatuses[0].Image = "nope:1"
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "not found"}}
	cs.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
	if e := waitDone(t, h); e.Reason != "Could not pull the image nope:1: not found" {
		t.Fatalf("exit %+v", e)
	}
}

func TestJob(t *testing.T) {
	r, cs, root := newRunner(t)
	w := &runner.Workload{
		ID: "job-687f", Kind: runner.KindJob, Recipe: runner.Recipe{Image: "python:3.12"},
		Command: []string{"python", "-c", "print(1)"},
		Limits:  runner.Limits{CPUs: 1, MemoryMB: 1024, WallClock: 90 * time.Second},
		Mounts:  []runner.Mount{{Source: filepath.Join(root, "jobs", "cache", "1"), Target: "/cache"}},
		Secrets: map[string]string{"HF_TOKEN": "hf_x"},
	}
	h, _ := start(t, r, w)
	name := instance(t, cs, w.ID)
	j, err := cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *j.Spec.BackoffLimit != 0 || *j.Spec.ActiveDeadlineSeconds != 90 || j.Spec.TTLSecondsAfterFinished == nil ||
		j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || j.Labels[LabelKind] != "job" {
		t.Fatalf("job %+v", j.Spec)
	}
	if m := j.Spec.Template.Spec.Containers[0].VolumeMounts; len(m) != 1 || m[0].MountPath != "/cache" || m[0].SubPath != "jobs/cache/1" {
		t.Fatalf("mounts %+v", m)
	}
	if h.Addr() != "" {
		t.Fatalf("a job without a port has address %q", h.Addr())
	}
	p := runPod(t, cs, name, j.Spec.Template.Labels)
	endPod(t, cs, p, corev1.PodSucceeded, &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"})
	if e := waitDone(t, h); e.Code != 0 || e.Reason != "Exit code: 0" {
		t.Fatalf("exit %+v", e)
	}
	if n := left(t, cs, name); n != 0 {
		t.Fatalf("%d objects left", n)
	}
}

func TestJobDeadline(t *testing.T) {
	r, cs, _ := newRunner(t)
	w := &runner.Workload{ID: "job-1", Kind: runner.KindJob, Recipe: runner.Recipe{Image: "busybox"},
		Limits: runner.Limits{WallClock: time.Minute}}
	h, _ := start(t, r, w)
	name := instance(t, cs, w.ID)
	j, _ := cs.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}}
	if _, err := cs.BatchV1().Jobs(ns).UpdateStatus(context.Background(), j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := waitDone(t, h); !e.TimedOut || e.Reason != "Timed out after 1m0s" {
		t.Fatalf("exit %+v", e)
	}
}

func TestStopRemovesObjects(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	h, _ := start(t, r, w)
	name := instance(t, cs, w.ID)
	d, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	runPod(t, cs, name, d.Spec.Template.Labels)
	if n := left(t, cs, name); n != 4 {
		t.Fatalf("%d objects before Stop", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Stop(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if e := h.Exit(); !e.Stopped || e.Reason != "Stopped" {
		t.Fatalf("exit %+v", e)
	}
	if n := left(t, cs, name); n != 0 {
		t.Fatalf("%d objects left after Stop", n)
	}
	// The pod was given the grace asked for.
	for _, a := range cs.Actions() {
		if da, ok := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }); ok && a.GetResource().Resource == "pods" {
			if g := da.GetDeleteOptions().GracePeriodSeconds; g == nil || *g != 5 {
				t.Fatalf("pod deleted with grace %v", g)
			}
		}
	}
}

func TestLeftoversReaped(t *testing.T) {
	r, cs, root := newRunner(t)
	w := spaceWorkload(root)
	w.Recipe = runner.Recipe{Image: "app:1"}
	old := r.service(w, "haven-space-7-old")
	if _, err := cs.CoreV1().Services(ns).Create(context.Background(), old, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := r.service(&runner.Workload{ID: "space-8", Port: 1}, "haven-space-8-x")
	cs.CoreV1().Services(ns).Create(context.Background(), other, metav1.CreateOptions{})
	start(t, r, w)
	if _, err := cs.CoreV1().Services(ns).Get(context.Background(), "haven-space-7-old", metav1.GetOptions{}); err == nil {
		t.Fatal("the leftover Service of the workload is still there")
	}
	if _, err := cs.CoreV1().Services(ns).Get(context.Background(), "haven-space-8-x", metav1.GetOptions{}); err != nil {
		t.Fatal("another workload's Service was deleted")
	}
}

func TestBuild(t *testing.T) {
	r, _, root := newRunner(t)
	ctx := context.Background()
	var re *runner.Error
	_, err := r.Build(ctx, &runner.Workload{Recipe: runner.Recipe{Dockerfile: "Dockerfile"}}, false, &bytes.Buffer{})
	if !errors.As(err, &re) || re.Message != ErrDockerfile {
		t.Fatalf("a Dockerfile: %v", err)
	}
	if _, err := r.Build(ctx, &runner.Workload{Recipe: runner.Recipe{Python: "3; rm -rf /"}}, false, &bytes.Buffer{}); !errors.As(err, &re) {
		t.Fatalf("a bad version: %v", err)
	}
	rc := runner.Recipe{Python: "3.11", Requirements: []string{"numpy"}, Packages: []string{"ffmpeg"}}
	var log bytes.Buffer
	b1, err := r.Build(ctx, &runner.Workload{Recipe: rc}, false, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "ffmpeg") || b1.Reused() {
		t.Fatalf("log %q, reused %v", log.String(), b1.Reused())
	}
	b2, _ := r.Build(ctx, &runner.Workload{Recipe: rc}, false, &bytes.Buffer{})
	rc.Requirements = []string{"numpy", "pandas"}
	b3, _ := r.Build(ctx, &runner.Workload{Recipe: rc}, false, &bytes.Buffer{})
	if b1.Key() != b2.Key() || b1.Key() == b3.Key() {
		t.Fatalf("keys %s %s %s", b1.Key(), b2.Key(), b3.Key())
	}
	// Once a pod has installed them, the requirements are reused, until
	// a factory rebuild.
	env := filepath.Join(root, envsDir, b3.Key())
	os.MkdirAll(env, 0o755)
	os.WriteFile(filepath.Join(env, readyFile), nil, 0o644)
	if b, _ := r.Build(ctx, &runner.Workload{Recipe: rc}, false, &bytes.Buffer{}); !b.Reused() {
		t.Fatal("installed requirements not reused")
	}
	if b, _ := r.Build(ctx, &runner.Workload{Recipe: rc}, true, &bytes.Buffer{}); b.Reused() {
		t.Fatal("a fresh build reused the requirements")
	}
	if _, err := os.Stat(env); !os.IsNotExist(err) {
		t.Fatal("a fresh build left the old requirements")
	}
}

func TestFoldersOutsideTheClaim(t *testing.T) {
	r, cs, root := newRunner(t)
	ctx := context.Background()
	var re *runner.Error
	w := spaceWorkload(root)
	w.Data = t.TempDir()
	b, _ := r.Build(ctx, w, false, &bytes.Buffer{})
	if _, err := r.Start(ctx, w, b, &bytes.Buffer{}); !errors.As(err, &re) || !strings.Contains(re.Message, "outside Haven's data folder") {
		t.Fatalf("data outside the claim: %v", err)
	}
	if l, _ := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); len(l.Items) != 0 {
		t.Fatal("a Deployment was created")
	}
	noClaim, _ := New(Config{Client: cs, Namespace: ns})
	w = spaceWorkload(root)
	b, _ = noClaim.Build(ctx, w, false, &bytes.Buffer{})
	if _, err := noClaim.Start(ctx, w, b, &bytes.Buffer{}); !errors.As(err, &re) || !strings.Contains(re.Message, "--kube-claim") {
		t.Fatalf("files without a claim: %v", err)
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("x", 100)
	if n := instanceName("endpoint/"+long, "0a1b2c3d"); len(n) > 63 || !strings.HasSuffix(n, "-0a1b2c3d") || strings.Contains(n, "/") {
		t.Fatalf("name %q", n)
	}
	if l := workloadLabel(long); len(l) > 63 {
		t.Fatalf("label %q", l)
	}
	if workloadLabel("a/b") == workloadLabel("a/c") {
		t.Fatal("labels of two workloads are equal")
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics([]byte(`{"containers":[{"name":"app","usage":{"cpu":"250m","memory":"64Mi"}},{"name":"sidecar","usage":{"cpu":"1"}}]}`),
		runner.Limits{CPUs: 2, MemoryMB: 512})
	if err != nil {
		t.Fatal(err)
	}
	if m.CPUMillicores != 250 || m.CPUPercent != 12.5 || m.MemoryBytes != 64<<20 || m.MemoryMaxBytes != 512<<20 {
		t.Fatalf("metrics %+v", m)
	}
}
