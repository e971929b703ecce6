package kubernetes

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8s "k8s.io/client-go/kubernetes"

	"github.com/havenhub/haven/runner"
)

// clusterRunner is a runner on the real cluster of $HAVEN_TEST_KUBECONFIG,
// in a namespace made for the test; the test is skipped without one (no
// API server can be had on the machines the tests usually run on). Pods
// run $HAVEN_TEST_KUBE_IMAGE (busybox), which the cluster must be able to
// pull.
func clusterRunner(t *testing.T) (*Runner, k8s.Interface, string) {
	t.Helper()
	kc := os.Getenv("HAVEN_TEST_KUBECONFIG")
	if kc == "" {
		t.Skip("HAVEN_TEST_KUBECONFIG names no cluster")
	}
	client, _, err := NewClient(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nsObj, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "haven-test-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CoreV1().Namespaces().Delete(context.Background(), nsObj.Name, metav1.DeleteOptions{}) })
	r, err := New(Config{Client: client, Namespace: nsObj.Name})
	if err != nil {
		t.Fatal(err)
	}
	image := os.Getenv("HAVEN_TEST_KUBE_IMAGE")
	if image == "" {
		image = "docker.io/library/busybox:1.36"
	}
	return r, client, image
}

func TestClusterJob(t *testing.T) {
	r, client, image := clusterRunner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := &runner.Workload{ID: "job-cluster-test", Kind: runner.KindJob, Recipe: runner.Recipe{Image: image},
		Command: []string{"sh", "-c", "echo hello $GREETING $TOKEN; exit 3"},
		Env:     map[string]string{"GREETING": "from haven"}, Secrets: map[string]string{"TOKEN": "s3cr3t"},
		Limits: runner.Limits{CPUs: 0.5, MemoryMB: 64, WallClock: 2 * time.Minute}}
	b, err := r.Build(ctx, w, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	h, err := r.Start(ctx, w, b, out)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
	case <-ctx.Done():
		h.Stop(context.Background(), 0)
		t.Fatal("the job did not end")
	}
	if e := h.Exit(); e.Code != 3 {
		t.Fatalf("exit %+v", e)
	}
	if !strings.Contains(out.String(), "hello from haven s3cr3t") {
		t.Fatalf("output %q", out.String())
	}
	assertGone(t, client, r.ns)
}

func TestClusterStop(t *testing.T) {
	r, client, image := clusterRunner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w := &runner.Workload{ID: "space-cluster-test", Kind: runner.KindSpace, Recipe: runner.Recipe{Image: image},
		Command: []string{"httpd", "-f", "-p", "${PORT}"}, Port: 8080,
		Limits: runner.Limits{CPUs: 0.5, MemoryMB: 64}}
	b, _ := r.Build(ctx, w, false, &bytes.Buffer{})
	h, err := r.Start(ctx, w, b, &syncBuffer{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Addr() == "" {
		t.Fatal("no address")
	}
	// Running, then stopped.
	for ctx.Err() == nil {
		l, _ := client.CoreV1().Pods(r.ns).List(ctx, metav1.ListOptions{LabelSelector: LabelWorkload + "=space-cluster-test"})
		if l != nil && len(l.Items) == 1 && l.Items[0].Status.Phase == corev1.PodRunning {
			break
		}
		time.Sleep(time.Second)
	}
	if err := h.Stop(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if e := h.Exit(); !e.Stopped {
		t.Fatalf("exit %+v", e)
	}
	assertGone(t, client, r.ns)
}

// assertGone waits for the namespace to hold no object of the runner.
func assertGone(t *testing.T, client k8s.Interface, ns string) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: LabelManagedBy + "=" + managedBy}
	ctx := context.Background()
	for range 60 {
		n := 0
		if l, err := client.AppsV1().Deployments(ns).List(ctx, sel); err == nil {
			n += len(l.Items)
		}
		if l, err := client.BatchV1().Jobs(ns).List(ctx, sel); err == nil {
			n += len(l.Items)
		}
		if l, err := client.CoreV1().Services(ns).List(ctx, sel); err == nil {
			n += len(l.Items)
		}
		if l, err := client.CoreV1().Secrets(ns).List(ctx, sel); err == nil {
			n += len(l.Items)
		}
		if l, err := client.CoreV1().Pods(ns).List(ctx, sel); err == nil {
			n += len(l.Items)
		}
		if n == 0 {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatal("objects of the runner are left")
}
