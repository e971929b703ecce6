package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/internal/cachestat"
	"github.com/havenhub/haven/meta"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		method, host, path, want string
	}{
		{"GET", "", "/api/models", RouteAPI},
		{"GET", "", "/api/models/alice/m/tree/main", RouteAPI},
		{"POST", "", "/api/models/alice/m/commit/main", RouteAPI},
		{"GET", "", "/alice/m/resolve/main/config.json", RouteResolve},
		{"GET", "", "/datasets/alice/d/resolve/main/a.csv", RouteResolve},
		{"GET", "", "/spaces/alice/s/raw/main/app.py", RouteResolve},
		{"GET", "", "/api/datasets/alice/d/resolve/main/a.csv", RouteResolve},
		{"POST", "", "/alice/m.git/info/lfs/objects/batch", RouteLFS},
		{"PUT", "", "/lfs/objects/abc", RouteLFS},
		{"GET", "", "/alice/m.git/info/refs", RouteGit},
		{"POST", "", "/datasets/alice/d/git-upload-pack", RouteGit},
		{"GET", "", "/api/models/alice/m/xet-read-token/main", RouteXet},
		{"POST", "", "/v1/xorbs/default/abc", RouteXet},
		{"GET", "", "/v1/reconstructions/abc", RouteXet},
		{"GET", "", "/datasets-server/rows", RouteViewer},
		{"GET", "datasets-server.example.org", "/rows", RouteViewer},
		{"GET", "", "/api/datasets/alice/d/parquet", RouteViewer},
		{"GET", "", "/-/spaces/alice/s/", RouteSpaces},
		{"GET", "alice-s.apps.example.org", "/", RouteSpaces},
		{"GET", "", "/api/spaces/alice/s/runtime", RouteSpaces},
		{"GET", "", "/api/spaces/alice/s", RouteAPI},
		{"GET", "", "/api/jobs/alice", RouteJobs},
		{"GET", "", "/api/scheduled-jobs/alice", RouteJobs},
		{"POST", "", "/inference/models/alice/m", RouteInference},
		{"POST", "", "/e/alice/ep/v1/chat/completions", RouteInference},
		{"GET", "", "/api/endpoints/v2/endpoint/alice", RouteInference},
		{"GET", "", "/buckets/alice/b/resolve/x", RouteBuckets},
		{"GET", "", "/metrics", RouteOps},
		{"GET", "", "/", RouteWeb},
		{"GET", "", "/alice/m", RouteWeb},
		{"GET", "", "/alice/m/blob/main/README.md", RouteWeb},
		{"GET", "", "/settings/tokens", RouteWeb},
	}
	known := map[string]bool{}
	for _, r := range Routes {
		known[r] = true
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.path, nil)
		if c.host != "" {
			r.Host = c.host
		}
		got := Classify(r, "apps.example.org")
		if got != c.want {
			t.Errorf("Classify(%s %s%s) = %q, want %q", c.method, c.host, c.path, got, c.want)
		}
		if !known[got] {
			t.Errorf("class %q is not in Routes", got)
		}
	}
}

type fakeStore struct {
	pingErr error
	queue   []meta.QueueStat
}

func (f *fakeStore) Ping(context.Context) error { return f.pingErr }
func (f *fakeStore) QueueStats(context.Context) ([]meta.QueueStat, error) {
	return f.queue, nil
}
func (f *fakeStore) JobRunStages(context.Context) (map[string]int64, error) {
	return map[string]int64{"RUNNING": 2, "COMPLETED": 5}, nil
}
func (f *fakeStore) SpaceStages(context.Context) (map[string]int64, error) {
	return map[string]int64{"RUNNING": 1, "": 3}, nil
}

type fakeBlobs struct {
	blob.Driver
	err error
}

func (f fakeBlobs) Stat(context.Context, string) (blob.Info, error) { return blob.Info{}, f.err }

