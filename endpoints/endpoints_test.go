package endpoints

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/inference"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner"
)

func TestMergeSettings(t *testing.T) {
	one := 1.0
	c := Settings{Name: "ep", Type: "authenticated",
		Compute: Compute{InstanceType: "cpu", InstanceSize: "x2", Scaling: Scaling{MinReplica: 1, MaxReplica: 2, Measure: map[string]*float64{"pendingRequests": &one}}},
		Model:   Model{Repository: "a/b", Env: map[string]string{"A": "1", "B": "2"}, Command: []string{"x"}},
		Tags:    []string{"t1", "t2"},
	}
	got, err := mergeSettings(c, []byte(`{"compute":{"scaling":{"minReplica":0}},"model":{"env":{"C":"3"}},"tags":["t3"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Compute.Scaling.MinReplica != 0 || got.Compute.Scaling.MaxReplica != 2 || got.Compute.InstanceSize != "x2" ||
		got.Compute.Scaling.threshold() != 1 {
		t.Errorf("scaling not merged: %+v", got.Compute)
	}
	if len(got.Model.Env) != 1 || got.Model.Env["C"] != "3" {
		t.Errorf("env not replaced: %v", got.Model.Env)
	}
	if got.Model.Repository != "a/b" || len(got.Model.Command) != 1 || got.Type != "authenticated" {
		t.Errorf("siblings reset: %+v", got.Model)
	}
	if len(got.Tags) != 1 || got.Tags[0] != "t3" {
		t.Errorf("tags = %v", got.Tags)
	}
	if _, err := mergeSettings(c, []byte(`nope`)); err == nil {
		t.Error("bad JSON accepted")
	}
	// A null threshold means the default.
	got, _ = mergeSettings(c, []byte(`{"compute":{"scaling":{"measure":{"pendingRequests":null}}}}`))
	if got.Compute.Scaling.threshold() != defaultPendingRequests {
		t.Errorf("threshold = %v", got.Compute.Scaling.threshold())
	}
}

func TestClosestCompute(t *testing.T) {
	cs := computesOf(runner.JobFlavors(nil))
	for _, tt := range []struct {
		c    Compute
		want string
	}{
		{Compute{InstanceType: "cpu", InstanceSize: "x2"}, "haven-local-cpu-x2"},
		{Compute{InstanceType: "intel-icl", InstanceSize: "x4", Accelerator: "cpu"}, "haven-local-cpu-x8"},
		{Compute{InstanceType: "nvidia-a10g", InstanceSize: "x1", Accelerator: "gpu"}, "haven-local-cpu-x1"}, // no GPUs here
		{Compute{InstanceType: "cpu", InstanceSize: "x64"}, "haven-local-cpu-x16"},
		{Compute{ID: "haven-local-cpu-x8"}, "haven-local-cpu-x8"},
	} {
		if got := closestCompute(cs, tt.c).ID; got != tt.want {
			t.Errorf("closestCompute(%+v) = %s, want %s", tt.c, got, tt.want)
		}
	}
}

func TestGPUComputes(t *testing.T) {
	pool := runner.NewGPUPool([]runner.GPU{{ID: "0", Name: "NVIDIA H100 80GB HBM3"}, {ID: "1", Name: "NVIDIA H100 80GB HBM3"}})
	cs := computesOf(runner.JobFlavors(pool))
	var gpu []string
	for _, c := range cs {
		if c.Accelerator == "gpu" {
			gpu = append(gpu, c.ID)
		}
	}
	if strings.Join(gpu, " ") != "haven-local-nvidia-h100-x1 haven-local-nvidia-h100-x2" {
		t.Errorf("GPU computes = %v", gpu)
	}
	for _, tt := range []struct {
		c    Compute
		want string
		gpus int
	}{
		{Compute{Accelerator: "gpu", InstanceType: "nvidia-h100", InstanceSize: "x1"}, "haven-local-nvidia-h100-x1", 1},
		{Compute{Accelerator: "gpu", InstanceType: "nvidia-l4", InstanceSize: "x4"}, "haven-local-nvidia-h100-x2", 2},
		{Compute{Accelerator: "gpu", InstanceType: "nvidia-t4", InstanceSize: "x1"}, "haven-local-nvidia-h100-x1", 1},
		{Compute{Accelerator: "cpu", InstanceType: "intel-spr", InstanceSize: "x4"}, "haven-local-cpu-x8", 0},
	} {
		got := closestCompute(cs, tt.c)
		if got.ID != tt.want || got.Flavor.GPUs != tt.gpus {
			t.Errorf("closestCompute(%+v) = %s (%d GPUs), want %s", tt.c, got.ID, got.Flavor.GPUs, tt.want)
		}
	}
}

func TestValidateTraffic(t *testing.T) {
	revs := []revRef{{1, "aaaaaaaa11", revReady}, {2, "bbbbbbbb22", revReady}, {3, "cccccccc33", revFailed}}
	for _, tt := range []struct {
		in   string
		want string // "" for an error
	}{
		{`[{"revision":"r1","percent":50},{"revision":"2","percent":50}]`, "1:50 2:50"},
		{`[{"commit":"bbbbbbbb","percent":100},{"revision":"r1","percent":0}]`, "2:100"},
		{`[{"revision":"r1","percent":60},{"revision":"r2","percent":50}]`, ""},
		{`[{"revision":"r1","percent":-10},{"revision":"r2","percent":110}]`, ""},
		{`[{"revision":"r3","percent":100}]`, ""},
		{`[{"revision":"r9","percent":100}]`, ""},
		{`[{"revision":"r1","percent":50},{"revision":"1","percent":50}]`, ""},
		{`[]`, ""},
	} {
		var in []trafficEntry
		json.Unmarshal([]byte(tt.in), &in)
		split, err := validateTraffic(in, revs)
		var got []string
		for _, s := range split {
			got = append(got, fmt.Sprintf("%d:%d", s.Revision, s.Percent))
		}
		if tt.want == "" && err == nil || tt.want != "" && (err != nil || strings.Join(got, " ") != tt.want) {
			t.Errorf("%s: %v %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPickRevisionSticky(t *testing.T) {
	split := []meta.TrafficShare{{Revision: 1, Percent: 50}, {Revision: 2, Percent: 50}}
	count := map[int]int{}
	for i := range 2000 {
		k := fmt.Sprintf("session-%d", i)
		n := pickRevision(split, k)
		for range 3 {
			if pickRevision(split, k) != n {
				t.Fatalf("key %s moved between revisions", k)
			}
		}
		count[n]++
	}
	if count[1] < 850 || count[2] < 850 {
		t.Errorf("sessions split %v, want about 1000 each", count)
	}
	count = map[int]int{}
	for range 2000 {
		count[pickRevision([]meta.TrafficShare{{Revision: 1, Percent: 10}, {Revision: 2, Percent: 90}}, "")]++
	}
	if count[1] < 120 || count[1] > 300 {
		t.Errorf("random 10%% arm got %d of 2000", count[1])
	}
	if pickRevision([]meta.TrafficShare{{Revision: 7, Percent: 100}}, "x") != 7 {
		t.Error("single revision not picked")
	}
}

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps }

func TestStatistics(t *testing.T) {
	// 10/100 against 20/100: pooled 0.15, z = 0.1/√(0.15·0.85·0.02) = 1.980.
	z, p := twoProportionZ(10, 100, 20, 100)
	if !near(z, 1.9803, 1e-3) || !near(p, 0.0477, 1e-3) {
		t.Errorf("z-test = %v, %v", z, p)
	}
	if _, p := twoProportionZ(0, 50, 0, 50); p != 1 {
		t.Errorf("no errors anywhere: p = %v", p)
	}
	// Fully separated samples of 5: U = 25, μ = 12.5, σ = √(25·11/12).
	u, z, p := mannWhitney([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10})
	if u != 25 || !near(z, 2.6112, 1e-3) || !near(p, 0.00902, 1e-4) {
		t.Errorf("Mann–Whitney = %v %v %v", u, z, p)
	}
	// Ties: ranks averaged and σ corrected (U = 9, z = 3/√(8 − 48/42)).
	u, z, _ = mannWhitney([]float64{1, 2, 2, 3}, []float64{2, 3, 3})
	if u != 9 || !near(z, 1.1456, 1e-3) {
		t.Errorf("Mann–Whitney with ties = %v %v", u, z)
	}
	if _, _, p := mannWhitney([]float64{1, 2, 3}, []float64{1, 2, 3}); p != 1 {
		t.Errorf("equal samples: p = %v", p)
	}

	fast, slow := savedStats{Requests: 40}, savedStats{Requests: 40}
	for i := range 40 {
		fast.LatencyMs = append(fast.LatencyMs, 10+float64(i%7))
		slow.LatencyMs = append(slow.LatencyMs, 25+float64(i%7))
	}
	c := compare("r1", fast, "r2", slow)
	if !strings.HasPrefix(c.Verdict, "r2 is slower than r1, p") || c.PLatency >= 0.001 {
		t.Errorf("verdict = %q (p=%v)", c.Verdict, c.PLatency)
	}
	if c := compare("r1", fast, "r2", fast); c.Verdict != "no significant difference" {
		t.Errorf("verdict = %q", c.Verdict)
	}
	bad := fast
	bad.Requests, bad.Errors = 200, 40
	good := fast
	good.Requests, good.Errors = 200, 5
	if c := compare("r1", good, "r2", bad); !strings.Contains(c.Verdict, "r2 has more errors than r1") {
		t.Errorf("verdict = %q", c.Verdict)
	}
	up, down := fast, fast
	up.Feedback, up.FeedbackPos = 50, 45
	down.Feedback, down.FeedbackPos = 50, 20
	if c := compare("r1", up, "r2", down); !strings.Contains(c.Verdict, "r2 gets worse feedback than r1") {
		t.Errorf("verdict = %q", c.Verdict)
	}

	st := loadStats("")
	for i := range maxSamples + 10 {
		st.record(float64(i), i%10 == 0)
	}
	snap := st.snapshot()
	if snap.Requests != maxSamples+10 || len(snap.LatencyMs) != maxSamples {
		t.Errorf("requests %d, samples %d", snap.Requests, len(snap.LatencyMs))
	}
	raw, ok := st.save()
	if !ok || loadStats(raw).snapshot().Errors != snap.Errors {
		t.Error("statistics do not survive a save")
	}
	if _, ok := st.save(); ok {
		t.Error("unchanged statistics saved again")
	}
}

func TestAutoscaler(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := scaler{stabilized: 300 * time.Second}
	feed := func(from, to int, inflight float64) time.Time {
		var now time.Time
		for i := from; i < to; i++ {
			now = t0.Add(time.Duration(i) * time.Second)
			s.observe(now, inflight)
		}
		return now
	}
	now := feed(0, 20, 0)
	if got := s.decide(now, 1, 0, 4, 1.5); got != 1 {
		t.Errorf("idle: %d replicas", got)
	}
	// 4 in flight on 1 replica over 20 s: ceil(4/1.5) = 3, at once.
	now = feed(20, 40, 4)
	if got := s.decide(now, 1, 0, 4, 1.5); got != 3 {
		t.Errorf("loaded: %d replicas, want 3", got)
	}
	// A burst: the 6 s window sees 12 ≥ 2·1·1.5 → up before the 20 s average.
	s = scaler{stabilized: 300 * time.Second}
	feed(0, 14, 0)
	now = feed(14, 20, 12)
	if got := s.decide(now, 1, 0, 10, 1.5); got != 7 { // 72/7 in flight over the last 6 s
		t.Errorf("burst: %d replicas, want 7", got)
	}
	if got := s.decide(now, 1, 0, 4, 1.5); got != 4 {
		t.Errorf("burst capped: %d replicas, want 4", got)
	}
	// The load goes: nothing changes before the stabilization time, then
	// at most half goes at once.
	s = scaler{stabilized: 300 * time.Second}
	now = feed(0, 30, 0)
	if got := s.decide(now, 8, 0, 8, 1.5); got != 8 {
		t.Errorf("just idle: %d replicas, want 8", got)
	}
	now = feed(30, 200, 0)
	if got := s.decide(now, 8, 0, 8, 1.5); got != 8 {
		t.Errorf("idle 170 s: %d replicas, want 8", got)
	}
	now = feed(200, 340, 0)
	if got := s.decide(now, 8, 0, 8, 1.5); got != 4 {
		t.Errorf("idle 310 s: %d replicas, want 4", got)
	}
	if got := s.decide(now, 3, 2, 8, 1.5); got != 3 {
		t.Errorf("right after a scale-down: %d replicas, want 3", got)
	}
	// Bounds win.
	if got := s.decide(now, 1, 2, 8, 1.5); got != 2 {
		t.Errorf("below minReplica: %d", got)
	}
	if got := s.decide(now, 6, 1, 3, 1.5); got != 3 {
		t.Errorf("above maxReplica: %d", got)
	}
}

// fakeLauncher starts replicas as in-process HTTP servers. A commit in
// broken never becomes healthy; delay[commit] slows its answers.
type fakeLauncher struct {
	mu       sync.Mutex
	broken   map[string]bool
	delay    map[string]time.Duration
	launched []inference.Spec
	running  int
	gate     chan struct{} // if set, each launch waits for a value
	order    []string      // X-Order of the requests answered, as they came
	busy     int           // requests being answered
	cpu      float64       // the CPU use every replica reports
}

func (f *fakeLauncher) inflight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.busy
}

type fakeReplica struct {
	srv  *httptest.Server
	done chan struct{}
	once sync.Once
	f    *fakeLauncher
}

func (r *fakeReplica) Addr() string          { return strings.TrimPrefix(r.srv.URL, "http://") }
func (r *fakeReplica) Done() <-chan struct{} { return r.done }
func (r *fakeReplica) Exit() runner.Exit     { return runner.Exit{Reason: "stopped"} }

// Metrics reports the launcher's CPU figure for every replica.
func (r *fakeReplica) Metrics(context.Context) (runner.Metrics, error) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return runner.Metrics{CPUPercent: r.f.cpu}, nil
}
func (r *fakeReplica) Stop(context.Context, time.Duration) error {
	r.once.Do(func() {
		r.srv.Close()
		close(r.done)
		r.f.mu.Lock()
		r.f.running--
		r.f.mu.Unlock()
	})
	return nil
}

func (f *fakeLauncher) Launch(ctx context.Context, spec inference.Spec, log io.Writer) (Replica, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	f.launched = append(f.launched, spec)
	broken := f.broken[spec.SHA]
	f.mu.Unlock()
	fmt.Fprintf(log, "loading %s at %s\n", spec.Repo.FullName(), spec.SHA)
	if broken {
		return nil, &runner.Error{Message: "The engine stopped while loading the model: corrupt weights"}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		f.mu.Lock()
		delay := f.delay[spec.SHA]
		if b, _ := io.ReadAll(r.Body); strings.Contains(string(b), `"stream":true`) {
			f.mu.Unlock()
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"sha\":%q}\n\ndata: [DONE]\n\n", spec.SHA)
			return
		}
		if o := r.Header.Get("X-Order"); o != "" {
			f.order = append(f.order, o)
		}
		f.busy++
		f.mu.Unlock()
		time.Sleep(delay)
		f.mu.Lock()
		f.busy--
		f.mu.Unlock()
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"sha": spec.SHA, "path": r.URL.Path, "auth": r.Header.Get("Authorization")})
	}))
	f.mu.Lock()
	f.running++
	f.mu.Unlock()
	return &fakeReplica{srv: srv, done: make(chan struct{}), f: f}, nil
}

type harness struct {
	t      *testing.T
	st     *storetest.Stores
	svc    *Service
	fake   *fakeLauncher
	alice  *auth.Actor
	caller *auth.Actor // of data plane requests with a token; alice if nil
	minute time.Duration
	shas   []string
	repo   *gitstore.Repo
}

func newHarness(t *testing.T) *harness { return newHarnessMinute(t, time.Minute) }

func newHarnessMinute(t *testing.T, minute time.Duration) *harness {
	st := storetest.Open(t)
	ctx := context.Background()
	u := &haven.User{Name: "alice", Email: "alice@example.com"}
	if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	id := haven.RepoID{Namespace: "alice", Name: "tiny"}
	repo := &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "tiny", PipelineTag: "text-classification"}
	if err := st.Meta.CreateRepo(ctx, repo); err != nil {
		t.Fatal(err)
	}
	if err := st.Git.Init(ctx, haven.Model, id); err != nil {
		t.Fatal(err)
	}
	g, err := st.Git.Open(ctx, haven.Model, id)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, fake: &fakeLauncher{broken: map[string]bool{}, delay: map[string]time.Duration{}},
		alice: &auth.Actor{User: u, Role: haven.RoleWrite, TokenID: 7}, repo: g, minute: minute}
	for i := range 3 {
		h.commit(fmt.Sprintf("v%d", i))
	}
	h.start()
	return h
}

func (h *harness) commit(content string) string {
	sha, err := h.repo.Commit(context.Background(), gitstore.CommitRequest{Ref: "refs/heads/main", Author: gitstore.Signature{Name: "a", Email: "a@x"},
		Title: content, Ops: []gitstore.Op{{Kind: gitstore.OpPut, Path: "weights.bin", Content: []byte(content)}}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.shas = append(h.shas, sha)
	return sha
}

func (h *harness) start() {
	svc, err := New(Config{Meta: h.st.Meta, Git: h.st.Git, Launcher: h.fake, Flavors: runner.JobFlavors(nil),
		Dir: h.st.Dir + "/endpoints", PublicURL: "http://hub.test", Secret: []byte("0123456789abcdef0123456789abcdef"),
		Authenticate: func(r *http.Request) (*auth.Actor, error) {
			if r.Header.Get("Authorization") == "" {
				return nil, nil
			}
			if h.caller != nil {
				return h.caller, nil
			}
			return h.alice, nil
		},
		Tick: 20 * time.Millisecond, StatsEvery: 50 * time.Millisecond, Hold: 5 * time.Second, Minute: h.minute})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := svc.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.svc = svc
	h.t.Cleanup(svc.Close)
}

// api calls the control plane as alice.
func (h *harness) api(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	r := httptest.NewRequest(method, "/api/endpoints/v2/"+path, strings.NewReader(body))
	r = r.WithContext(hubhttp.WithActor(r.Context(), h.alice))
	w := httptest.NewRecorder()
	h.svc.API("endpoints").ServeHTTP(w, r)
	var m map[string]any
	json.Unmarshal(w.Body.Bytes(), &m)
	if m == nil {
		m = map[string]any{"raw": w.Body.String()}
	}
	return w.Code, m
}

func (h *harness) must(method, path, body string) map[string]any {
	h.t.Helper()
	code, m := h.api(method, path, body)
	if code != http.StatusOK {
		h.t.Fatalf("%s %s: %d %v", method, path, code, m)
	}
	return m
}

// call sends a data plane request.
func (h *harness) call(path string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/e/alice/"+path, strings.NewReader(`{"inputs":"hi"}`))
	if strings.HasSuffix(path, "/health") {
		r = httptest.NewRequest(http.MethodGet, "/e/alice/"+path, nil)
	}
	r.Header.Set("Authorization", "Bearer hf_x")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.svc.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	return w
}

func state(m map[string]any) string { return m["status"].(map[string]any)["state"].(string) }

func (h *harness) waitState(name, want string) map[string]any {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := h.must("GET", "endpoint/alice/"+name, "")
		if state(m) == want {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("state %s, want %s: %v", state(m), want, m["status"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func shaOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("data plane: %d %s", w.Code, w.Body.String())
	}
	var m map[string]any
	json.Unmarshal(w.Body.Bytes(), &m)
	if m["auth"] != "" {
		t.Errorf("the caller's token reached the engine: %v", m["auth"])
	}
	return m["sha"].(string)
}

const createBody = `{"accountId":null,"compute":{"accelerator":"cpu","instanceSize":"x2","instanceType":"intel-icl",
	"scaling":{"maxReplica":2,"minReplica":1,"scaleToZeroTimeout":null}},
	"model":{"framework":"pytorch","repository":"alice/tiny","revision":null,"image":{"huggingface":{}},"secrets":{"KEY":"s3cret"}},
	"name":"ep","provider":{"region":"us-east-1","vendor":"aws"},"type":"authenticated"}`

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	m := h.must("POST", "endpoint/alice", createBody)
	if state(m) != StatePending && state(m) != StateInitializing {
		t.Fatalf("created in state %s", state(m))
	}
	model := m["model"].(map[string]any)
	if model["revision"] != h.shas[2] || model["task"] != "text-classification" || m["healthRoute"] != "/health" {
		t.Errorf("model = %v", model)
	}
	if model["secrets"].(map[string]any)["KEY"] != "********" {
		t.Errorf("secret shown: %v", model["secrets"])
	}
	if c := m["compute"].(map[string]any); c["id"] != "haven-local-cpu-x2" || c["instanceType"] != "cpu" {
		t.Errorf("compute = %v", c)
	}
	if ts := m["status"].(map[string]any)["createdAt"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("createdAt = %s", ts)
	}
	if code, _ := h.api("POST", "endpoint/alice", createBody); code != http.StatusConflict {
		t.Errorf("second create: %d", code)
	}
	m = h.waitState("ep", StateRunning)
	if m["status"].(map[string]any)["url"] != "http://hub.test/e/alice/ep" {
		t.Errorf("url = %v", m["status"])
	}
	if got := h.fake.launched[0]; got.Secrets["KEY"] != "s3cret" || got.Task != "text-classification" || got.SHA != h.shas[2] {
		t.Errorf("launched %+v", got)
	}
	if code, _ := h.api("GET", "endpoint/alice", ""); code != http.StatusOK {
		t.Error("list failed")
	}
	if _, m := h.api("GET", "endpoint/alice", ""); len(m["items"].([]any)) != 1 {
		t.Errorf("list = %v", m)
	}

	// Data plane: auth, health, proxying.
	w := h.call("ep", nil)
	if shaOf(t, w) != h.shas[2] || w.Header().Get("X-Haven-Revision") != "r1" {
		t.Errorf("answer %s from %s", w.Body.String(), w.Header().Get("X-Haven-Revision"))
	}
	r := httptest.NewRequest(http.MethodPost, "/e/alice/ep", nil)
	w = httptest.NewRecorder()
	h.svc.Handler(nil).ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous call: %d", w.Code)
	}
	if w := h.call("ep/health", nil); w.Code != http.StatusOK {
		t.Errorf("health: %d", w.Code)
	}

	// Resume while running, pause, resume.
	if code, m := h.api("POST", "endpoint/alice/ep/resume", ""); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m), "already running") {
		t.Errorf("resume running: %d %v", code, m)
	}
	m = h.must("POST", "endpoint/alice/ep/pause", "")
	if state(m) != StatePaused || m["status"].(map[string]any)["url"] != nil {
		t.Errorf("paused: %v", m["status"])
	}
	if w := h.call("ep", nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("call while paused: %d", w.Code)
	}
	h.must("POST", "endpoint/alice/ep/resume", "")
	h.waitState("ep", StateRunning)

	// Scale to zero; a request wakes it and is held until a replica is up.
	h.must("POST", "endpoint/alice/ep/scale-to-zero", "")
	h.waitState("ep", StateScaledToZero)
	if w := h.call("ep/health", nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("health while scaled to zero: %d %s", w.Code, w.Body.String())
	}
	if state(h.must("GET", "endpoint/alice/ep", "")) != StateScaledToZero {
		t.Error("a health check woke the endpoint")
	}
	h.fake.gate = make(chan struct{})
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- h.call("ep", nil) }()
	h.waitState("ep", StateInitializing)
	h.fake.gate <- struct{}{}
	if w := <-done; shaOf(t, w) != h.shas[2] {
		t.Error("woken request answered wrong")
	}
	h.fake.gate = nil
	h.waitState("ep", StateRunning)
	// A request that cannot wait gets 503 with Retry-After.
	h.must("POST", "endpoint/alice/ep/scale-to-zero", "")
	h.fake.gate = make(chan struct{})
	w = h.call("ep", map[string]string{"X-Scale-Up-Timeout": "0.05"})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "loading") {
		t.Errorf("short hold: %d %s", w.Code, w.Body.String())
	}
	close(h.fake.gate)
	h.waitState("ep", StateRunning)
	h.fake.gate = nil

	// An update to an older commit rolls out as r2.
	m = h.must("PUT", "endpoint/alice/ep", fmt.Sprintf(`{"model":{"revision":%q}}`, h.shas[1]))
	if state(m) != StateUpdating || m["rollout"].(map[string]any)["candidate"] != "r2" {
		t.Errorf("update answered %v %v", m["status"], m["rollout"])
	}
	h.waitState("ep", StateRunning)
	if sha := shaOf(t, h.call("ep", nil)); sha != h.shas[1] {
		t.Errorf("after update: %s", sha)
	}
	// A scaling change makes no revision.
	m = h.must("PUT", "endpoint/alice/ep", `{"compute":{"scaling":{"maxReplica":3}}}`)
	if n := len(m["revisions"].([]any)); n != 2 {
		t.Errorf("%d revisions after a scaling change", n)
	}
	if m["model"].(map[string]any)["revision"] != h.shas[1] || m["compute"].(map[string]any)["scaling"].(map[string]any)["minReplica"].(float64) != 1 {
		t.Errorf("merged object = %v", m["model"])
	}

	// A broken commit: updateFailed, and r2 keeps serving.
	bad := h.commit("corrupt")
	h.fake.mu.Lock()
	h.fake.broken[bad] = true
	h.fake.mu.Unlock()
	h.must("PUT", "endpoint/alice/ep", `{"model":{"revision":"main"}}`)
	m = h.waitState("ep", StateUpdateFailed)
	if !strings.Contains(m["status"].(map[string]any)["message"].(string), "corrupt weights") {
		t.Errorf("message = %v", m["status"])
	}
	if m["model"].(map[string]any)["revision"] != h.shas[1] {
		t.Errorf("failed update shows %v", m["model"])
	}
	if sha := shaOf(t, h.call("ep", nil)); sha != h.shas[1] {
		t.Errorf("during updateFailed: %s", sha)
	}
	if code, _ := h.api("PUT", "endpoint/alice/ep/traffic", `[{"revision":"r3","percent":100}]`); code != http.StatusBadRequest {
		t.Errorf("traffic to a failed revision: %d", code)
	}

	// A 50/50 split between r1 and r2, r2 slower: the statistics see it.
	h.fake.mu.Lock()
	h.fake.delay[h.shas[1]] = 30 * time.Millisecond
	h.fake.mu.Unlock()
	h.must("PUT", "endpoint/alice/ep/traffic", `[{"revision":"r1","percent":50},{"revision":"r2","percent":50}]`)
	seen := map[string]int{}
	for i := range 60 {
		w := h.call("ep", map[string]string{"X-Haven-Session": fmt.Sprint("s", i)})
		shaOf(t, w)
		seen[w.Header().Get("X-Haven-Revision")]++
	}
	if seen["r1"] < 15 || seen["r2"] < 15 {
		t.Errorf("split = %v", seen)
	}
	m = h.must("GET", "endpoint/alice/ep", "")
	st := m["stats"].(map[string]any)
	cmp := st["comparison"].(map[string]any)
	if !strings.HasPrefix(cmp["verdict"].(string), "r2 is slower than r1") {
		t.Errorf("comparison = %v", cmp)
	}
	if r2 := st["revisions"].(map[string]any)["r2"].(map[string]any); r2["requests"].(float64) < float64(seen["r2"]) {
		t.Errorf("r2 stats = %v", r2)
	}
	code, fb := h.api("POST", "endpoint/alice/ep/feedback", `{"revision":"r2","score":1}`)
	if code != http.StatusOK {
		t.Errorf("feedback: %d %v", code, fb)
	}
	r = httptest.NewRequest("GET", "/api/endpoints/v2/endpoint/alice/ep/open-metrics", nil)
	r = r.WithContext(hubhttp.WithActor(r.Context(), h.alice))
	rec := httptest.NewRecorder()
	h.svc.API("endpoints").ServeHTTP(rec, r)
	if !strings.Contains(rec.Body.String(), `http_requests_total{revision="r2",status_code="2xx"}`) || !strings.HasSuffix(rec.Body.String(), "# EOF\n") {
		t.Errorf("open-metrics:\n%s", rec.Body.String())
	}

	// Restart: the split and the state come back, replicas relaunched.
	time.Sleep(100 * time.Millisecond) // statistics saved
	h.svc.Close()
	h.start()
	m = h.waitState("ep", StateRunning)
	if tr := m["traffic"].([]any); len(tr) != 2 {
		t.Errorf("traffic after restart = %v", tr)
	}
	if r2 := m["stats"].(map[string]any)["revisions"].(map[string]any)["r2"].(map[string]any); r2["requests"].(float64) < float64(seen["r2"]) {
		t.Errorf("r2 stats after restart = %v", r2)
	}
	if shaOf(t, h.call("ep", map[string]string{"X-Haven-Session": "s1"})) == "" {
		t.Error("no answer after restart")
	}

	// Rollback: everything to the last good revision.
	m = h.must("POST", "endpoint/alice/ep/rollback", "")
	if tr := m["traffic"].([]any); len(tr) != 1 || tr[0].(map[string]any)["revision"] != "r2" {
		t.Errorf("traffic after rollback = %v", tr)
	}
	for i := range 5 {
		if sha := shaOf(t, h.call("ep", map[string]string{"X-Haven-Session": fmt.Sprint("s", i)})); sha != h.shas[1] {
			t.Errorf("after rollback: %s", sha)
		}
	}
	m = h.must("POST", "endpoint/alice/ep/rollback", "")
	if tr := m["traffic"].([]any); tr[0].(map[string]any)["revision"] != "r1" || m["model"].(map[string]any)["revision"] != h.shas[2] {
		t.Errorf("second rollback: %v %v", tr, m["model"])
	}

	// Logs, then delete.
	r = httptest.NewRequest("GET", "/api/endpoints/v2/endpoint/alice/ep/logs", nil)
	r = r.WithContext(hubhttp.WithActor(r.Context(), h.alice))
	rec = httptest.NewRecorder()
	h.svc.API("endpoints").ServeHTTP(rec, r)
	if !strings.Contains(rec.Body.String(), "corrupt weights") || strings.Contains(rec.Body.String(), "s3cret") {
		t.Errorf("logs:\n%s", rec.Body.String())
	}
	h.must("DELETE", "endpoint/alice/ep", "")
	if code, _ := h.api("GET", "endpoint/alice/ep", ""); code != http.StatusNotFound {
		t.Errorf("after delete: %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	if h.fake.running != 0 {
		t.Errorf("%d replicas still running", h.fake.running)
	}
}

func TestFailedLaunch(t *testing.T) {
	h := newHarness(t)
	h.fake.mu.Lock()
	h.fake.broken[h.shas[2]] = true
	h.fake.mu.Unlock()
	h.must("POST", "endpoint/alice", createBody)
	m := h.waitState("ep", StateFailed)
	if msg := m["status"].(map[string]any)["message"].(string); !strings.Contains(msg, "corrupt weights") {
		t.Errorf("message = %s", msg)
	}
	// Fixing the model through an update starts it again.
	h.must("PUT", "endpoint/alice/ep", fmt.Sprintf(`{"model":{"revision":%q}}`, h.shas[0]))
	h.waitState("ep", StateRunning)
	if shaOf(t, h.call("ep", nil)) != h.shas[0] {
		t.Error("wrong model after fix")
	}
}

func TestProvider(t *testing.T) {
	h := newHarness(t)
	m := h.must("GET", "provider/alice", "")
	v := m["vendors"].([]any)[0].(map[string]any)
	if v["name"] != "haven" {
		t.Fatalf("vendors = %v", m)
	}
	reg := v["regions"].([]any)[0].(map[string]any)
	cs := reg["computes"].([]any)
	if reg["name"] != "local" || len(cs) < 3 || cs[0].(map[string]any)["instanceSize"] != "x1" {
		t.Errorf("computes = %v", cs)
	}
}

func TestScaling(t *testing.T) {
	h := newHarnessMinute(t, 300*time.Millisecond)
	h.svc.cfg.ScaleDownDelay = 200 * time.Millisecond // before any endpoint exists
	body := strings.Replace(createBody, `"maxReplica":2,"minReplica":1,"scaleToZeroTimeout":null`,
		`"maxReplica":3,"minReplica":0,"scaleToZeroTimeout":1,"measure":{"pendingRequests":1}`, 1)
	body = strings.Replace(body, `"huggingface":{}`, `"huggingface":{"maxConcurrency":2}`, 1)
	h.must("POST", "endpoint/alice", body)
	h.waitState("ep", StateRunning)
	h.fake.mu.Lock()
	h.fake.delay[h.shas[2]] = 400 * time.Millisecond
	h.fake.mu.Unlock()

	// Load: requests in flight above 1 per replica add replicas, up to 3;
	// beyond 2 in flight per replica the rest wait in line.
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%4) * 10 * time.Millisecond)
			w := h.call("ep", nil)
			mu.Lock()
			codes[w.Code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusOK] != 12 {
		t.Errorf("answers %v", codes)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		m := h.must("GET", "endpoint/alice/ep", "")
		if n := m["status"].(map[string]any)["targetReplica"].(float64); n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scale-up: %v", m["status"])
		}
		go h.call("ep", nil)
		time.Sleep(20 * time.Millisecond)
	}
	// Idle: back to one replica, then to zero after scaleToZeroTimeout.
	m := h.waitState("ep", StateScaledToZero)
	if m["status"].(map[string]any)["readyReplica"].(float64) != 0 {
		t.Errorf("scaled to zero with replicas: %v", m["status"])
	}
	// Replicas stop in the background.
	deadline = time.Now().Add(5 * time.Second)
	for {
		h.fake.mu.Lock()
		running := h.fake.running
		h.fake.mu.Unlock()
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d replicas run at zero", running)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// queued is how many requests wait in an endpoint's line.
func (h *harness) queued(name string) int {
	e, err := h.svc.find("alice", name)
	if err != nil {
		h.t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}

// waitQueued waits until n requests wait in line.
func (h *harness) waitQueued(name string, n int) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for h.queued(name) != n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d requests in line, want %d", h.queued(name), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestQueue(t *testing.T) {
	h := newHarness(t)
	h.svc.cfg.MaxQueued = 4
	body := strings.Replace(createBody, `"maxReplica":2,"minReplica":1`, `"maxReplica":1,"minReplica":1`, 1)
	body = strings.Replace(body, `"huggingface":{}`, `"huggingface":{"maxConcurrency":1}`, 1)
	h.must("POST", "endpoint/alice", body)
	h.waitState("ep", StateRunning)
	h.fake.mu.Lock()
	h.fake.delay[h.shas[2]] = 300 * time.Millisecond
	h.fake.mu.Unlock()

	// One request in flight, four in line in the order they came; the
	// sixth finds the line full.
	codes := make([]int, 5)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = h.call("ep", map[string]string{"X-Order": strconv.Itoa(i)}).Code
		}()
		h.waitQueued("ep", i)
		if i == 0 {
			for h.fake.inflight() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	w := h.call("ep", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || w.Header().Get("X-Error-Message") == "" {
		t.Errorf("past the line: %d %v", w.Code, w.Header())
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d: %d", i, c)
		}
	}
	h.fake.mu.Lock()
	order := strings.Join(h.fake.order, ",")
	h.fake.order = nil
	h.fake.mu.Unlock()
	if order != "0,1,2,3,4" {
		t.Errorf("answered in the order %s", order)
	}

	// A request that waits longer than the queue wait for a busy replica
	// is 429; one whose caller leaves the line frees its place.
	h.svc.cfg.QueueWait = 50 * time.Millisecond
	h.fake.mu.Lock()
	h.fake.delay[h.shas[2]] = time.Second
	h.fake.mu.Unlock()
	done := make(chan int)
	go func() { done <- h.call("ep", nil).Code }()
	for h.fake.inflight() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if w := h.call("ep", nil); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Errorf("after the queue wait: %d %v", w.Code, w.Header())
	}
	if h.queued("ep") != 0 {
		t.Errorf("%d left in line", h.queued("ep"))
	}
	if c := <-done; c != http.StatusOK {
		t.Errorf("the request in flight: %d", c)
	}
}

// TestHeldStream: a streaming request held while the endpoint scales up
// from zero gets keep-alive comments, then the engine's events; one whose
// hold runs out gets an error event.
func TestHeldStream(t *testing.T) {
	h := newHarnessMinute(t, 50*time.Millisecond)
	h.svc.cfg.KeepAlive = 20 * time.Millisecond
	body := strings.Replace(createBody, `"minReplica":1,"scaleToZeroTimeout":null`, `"minReplica":0,"scaleToZeroTimeout":1`, 1)
	h.must("POST", "endpoint/alice", body)
	h.waitState("ep", StateRunning)
	h.must("POST", "endpoint/alice/ep/scale-to-zero", "")
	h.waitState("ep", StateScaledToZero)
	h.fake.mu.Lock()
	h.fake.gate = make(chan struct{})
	h.fake.mu.Unlock()
	srv := httptest.NewServer(h.svc.Handler(http.NotFoundHandler()))
	defer srv.Close()
	stream := func(hdr map[string]string) (*http.Response, *bufio.Reader) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/e/alice/ep/v1/chat/completions", strings.NewReader(`{"stream":true,"messages":[]}`))
		req.Header.Set("Authorization", "Bearer hf_x")
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("held stream: %d %v", resp.StatusCode, resp.Header)
		}
		return resp, bufio.NewReader(resp.Body)
	}
	resp, rd := stream(nil)
	defer resp.Body.Close()
	if line, _ := rd.ReadString('\n'); line != ": keep-alive\n" {
		t.Fatalf("first line %q", line)
	}
	h.fake.gate <- struct{}{} // the replica starts
	rest, _ := io.ReadAll(rd)
	if !strings.Contains(string(rest), `data: {"sha":"`+h.shas[2]+`"}`) || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Errorf("after the keep-alives: %q", rest)
	}

	// A hold that runs out ends the stream with an error event.
	h.must("POST", "endpoint/alice/ep/scale-to-zero", "")
	h.waitState("ep", StateScaledToZero)
	resp2, rd2 := stream(map[string]string{"X-Scale-Up-Timeout": "0.2"})
	defer resp2.Body.Close()
	all, _ := io.ReadAll(rd2)
	if !strings.HasPrefix(string(all), ": keep-alive\n\n") || !strings.Contains(string(all), `data: {"error":"Endpoint alice/ep is currently loading","error_type":"unavailable"}`) {
		t.Errorf("held past its timeout: %q", all)
	}
	close(h.fake.gate)
}

// TestCustomImage: image.custom runs the endpoint's own command (with its
// args, env and health route) through the launcher; what the process
// runner cannot run is refused with a 400 that says why.
func TestCustomImage(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, image, model string
		want               string // "" for created
	}{
		{"image only", `{"custom":{"url":"ghcr.io/example/server:1"}}`, ``, "cannot run the image ghcr.io/example/server:1"},
		{"nothing to run", `{"custom":{"healthRoute":"/ready"}}`, ``, "give a command"},
		{"credentials", `{"custom":{"url":"x:1","command":["serve"],"credentials":{"username":"u","password":"p"}}}`, ``, "remove the registry credentials"},
		{"bad port", `{"custom":{"command":["serve"],"port":"80"}}`, ``, "port must be a port number"},
		{"bad route", `{"custom":{"command":["serve"],"health_route":"ready"}}`, ``, "must be a path"},
		{"beside another variant", `{"custom":{"command":["serve"]},"tgi":{}}`, ``, "only variant"},
		{"command in the image", `{"custom":{"url":"x:1","command":["serve","--port","${PORT}"],"env":{"MODE":"fast"},"health_route":"/ready"}}`, ``, ""},
		{"command in the model", `{"custom":{"url":"x:1","healthRoute":"/ready","port":8080}}`, `"command":["serve"],"args":["--port","${PORT}"],`, ""},
	}
	for i, c := range cases {
		body := strings.Replace(createBody, `"image":{"huggingface":{}},`, c.model+`"image":`+c.image+`,`, 1)
		body = strings.Replace(body, `"name":"ep"`, fmt.Sprintf(`"name":"ep%d"`, i), 1)
		code, m := h.api("POST", "endpoint/alice", body)
		if c.want != "" {
			if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error"]), c.want) {
				t.Errorf("%s: %d %v, want 400 with %q", c.name, code, m, c.want)
			}
			continue
		}
		if code != http.StatusOK || m["healthRoute"] != "/ready" {
			t.Fatalf("%s: %d %v", c.name, code, m)
		}
		h.waitState(fmt.Sprintf("ep%d", i), StateRunning)
		h.fake.mu.Lock()
		spec := h.fake.launched[len(h.fake.launched)-1]
		h.fake.mu.Unlock()
		cu := spec.Custom
		if cu == nil || strings.Join(cu.Command, " ") != "serve --port ${PORT}" || cu.HealthRoute != "/ready" || cu.Image != "" {
			t.Errorf("%s: launched %+v", c.name, cu)
		}
		if i == 6 && cu.Env["MODE"] != "fast" {
			t.Errorf("%s: env %v", c.name, cu.Env)
		}
		if i == 7 && cu.Port != 8080 {
			t.Errorf("%s: port %d", c.name, cu.Port)
		}
	}
}

// TestHardwareUsage: an endpoint measured on hardwareUsage adds replicas
// while its replicas' CPU use is above the threshold, and drops them once
// it is low.
func TestHardwareUsage(t *testing.T) {
	h := newHarness(t)
	h.svc.cfg.ScaleDownDelay = 100 * time.Millisecond
	body := strings.Replace(createBody, `"maxReplica":2,"minReplica":1,"scaleToZeroTimeout":null`,
		`"maxReplica":3,"minReplica":1,"scaleToZeroTimeout":null,"measure":{"hardwareUsage":50}`, 1)
	h.must("POST", "endpoint/alice", body)
	h.waitState("ep", StateRunning)
	replicas := func(want func(float64) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			m := h.must("GET", "endpoint/alice/ep", "")
			st := m["status"].(map[string]any)
			if want(st["targetReplica"].(float64)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("replicas: %v", st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	h.fake.mu.Lock()
	h.fake.cpu = 90
	h.fake.mu.Unlock()
	replicas(func(n float64) bool { return n >= 2 })
	h.fake.mu.Lock()
	h.fake.cpu = 5
	h.fake.mu.Unlock()
	replicas(func(n float64) bool { return n == 1 })
}

func TestPrivateEndpoint(t *testing.T) {
	h := newHarness(t)
	h.must("POST", "endpoint/alice", strings.Replace(createBody, `"type":"authenticated"`, `"type":"private"`, 1))
	h.waitState("ep", StateRunning)
	h.caller = &auth.Actor{User: &haven.User{ID: 99, Name: "bob"}, Role: haven.RoleWrite}
	if w := h.call("ep", nil); w.Code != http.StatusForbidden {
		t.Errorf("bob on alice's private endpoint: %d", w.Code)
	}
	h.caller = &auth.Actor{User: &haven.User{ID: 99, Name: "bob"}, Role: haven.RoleWrite, Orgs: map[string]string{"alice": "read"}}
	if w := h.call("ep", nil); w.Code != http.StatusOK {
		t.Errorf("a member: %d", w.Code)
	}
	h.caller = nil
	h.must("PUT", "endpoint/alice/ep", `{"type":"public"}`)
	r := httptest.NewRequest(http.MethodPost, "/e/alice/ep", strings.NewReader(`{}`))
	w := httptest.NewRecorder()
	h.svc.Handler(nil).ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Errorf("anonymous on a public endpoint: %d", w.Code)
	}
	// Management is for the namespace's writers.
	h.alice = &auth.Actor{User: &haven.User{ID: 99, Name: "bob"}, Role: haven.RoleWrite}
	if code, _ := h.api("GET", "endpoint/alice/ep", ""); code != http.StatusNotFound {
		t.Errorf("bob reads alice's endpoint: %d", code)
	}
}

func TestReplicaCrash(t *testing.T) {
	h := newHarness(t)
	h.must("POST", "endpoint/alice", createBody)
	h.waitState("ep", StateRunning)
	e, _ := h.svc.find("alice", "ep")
	e.mu.Lock()
	p := e.revs[0].replicas[0].r.(*fakeReplica)
	e.mu.Unlock()
	p.Stop(context.Background(), 0) // dies on its own, as far as the endpoint knows
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.mu.Lock()
		n := len(e.revs[0].replicas)
		again := n == 1 && e.revs[0].replicas[0].r != Replica(p)
		e.mu.Unlock()
		if again {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica was not replaced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.waitState("ep", StateRunning)
	if shaOf(t, h.call("ep", nil)) != h.shas[2] {
		t.Error("no answer after the crash")
	}
	r := httptest.NewRequest(http.MethodGet, "/api/endpoints/v2/endpoint/alice/ep/logs", nil)
	r = r.WithContext(hubhttp.WithActor(r.Context(), h.alice))
	rec := httptest.NewRecorder()
	h.svc.API("endpoints").ServeHTTP(rec, r)
	if !strings.Contains(rec.Body.String(), "exited: stopped") {
		t.Errorf("log:\n%s", rec.Body.String())
	}
}
