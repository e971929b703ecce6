package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/havenhub/haven/runner"
)

// Start creates w's objects, all named haven-{id}-{random} and labelled
// with the workload: a Secret of its secrets, a Job (KindJob) or a
// Deployment of one pod, and a Service when it has a Port. It returns once
// they exist; the handle's Done closes when the pod's app container ends,
// after which the objects are deleted.
func (r *Runner) Start(ctx context.Context, w *runner.Workload, b runner.Build, out io.Writer) (runner.Handle, error) {
	bd, ok := b.(*build)
	if !ok {
		return nil, errors.New("kubernetes runner: a build from another runner")
	}
	m, err := r.mounts(w, bd)
	if err != nil {
		return nil, err
	}
	r.reap(ctx, w.ID)
	var suffix [4]byte
	rand.Read(suffix[:])
	name := instanceName(w.ID, fmt.Sprintf("%x", suffix))
	r.mu.Lock()
	r.live[name] = true
	r.mu.Unlock()
	h := &handle{r: r, w: w, name: name, job: w.Kind == runner.KindJob, python: bd.python != nil,
		done: make(chan struct{}), ending: make(chan struct{}), logsDone: make(chan struct{})}
	if err := h.create(ctx, bd, m); err != nil {
		h.remove(context.Background(), 0)
		r.forget(name)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var re *runner.Error
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, &runner.Error{Message: fmt.Sprintf("The workload could not be started on the cluster: %v", err)}
	}
	wctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go h.followLogs(wctx, out)
	ready := make(chan struct{}, 2)
	go h.watchPods(wctx, ready)
	go h.watchOwner(wctx, ready)
	if r.watchWait != nil {
		<-ready
		<-ready
		r.watchWait()
	}
	if wc := w.Limits.WallClock; wc > 0 && !h.job {
		// Jobs have the cluster's deadline; other workloads this timer.
		h.timer = time.AfterFunc(wc, func() {
			h.mu.Lock()
			h.timedOut = true
			h.mu.Unlock()
			h.Stop(context.Background(), 10*time.Second)
		})
	}
	return h, nil
}

// create makes the instance's objects, the Secret first so that the pod
// finds it.
func (h *handle) create(ctx context.Context, b *build, m *mounted) error {
	r, w, name := h.r, h.w, h.name
	if len(w.Secrets) > 0 {
		if _, err := r.client.CoreV1().Secrets(r.ns).Create(ctx, r.secretObject(w, name), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating the Secret: %w", err)
		}
	}
	if h.job {
		if _, err := r.client.BatchV1().Jobs(r.ns).Create(ctx, r.jobObject(w, b, name, m), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating the Job: %w", err)
		}
	} else {
		if _, err := r.client.AppsV1().Deployments(r.ns).Create(ctx, r.deployment(w, b, name, m), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating the Deployment: %w", err)
		}
	}
	if w.Port > 0 {
		svc, err := r.client.CoreV1().Services(r.ns).Create(ctx, r.service(w, name), metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating the Service: %w", err)
		}
		h.addr = r.serviceAddr(svc, w.Port)
	}
	return nil
}

// reap deletes the objects of workload id that this runner did not start:
// the remains of a Haven that ended without deleting them.
func (r *Runner) reap(ctx context.Context, id string) {
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + managedBy + "," + LabelWorkload + "=" + workloadLabel(id)}
	names := map[string]bool{}
	if l, err := r.client.AppsV1().Deployments(r.ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			names[o.Labels[LabelInstance]] = true
		}
	}
	if l, err := r.client.BatchV1().Jobs(r.ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			names[o.Labels[LabelInstance]] = true
		}
	}
	if l, err := r.client.CoreV1().Services(r.ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			names[o.Labels[LabelInstance]] = true
		}
	}
	if l, err := r.client.CoreV1().Secrets(r.ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			names[o.Labels[LabelInstance]] = true
		}
	}
	for name := range names {
		r.mu.Lock()
		live := r.live[name]
		r.mu.Unlock()
		if name == "" || live {
			continue
		}
		r.log.Warn("kubernetes runner: deleting objects left from before", "instance", name, "namespace", r.ns)
		(&handle{r: r, name: name}).remove(ctx, 0)
	}
}

