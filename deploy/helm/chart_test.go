// Package helm holds the Helm chart of Haven (haven/) and its tests, which
// render it with Helm's own engine and decode every object it makes into
// its typed Kubernetes form, strictly: an unknown field, a field of the
// wrong type or a kind this Kubernetes release does not know fails, as
// the API server would refuse it. No cluster and no schema download is
// needed.
package helm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/havenhub/haven/runner"
	kuberunner "github.com/havenhub/haven/runner/kubernetes"
)

// strict decodes YAML into the typed objects of client-go's scheme,
// refusing unknown and duplicate fields.
var strict = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// render renders the chart as `helm install hub -n haven` would with vals,
// and decodes what it makes.
func render(t *testing.T, vals map[string]any) ([]runtime.Object, error) {
	t.Helper()
	ch, err := loader.Load("haven")
	if err != nil {
		t.Fatal(err)
	}
	rv, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: "hub", Namespace: "haven", IsInstall: true, Revision: 1}, nil)
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, rv)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []runtime.Object
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		for i, doc := range strings.Split(files[n], "\n---") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, _, err := strict.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%s, document %d: %v\n%s", n, i, err, doc)
			}
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func find[T runtime.Object](objs []runtime.Object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func one[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	all := find[T](objs)
	if len(all) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T", len(all), zero)
	}
	return all[0]
}

func replicated() map[string]any {
	return map[string]any{
		"replicaCount": 3,
		"publicURL":    "https://hub.example.com",
		"database":     map[string]any{"url": "postgres://haven:pw@db:5432/haven"},
		"blobStore":    map[string]any{"url": "s3://KEY:SECRET@minio:9000/haven"},
	}
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

func TestReplicas(t *testing.T) {
	objs, err := render(t, replicated())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		m, ok := o.(interface{ GetName() string })
		if !ok || len(validation.IsDNS1123Subdomain(m.GetName())) > 0 {
			t.Fatalf("%T has a bad name", o)
		}
	}
	d := one[*appsv1.Deployment](t, objs)
	if *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Fatalf("replicas %d, strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	pod := d.Spec.Template
	sel, err := metaSelector(d)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Fatalf("the Deployment's selector does not pick its pods: %v", err)
	}
	c := pod.Spec.Containers[0]
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.Ports[0].ContainerPort != 8080 {
		t.Fatalf("probes and port: %+v %+v %+v", c.ReadinessProbe, c.LivenessProbe, c.Ports)
	}
	e := env(c)
	if e["HAVEN_PUBLIC_URL"].Value != "https://hub.example.com" || e["HAVEN_REPOS_DIR"].Value != "/mnt/haven-repos" || e["HAVEN_RUNNER"].Value != "none" {
		t.Fatalf("env %+v", e)
	}
	// Each pod is a replica of its own, reached at its own address.
	if e["POD_NAME"].ValueFrom == nil || e["POD_NAME"].ValueFrom.FieldRef.FieldPath != "metadata.name" ||
		e["POD_IP"].ValueFrom == nil || e["POD_IP"].ValueFrom.FieldRef.FieldPath != "status.podIP" ||
		e["HAVEN_REPLICA_ID"].Value != "$(POD_NAME)" || e["HAVEN_ADVERTISE_URL"].Value != "http://$(POD_IP):8080" {
		t.Fatalf("replica identity: %+v %+v %+v %+v", e["POD_NAME"], e["POD_IP"], e["HAVEN_REPLICA_ID"], e["HAVEN_ADVERTISE_URL"])
	}
	for _, k := range []string{"HAVEN_DATABASE", "HAVEN_BLOB_STORE"} {
		if e[k].Value != "" || e[k].ValueFrom == nil || e[k].ValueFrom.SecretKeyRef.Name != "hub-haven" {
			t.Fatalf("%s is not read from the Secret: %+v", k, e[k])
		}
	}
	var buf bytes.Buffer
	strict.Encode(d, &buf)
	if strings.Contains(buf.String(), "pw@db") || strings.Contains(buf.String(), "SECRET@") {
		t.Fatal("a credential is in the Deployment")
	}
	if *pod.Spec.AutomountServiceAccountToken || *pod.Spec.SecurityContext.RunAsUser != 1000 {
		t.Fatal("the pods get the API's token, or run as root")
	}

	sec := one[*corev1.Secret](t, objs)
	if string(sec.Data["database-url"]) != "postgres://haven:pw@db:5432/haven" || len(sec.Data["secret.key"]) < 32 {
		t.Fatalf("secret %v", sec.Data)
	}
	pvc := one[*corev1.PersistentVolumeClaim](t, objs)
	if pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Fatalf("the repositories' volume is %v", pvc.Spec.AccessModes)
	}
	mounted := false
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
			mounted = true
		}
	}
	if !mounted {
		t.Fatal("the pods do not mount the repositories' volume")
	}
	svc := one[*corev1.Service](t, objs)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) || svc.Spec.Ports[0].TargetPort.StrVal != c.Ports[0].Name {
		t.Fatalf("the Service does not reach the pods: %+v", svc.Spec)
	}
	pdb := one[*policyv1.PodDisruptionBudget](t, objs)
	psel, err := metaSelectorOf(pdb.Spec.Selector.MatchLabels)
	if err != nil || !psel.Matches(labels.Set(pod.Labels)) || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Fatalf("the PodDisruptionBudget: %+v", pdb.Spec)
	}
	if len(find[*rbacv1.Role](objs)) != 0 || len(find[*networkingv1.NetworkPolicy](objs)) != 0 {
		t.Fatal("a Role or a NetworkPolicy without the Kubernetes runner")
	}
}