func scrape(t *testing.T, h http.Handler, remote string, hdr map[string]string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = remote
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return w.Code, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return w.Code, fams
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	store := &fakeStore{queue: []meta.QueueStat{
		{Kind: "dataset.updated", State: "done", Count: 4},
		{Kind: "dataset.updated", State: "queued", Count: 2, Oldest: time.Now().Add(-90 * time.Second)},
		{Kind: "webhook.delivery", State: "failed", Count: 1},
	}}
	m := New(Config{Store: store, Blobs: fakeBlobs{err: blob.ErrNotFound}, ViewerKind: "dataset.updated"})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.Contains(r.URL.Path, "missing") {
			http.NotFound(w, r)
			return
		}
		// Through ReadFrom, as http.ServeContent writes files.
		io.Copy(w, strings.NewReader("hello world"))
	})
	h := m.Handler(app)
	for _, p := range []string{"/alice/m/resolve/main/a.bin", "/alice/m/resolve/main/b.bin", "/api/models/missing"} {
		r := httptest.NewRequest("POST", p, strings.NewReader("12345"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
	}

	if code, _ := scrape(t, h, "203.0.113.9:5000", nil); code != http.StatusNotFound {
		t.Errorf("remote scrape: status %d, want 404", code)
	}
	if code, _ := scrape(t, h, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}); code != http.StatusNotFound {
		t.Errorf("proxied scrape: status %d, want 404", code)
	}
	code, fams := scrape(t, h, "[::1]:5000", nil)
	if code != http.StatusOK {
		t.Fatalf("loopback scrape: status %d", code)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"haven_http_requests_total", map[string]string{"route": "resolve", "code": "2xx"}, 2},
		{"haven_http_requests_total", map[string]string{"route": "api", "code": "4xx"}, 1},
		{"haven_http_request_duration_seconds", map[string]string{"route": "resolve"}, 2},
		{"haven_http_request_bytes_total", map[string]string{"route": "resolve"}, 10},
		{"haven_http_response_bytes_total", map[string]string{"route": "resolve"}, 22},
		{"haven_http_request_duration_seconds", map[string]string{"route": "git"}, 0},
		{"haven_queue_jobs", map[string]string{"kind": "dataset.updated", "state": "queued"}, 2},
		{"haven_queue_jobs", map[string]string{"kind": "webhook.delivery", "state": "failed"}, 1},
		{"haven_queue_oldest_age_seconds", map[string]string{"kind": "webhook.delivery"}, 0},
		{"haven_viewer_conversions", map[string]string{"state": "done"}, 4},
		{"haven_job_runs", map[string]string{"stage": "RUNNING"}, 2},
		{"haven_spaces", map[string]string{"stage": "none"}, 3},
		{"haven_gc_runs_total", map[string]string{"result": "ok"}, 0},
		{"haven_metadata_scrape_errors", map[string]string{"source": "queue"}, 0},
	}
	for _, c := range checks {
		got, ok := value(t, fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if age, _ := value(t, fams, "haven_queue_oldest_age_seconds", map[string]string{"kind": "dataset.updated"}); age < 89 || age > 120 {
		t.Errorf("oldest age = %v, want about 90", age)
	}
	for name := range fams {
		if !strings.HasPrefix(name, "haven_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("unexpected family %s", name)
		}
	}
	if f := fams["haven_http_requests_total"]; f != nil {
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "/") {
					t.Errorf("a raw path became a label: %s", l.GetValue())
				}
			}
		}
	}

	m.ObserveGC(1500*time.Millisecond, 42, nil)
	m.ObserveGC(time.Second, 0, errors.New("boom"))
	_, fams = scrape(t, h, "127.0.0.1:1", nil)
	if v, _ := value(t, fams, "haven_gc_runs_total", map[string]string{"result": "ok"}); v != 1 {
		t.Errorf("gc ok runs = %v", v)
	}
	if v, _ := value(t, fams, "haven_gc_runs_total", map[string]string{"result": "error"}); v != 1 {
		t.Errorf("gc failed runs = %v", v)
	}
	if v, _ := value(t, fams, "haven_gc_last_duration_seconds", nil); v != 1 {
		t.Errorf("gc last duration = %v", v)
	}
	if v, _ := value(t, fams, "haven_gc_removed_bytes_total", nil); v != 42 {
		t.Errorf("gc removed bytes = %v", v)
	}

	public := New(Config{Public: true}).Handler(app)
	if code, _ := scrape(t, public, "203.0.113.9:5000", nil); code != http.StatusOK {
		t.Errorf("public scrape from afar: status %d", code)
	}
}

// TestCacheLookups counts hits and misses of a cache and reads them back
// from a scrape.
func TestCacheLookups(t *testing.T) {
	c := cachestat.New("metrics-test")
	before := [2]float64{float64(c.Hits()), float64(c.Misses())}
	c.Hit()
	c.Hit()
	c.Miss()
	_, fams := scrape(t, New(Config{}).Handler(http.NotFoundHandler()), "127.0.0.1:1", nil)
	for i, result := range []string{"hit", "miss"} {
		got, ok := value(t, fams, "haven_cache_lookups_total", map[string]string{"cache": "metrics-test", "result": result})
		if want := before[i] + float64(2-i); !ok || got != want {
			t.Errorf("%s = %v (found %v), want %v", result, got, ok, want)
		}
	}
}

// TestOffAndDone turns the HTTP metrics off: /metrics answers 404, health
// still answers, and Done still hears of every request but the probes'.
func TestOffAndDone(t *testing.T) {
	var got []Done
	h := New(Config{Off: true, Done: func(_ *http.Request, d Done) { got = append(got, d) }}).Handler(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "made")
		}))
	for _, p := range []string{"/metrics", "/healthz", "/api/models/a/b", "/alice/m/resolve/main/x"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("PUT", p, strings.NewReader("body"))
		r.RemoteAddr = "127.0.0.1:1"
		h.ServeHTTP(w, r)
		if p == "/metrics" && w.Code != http.StatusNotFound {
			t.Errorf("/metrics with metrics off: %d", w.Code)
		}
	}
	want := []Done{{Route: RouteAPI, Status: 201, BytesIn: 4, BytesOut: 4}, {Route: RouteResolve, Status: 201, BytesIn: 4, BytesOut: 4}}
	if len(got) != len(want) {
		t.Fatalf("Done called %d times, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		got[i].Duration = 0
		if got[i] != want[i] {
			t.Errorf("Done %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestHealth(t *testing.T) {
	store := &fakeStore{}
	blobs := &fakeBlobs{err: blob.ErrNotFound}
	h := New(Config{Store: store, Blobs: blobs}).Handler(http.NotFoundHandler())
	get := func(p string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		return w.Code, w.Body.String()
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	store.pingErr = errors.New("database is locked")
	blobs.err = errors.New("connection refused")
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"failed":["database","blobs"]`) || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz with failures = %d %s", code, body)
	}
}