func (r *Runner) forget(name string) {
	r.mu.Lock()
	delete(r.live, name)
	r.mu.Unlock()
}

// handle is a started instance.
type handle struct {
	r      *Runner
	w      *runner.Workload
	name   string
	addr   string
	job    bool
	python bool
	timer  *time.Timer
	cancel context.CancelFunc // ends the watches and log streams

	done     chan struct{}
	ending   chan struct{} // closed once the end is known
	logsDone chan struct{}
	once     sync.Once

	mu       sync.Mutex
	exit     runner.Exit
	pod      string // the pod seen last
	stopped  bool
	timedOut bool
}

func (h *handle) Addr() string          { return h.addr }
func (h *handle) Done() <-chan struct{} { return h.done }

func (h *handle) Exit() runner.Exit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.exit
}

func (h *handle) selector() metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: LabelInstance + "=" + h.name}
}

// finish records how the instance ended, once: it waits a moment for the
// last lines of its output, deletes its objects and closes Done.
func (h *handle) finish(e runner.Exit) {
	h.once.Do(func() {
		close(h.ending)
		go func() {
			select {
			case <-h.logsDone:
			case <-time.After(10 * time.Second):
			}
			h.cancel()
			h.remove(context.Background(), 0)
			h.r.forget(h.name)
			if h.timer != nil {
				h.timer.Stop()
			}
			h.mu.Lock()
			e.Stopped = e.Stopped || h.stopped
			e.TimedOut = e.TimedOut || h.timedOut
			e.Reason = h.reason(e)
			h.exit = e
			h.mu.Unlock()
			close(h.done)
		}()
	})
}

// reason is how e reads for people, as the other backends say it.
func (h *handle) reason(e runner.Exit) string {
	limit := h.w.Limits.MemoryMB
	switch {
	case e.Reason != "" && !e.Stopped:
		return e.Reason
	case e.OOM && limit > 0:
		return fmt.Sprintf("Memory limit exceeded (%s)", memString(limit))
	case e.OOM:
		return "Memory limit exceeded"
	case e.TimedOut:
		return fmt.Sprintf("Timed out after %s", h.w.Limits.WallClock)
	case e.Stopped:
		return "Stopped"
	case e.Signal != "":
		return "Killed by signal: " + e.Signal
	}
	return fmt.Sprintf("Exit code: %d", e.Code)
}

// memString writes megabytes as the Hub does: "512Mi", "16Gi".
func memString(mb int64) string {
	if mb%1024 == 0 {
		return fmt.Sprintf("%dGi", mb/1024)
	}
	return fmt.Sprintf("%dMi", mb)
}