func TestKubernetesRunner(t *testing.T) {
	vals := map[string]any{
		"replicaCount": 2,
		"publicURL":    "https://hub.example.com",
		"database":     map[string]any{"existingSecret": "haven-db", "existingSecretKey": "dsn"},
		"blobStore":    map[string]any{"existingSecret": "haven-s3"},
		"secretKey":    map[string]any{"existingSecret": "haven-key"},
		"runner":       map[string]any{"kind": "kubernetes", "namespace": "haven-apps", "pythonImage": "registry.local/python:{python}"},
		"persistence":  map[string]any{"existingClaim": "shared"},
	}
	objs, err := render(t, vals)
	if err != nil {
		t.Fatal(err)
	}
	d := one[*appsv1.Deployment](t, objs)
	if *d.Spec.Replicas != 2 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || !*d.Spec.Template.Spec.AutomountServiceAccountToken {
		t.Fatalf("replicas %d, strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	e := env(d.Spec.Template.Spec.Containers[0])
	if e["HAVEN_RUNNER"].Value != "kubernetes" || e["HAVEN_KUBE_NAMESPACE"].Value != "haven-apps" || e["HAVEN_KUBE_CLAIM"].Value != "shared" ||
		e["HAVEN_KUBE_PYTHON_IMAGE"].Value != "registry.local/python:{python}" {
		t.Fatalf("env %+v", e)
	}
	if r := e["HAVEN_DATABASE"].ValueFrom.SecretKeyRef; r.Name != "haven-db" || r.Key != "dsn" {
		t.Fatalf("database from %+v", r)
	}
	// The data folder itself is the shared volume, which workload pods
	// mount too.
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "data" && (v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "shared") {
			t.Fatalf("data volume %+v", v)
		}
		if v.Name == "secret-key" && v.Secret.SecretName != "haven-key" {
			t.Fatalf("secret key volume %+v", v)
		}
	}
	if len(find[*corev1.PersistentVolumeClaim](objs)) != 0 {
		t.Fatal("a claim made beside the existing one")
	}
	if sec := one[*corev1.Secret](t, objs); len(sec.Data) != 0 {
		t.Fatalf("the chart's Secret holds %v though every value is in a Secret of its own", sec.Data)
	}

	role := one[*rbacv1.Role](t, objs)
	if role.Namespace != "haven-apps" {
		t.Fatalf("the Role is in %q", role.Namespace)
	}
	// What the runner does (runner/kubernetes).
	need := map[string][]string{
		"apps/deployments": {"create", "delete", "list", "watch"},
		"batch/jobs":       {"create", "delete", "list", "watch"},
		"/services":        {"create", "delete", "list"},
		"/secrets":         {"create", "delete", "list"},
		"/pods":            {"list", "watch", "delete"},
		"/pods/log":        {"get"},
	}
	for res, verbs := range need {
		group, name, _ := strings.Cut(res, "/")
		for _, v := range verbs {
			if !allows(role, group, name, v) {
				t.Errorf("the Role does not allow %s on %s", v, res)
			}
		}
	}
	np := one[*networkingv1.NetworkPolicy](t, objs)
	from := np.Spec.Ingress[0].From[0]
	if np.Namespace != "haven-apps" || np.Spec.PodSelector.MatchLabels[kuberunner.LabelManagedBy] != "haven" ||
		from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "haven" ||
		!labels.SelectorFromSet(from.PodSelector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Fatalf("network policy %+v", np.Spec)
	}
	rb := one[*rbacv1.RoleBinding](t, objs)
	sa := one[*corev1.ServiceAccount](t, objs)
	if rb.RoleRef.Name != role.Name || rb.Subjects[0].Name != sa.Name || rb.Subjects[0].Namespace != "haven" ||
		d.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Fatalf("binding %+v, account %s", rb, sa.Name)
	}
}