// watchLoop lists, then watches from the list's version, again whenever
// the watch ends (API servers end them every few minutes), until ctx ends;
// each object seen goes to fn. ready is signalled once the first watch is
// set.
func (h *handle) watchLoop(ctx context.Context, list func(metav1.ListOptions) ([]runtime.Object, string, error),
	watchFn func(metav1.ListOptions) (watch.Interface, error), sel metav1.ListOptions,
	fn func(watch.EventType, runtime.Object), ready chan<- struct{}) {
	signalled := false
	last := ""
	for ctx.Err() == nil {
		items, rv, err := list(sel)
		if err != nil && err.Error() != last && ctx.Err() == nil {
			// Most often the Role: the workload's end cannot be seen.
			h.r.log.Warn("kubernetes runner: listing", "instance", h.name, "err", err)
			last = err.Error()
		}
		if err == nil {
			for _, o := range items {
				fn(watch.Added, o)
			}
			opts := sel
			opts.ResourceVersion = rv
			var wi watch.Interface
			if wi, err = watchFn(opts); err == nil {
				if !signalled && ready != nil {
					ready <- struct{}{}
					signalled = true
				}
				func() {
					defer wi.Stop()
					for {
						select {
						case <-ctx.Done():
							return
						case ev, ok := <-wi.ResultChan():
							if !ok || ev.Type == watch.Error {
								return
							}
							fn(ev.Type, ev.Object)
						}
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// watchPods follows the instance's pods to the end of its app container.
func (h *handle) watchPods(ctx context.Context, ready chan<- struct{}) {
	pods := h.r.client.CoreV1().Pods(h.r.ns)
	h.watchLoop(ctx, func(o metav1.ListOptions) ([]runtime.Object, string, error) {
		l, err := pods.List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		out := make([]runtime.Object, len(l.Items))
		for i := range l.Items {
			out[i] = &l.Items[i]
		}
		return out, l.ResourceVersion, nil
	}, func(o metav1.ListOptions) (watch.Interface, error) { return pods.Watch(ctx, o) }, h.selector(),
		func(t watch.EventType, o runtime.Object) {
			if p, ok := o.(*corev1.Pod); ok && p.Labels[LabelInstance] == h.name {
				h.podChanged(t, p)
			}
		}, ready)
}

// podChanged reads the end of the instance, if it has come, in a pod.
func (h *handle) podChanged(t watch.EventType, p *corev1.Pod) {
	h.mu.Lock()
	h.pod = p.Name
	stopped := h.stopped
	h.mu.Unlock()
	if e, ok := podExit(p, h.python); ok {
		h.finish(e)
		return
	}
	if t == watch.Deleted && (stopped || h.job) {
		// A job's pod deleted before it ended: its Job says why.
		if stopped {
			h.finish(runner.Exit{Code: -1, Signal: "killed"})
		}
	}
}

// podExit is how a pod's app ended, if it has: its container terminated
// (or restarted after terminating), its install step failed, the pod
// failed as a whole (evicted), or its image cannot be had.
func podExit(p *corev1.Pod, python bool) (runner.Exit, bool) {
	if python {
		for _, cs := range p.Status.InitContainerStatuses {
			t := cs.State.Terminated
			if t == nil && cs.RestartCount > 0 {
				// A Deployment's pod tries its init containers again.
				t = cs.LastTerminationState.Terminated
			}
			if cs.Name == installContainer && t != nil && t.ExitCode != 0 {
				return runner.Exit{Code: -1, Reason: fmt.Sprintf("Installing the requirements failed (exit code %d)", t.ExitCode)}, true
			}
			if e, ok := waitingExit(cs); ok {
				return e, true
			}
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name != appContainer {
			continue
		}
		t := cs.State.Terminated
		if t == nil && cs.RestartCount > 0 {
			t = cs.LastTerminationState.Terminated
		}
		if t != nil {
			return terminatedExit(t), true
		}
		if e, ok := waitingExit(cs); ok {
			return e, true
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		msg := p.Status.Message
		if msg == "" {
			msg = p.Status.Reason
		}
		return runner.Exit{Code: -1, Reason: "The pod failed: " + msg}, true
	}
	return runner.Exit{}, false
}

// waitingExit ends an instance whose container cannot start and never
// will by waiting: its image is missing or its spec is wrong.
func waitingExit(cs corev1.ContainerStatus) (runner.Exit, bool) {
	w := cs.State.Waiting
	if w == nil {
		return runner.Exit{}, false
	}
	switch w.Reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
		return runner.Exit{Code: -1, Reason: fmt.Sprintf("Could not pull the image %s: %s", cs.Image, w.Message)}, true
	case "CreateContainerConfigError", "CreateContainerError":
		return runner.Exit{Code: -1, Reason: "The container could not be created: " + w.Message}, true
	}
	return runner.Exit{}, false
}

// terminatedExit reads a container's end as the other backends report it.
func terminatedExit(t *corev1.ContainerStateTerminated) runner.Exit {
	e := runner.Exit{Code: int(t.ExitCode), OOM: t.Reason == "OOMKilled"}
	if t.Signal != 0 {
		e.Signal, e.Code = syscall.Signal(t.Signal).String(), -1
	} else if e.Code > 128 && e.Code < 128+65 {
		// Runtimes report a death by signal as 128 + the signal's number.
		e.Signal, e.Code = syscall.Signal(e.Code-128).String(), -1
	}
	return e
}

// watchOwner follows the instance's Job or Deployment: a Job's deadline or
// failure, and either deleted by someone else.
func (h *handle) watchOwner(ctx context.Context, ready chan<- struct{}) {
	sel := h.selector()
	if h.job {
		jobs := h.r.client.BatchV1().Jobs(h.r.ns)
		h.watchLoop(ctx, func(o metav1.ListOptions) ([]runtime.Object, string, error) {
			l, err := jobs.List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			out := make([]runtime.Object, len(l.Items))
			for i := range l.Items {
				out[i] = &l.Items[i]
			}
			return out, l.ResourceVersion, nil
		}, func(o metav1.ListOptions) (watch.Interface, error) { return jobs.Watch(ctx, o) }, sel,
			func(t watch.EventType, o runtime.Object) {
				j, ok := o.(interface{ GetName() string })
				if !ok || j.GetName() != h.name {
					return
				}
				if t == watch.Deleted {
					h.finish(runner.Exit{Code: -1, Reason: "The job's Job was deleted from the cluster"})
					return
				}
				h.jobChanged(o)
			}, ready)
		return
	}
	deps := h.r.client.AppsV1().Deployments(h.r.ns)
	h.watchLoop(ctx, func(o metav1.ListOptions) ([]runtime.Object, string, error) {
		l, err := deps.List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		out := make([]runtime.Object, len(l.Items))
		for i := range l.Items {
			out[i] = &l.Items[i]
		}
		return out, l.ResourceVersion, nil
	}, func(o metav1.ListOptions) (watch.Interface, error) { return deps.Watch(ctx, o) }, sel,
		func(t watch.EventType, o runtime.Object) {
			d, ok := o.(interface{ GetName() string })
			if ok && d.GetName() == h.name && t == watch.Deleted {
				h.mu.Lock()
				stopped := h.stopped
				h.mu.Unlock()
				if !stopped {
					h.finish(runner.Exit{Code: -1, Reason: "The workload's Deployment was deleted from the cluster"})
				}
			}
		}, ready)
}

// jobChanged ends a job whose Job failed without its pod saying how (the
// deadline, which deletes the pod), or succeeded.
func (h *handle) jobChanged(o runtime.Object) {
	job, ok := o.(*batchv1.Job)
	if !ok {
		return
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			if c.Reason == "DeadlineExceeded" {
				h.mu.Lock()
				h.timedOut = true
				h.mu.Unlock()
				h.finish(runner.Exit{Code: -1, TimedOut: true})
				return
			}
			// The pod's end, when there is one, says more; wait for it
			// a moment.
			go func() {
				time.Sleep(5 * time.Second)
				h.finish(runner.Exit{Code: -1, Reason: "The job failed: " + c.Message})
			}()
		case batchv1.JobComplete:
			go func() {
				time.Sleep(5 * time.Second)
				h.finish(runner.Exit{Code: 0})
			}()
		}
	}
}

// followLogs writes the output of the pod's install step, then of its app,
// to out, from their first line, as each starts.
func (h *handle) followLogs(ctx context.Context, out io.Writer) {
	defer close(h.logsDone)
	containers := []string{appContainer}
	if h.python {
		containers = []string{installContainer, appContainer}
	}
	for _, c := range containers {
		pod, ok := h.waitStarted(ctx, c)
		if !ok {
			return
		}
		st, err := h.r.client.CoreV1().Pods(h.r.ns).GetLogs(pod, &corev1.PodLogOptions{Container: c, Follow: true}).Stream(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(out, "Could not follow the output of %s: %v\n", c, err)
			}
			continue
		}
		io.Copy(out, st)
		st.Close()
	}
}

// waitStarted waits until container c of the instance's pod has started
// (or ended), and returns the pod's name; false once the instance is over.
func (h *handle) waitStarted(ctx context.Context, c string) (string, bool) {
	for {
		ended := false
		select {
		case <-h.ending:
			ended = true
		default:
		}
		l, err := h.r.client.CoreV1().Pods(h.r.ns).List(ctx, h.selector())
		if err == nil {
			for _, p := range l.Items {
				statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
				for _, cs := range statuses {
					if cs.Name == c && (cs.State.Running != nil || cs.State.Terminated != nil) {
						return p.Name, true
					}
				}
			}
		}
		if ended {
			// Ended before it started: no output to follow.
			return "", false
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-h.ending:
		case <-time.After(time.Second):
		}
	}
}

// remove deletes the instance's objects: the pods at once, after grace,
// and the rest with them.
func (h *handle) remove(ctx context.Context, grace time.Duration) {
	r, name := h.r, h.name
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	ignore := func(err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			r.log.Warn("kubernetes runner: deleting", "instance", name, "err", err)
		}
	}
	ignore(r.client.AppsV1().Deployments(r.ns).Delete(ctx, name, del))
	ignore(r.client.BatchV1().Jobs(r.ns).Delete(ctx, name, del))
	ignore(r.client.CoreV1().Services(r.ns).Delete(ctx, name, metav1.DeleteOptions{}))
	ignore(r.client.CoreV1().Secrets(r.ns).Delete(ctx, name, metav1.DeleteOptions{}))
	// The controllers would delete the pods with their own grace; the
	// caller's is the one asked for.
	secs := int64((grace + time.Second - 1) / time.Second)
	if l, err := r.client.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelInstance + "=" + name}); err == nil {
		for _, p := range l.Items {
			ignore(r.client.CoreV1().Pods(r.ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &secs}))
		}
	}
}

// Stop deletes the instance's objects, its pod given grace to end after
// its stop signal (rounded up to whole seconds), and waits for its end.
func (h *handle) Stop(ctx context.Context, grace time.Duration) error {
	select {
	case <-h.done:
		return nil
	default:
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.remove(ctx, grace)
	// No pod left to watch end: nothing else will say it ended.
	if l, err := h.r.client.CoreV1().Pods(h.r.ns).List(ctx, h.selector()); err == nil && len(l.Items) == 0 {
		h.finish(runner.Exit{Code: -1, Stopped: true})
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exec is not offered: commands beside a pod run with `kubectl exec`.
func (h *handle) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	h.mu.Lock()
	pod := h.pod
	h.mu.Unlock()
	return -1, fmt.Errorf("kubernetes runner: commands do not run beside a workload here; use kubectl exec -n %s %s", h.r.ns, pod)
}

// podMetrics is what the metrics API (metrics-server) says of a pod.
type podMetrics struct {
	Containers []struct {
		Name  string            `json:"name"`
		Usage map[string]string `json:"usage"`
	} `json:"containers"`
}

// Metrics asks the cluster's metrics API for the app container's use; an
// error where the cluster has none (metrics-server is an add-on).
func (h *handle) Metrics(ctx context.Context) (runner.Metrics, error) {
	select {
	case <-h.done:
		return runner.Metrics{}, errors.New("kubernetes runner: the workload has exited")
	default:
	}
	h.mu.Lock()
	pod := h.pod
	h.mu.Unlock()
	rc := h.r.client.Discovery().RESTClient()
	if pod == "" || rc == nil {
		return runner.Metrics{}, errors.New("kubernetes runner: no metrics yet")
	}
	b, err := rc.Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", h.r.ns, "pods", pod).DoRaw(ctx)
	if err != nil {
		return runner.Metrics{}, fmt.Errorf("kubernetes runner: the metrics API: %w", err)
	}
	return parseMetrics(b, h.w.Limits)
}

// parseMetrics reads the metrics API's PodMetrics.
func parseMetrics(b []byte, l runner.Limits) (runner.Metrics, error) {
	var pm podMetrics
	if err := json.Unmarshal(b, &pm); err != nil {
		return runner.Metrics{}, fmt.Errorf("kubernetes runner: reading metrics: %w", err)
	}
	var m runner.Metrics
	for _, c := range pm.Containers {
		if c.Name != appContainer {
			continue
		}
		if q, err := resource.ParseQuantity(c.Usage["cpu"]); err == nil {
			m.CPUMillicores = q.MilliValue()
		}
		if q, err := resource.ParseQuantity(c.Usage["memory"]); err == nil {
			m.MemoryBytes = q.Value()
		}
	}
	if l.CPUs > 0 {
		m.CPUPercent = float64(m.CPUMillicores) / (l.CPUs * 10)
	}
	m.MemoryMaxBytes = l.MemoryMB << 20
	return m, nil
}