// TestRoleCoversTheRunner runs workloads through the Kubernetes runner on
// client-go's fake clientset and checks that every call it made is one the
// chart's Role allows.
func TestRoleCoversTheRunner(t *testing.T) {
	vals := replicated()
	vals["replicaCount"] = 1
	vals["runner"] = map[string]any{"kind": "kubernetes"}
	objs, err := render(t, vals)
	if err != nil {
		t.Fatal(err)
	}
	role := one[*rbacv1.Role](t, objs)

	cs := fake.NewSimpleClientset()
	r, err := kuberunner.New(kuberunner.Config{Client: cs, Namespace: "haven"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, w := range []*runner.Workload{
		{ID: "space-1", Kind: runner.KindSpace, Recipe: runner.Recipe{Image: "app:1"}, Port: 7860, Secrets: map[string]string{"K": "v"}},
		{ID: "job-1", Kind: runner.KindJob, Recipe: runner.Recipe{Image: "app:1"}},
	} {
		b, err := r.Build(ctx, w, false, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		h, err := r.Start(ctx, w, b, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		// A pod that ran and ended, its output read.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: w.ID + "-pod", Namespace: "haven", Labels: map[string]string{kuberunner.LabelInstance: instanceOf(t, cs, w.ID)}},
			Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}},
		}
		if _, err := cs.CoreV1().Pods("haven").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-h.Done():
		case <-ctx.Done():
			t.Fatal("the workload did not end")
		}
		h.Metrics(ctx)
	}
	// And leftovers of a workload deleted when it starts again.
	w := &runner.Workload{ID: "space-1", Kind: runner.KindSpace, Recipe: runner.Recipe{Image: "app:1"}}
	b, _ := r.Build(ctx, w, false, io.Discard)
	h, err := r.Start(ctx, w, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range cs.Actions() {
		res := a.GetResource()
		if res.Resource == "pods" && a.GetVerb() == "create" {
			continue // the pods the test made, as a controller would
		}
		name := res.Resource
		if sub := a.GetSubresource(); sub != "" {
			name += "/" + sub
		}
		key := res.Group + " " + name + " " + a.GetVerb()
		if seen[key] {
			continue
		}
		seen[key] = true
		if !allows(role, res.Group, name, a.GetVerb()) {
			t.Errorf("the runner calls %s %s (group %q), which the Role does not allow", a.GetVerb(), name, res.Group)
		}
	}
	// Watches start in their own goroutines and may come after a workload
	// ended; the calls Start makes itself are certain.
	if !seen[" pods/log get"] || !seen["apps deployments create"] || !seen["batch jobs create"] {
		t.Fatalf("the runner's calls were not all seen: %v", seen)
	}
}

func instanceOf(t *testing.T, cs *fake.Clientset, id string) string {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: kuberunner.LabelWorkload + "=" + id}
	if l, _ := cs.AppsV1().Deployments("haven").List(context.Background(), sel); l != nil && len(l.Items) == 1 {
		return l.Items[0].Name
	}
	if l, _ := cs.BatchV1().Jobs("haven").List(context.Background(), sel); l != nil && len(l.Items) == 1 {
		return l.Items[0].Name
	}
	t.Fatalf("no instance of %s", id)
	return ""
}

func allows(r *rbacv1.Role, group, resource, verb string) bool {
	for _, rule := range r.Rules {
		if contains(rule.APIGroups, group) && contains(rule.Resources, resource) && contains(rule.Verbs, verb) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestRefusals(t *testing.T) {
	for name, change := range map[string]func(map[string]any){
		"no public URL":    func(v map[string]any) { delete(v, "publicURL") },
		"no database":      func(v map[string]any) { delete(v, "database") },
		"no bucket":        func(v map[string]any) { delete(v, "blobStore") },
		"short key":        func(v map[string]any) { v["secretKey"] = map[string]any{"value": "short"} },
		"unknown runner":   func(v map[string]any) { v["runner"] = map[string]any{"kind": "process"}; v["replicaCount"] = 1 },
		"a misspelt value": func(v map[string]any) { v["replicaCont"] = 2 },
		"a wrong type":     func(v map[string]any) { v["service"] = map[string]any{"port": "http"} },
	} {
		v := replicated()
		change(v)
		if _, err := render(t, v); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

// TestStrictDecoding shows the check has teeth: what an API server would
// refuse is refused here.
func TestStrictDecoding(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicaz: 1}\n",
		"wrong type":    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: eighty}]}\n",
		"unknown kind":  "apiVersion: v1\nkind: Deploymnet\nmetadata: {name: x}\n",
		"duplicate":     "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ntype: Opaque\ntype: Opaque\n",
	} {
		if _, _, err := strict.Decode([]byte(doc), nil, nil); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func metaSelector(d *appsv1.Deployment) (labels.Selector, error) {
	return metaSelectorOf(d.Spec.Selector.MatchLabels)
}

func metaSelectorOf(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("empty selector")
	}
	return labels.SelectorFromSet(m), nil
}
