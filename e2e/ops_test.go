package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// runHaven runs a haven subcommand and returns its exit error and output.
func runHaven(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(havenBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func sampleValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	total := 0.0
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

// TestOperations uploads files, scrapes /metrics, backs the data folder up
// while the server runs, restores it into a new folder, serves it, checks
// it with haven doctor and downloads every file again; then a deleted
// large object must make doctor fail.
func TestOperations(t *testing.T) {
	// Without the background conversion to Xet, a large object has one copy,
	// so deleting it below makes it missing.
	s := startServer(t, serverOpts{Args: []string{"--xet-convert=false"}})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "ops", false)
	alice.createRepo("dataset", "alice", "opsdata", true)

	large := randomBytes(41, 24<<20)
	small := randomBytes(42, 200<<10)
	alice.uploadLFS("alice/ops", large)
	alice.uploadLFS("alice/ops", small)
	files := map[string][]byte{
		"README.md":   []byte("# ops\n"),
		"config.json": []byte(`{"a": 1}` + "\n"),
		"large.bin":   large,
		"small.bin":   small,
	}
	alice.commit("models", "alice/ops", "main", "add files",
		commitLine{Key: "file", Value: map[string]any{"path": "README.md", "encoding": "base64", "content": b64(files["README.md"])}},
		commitLine{Key: "file", Value: map[string]any{"path": "config.json", "encoding": "base64", "content": b64(files["config.json"])}},
		commitLine{Key: "lfsFile", Value: map[string]any{"path": "large.bin", "algo": "sha256", "oid": sha256Hex(large), "size": len(large)}},
		commitLine{Key: "lfsFile", Value: map[string]any{"path": "small.bin", "algo": "sha256", "oid": sha256Hex(small), "size": len(small)}})
	dataFile := []byte("a,b\n1,2\n")
	alice.commit("datasets", "alice/opsdata", "main", "data",
		commitLine{Key: "file", Value: map[string]any{"path": "data.csv", "encoding": "base64", "content": b64(dataFile)}})

	download := func(a *api, path string, want []byte) {
		t.Helper()
		resp, body := a.do("GET", path, nil, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
			t.Fatalf("GET %s: status %d, %d bytes, want %d identical bytes", path, resp.StatusCode, len(body), len(want))
		}
	}
	for name, want := range files {
		download(alice, "/alice/ops/resolve/main/"+name, want)
	}

	// Metrics: parsed as Prometheus text, with bounded route labels.
	resp, body := alice.do("GET", "/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"haven_http_requests_total", map[string]string{"route": "api", "code": "2xx"}},
		{"haven_http_requests_total", map[string]string{"route": "lfs", "code": "2xx"}},
		{"haven_http_requests_total", map[string]string{"route": "resolve", "code": "2xx"}},
		{"haven_http_request_bytes_total", map[string]string{"route": "lfs"}},
		{"haven_http_response_bytes_total", map[string]string{"route": "resolve"}},
		{"haven_http_request_duration_seconds", map[string]string{"route": "resolve"}},
	} {
		if v := sampleValue(fams, c.name, c.labels); v <= 0 {
			t.Errorf("%s%v = %v, want > 0", c.name, c.labels, v)
		}
	}
	if v := sampleValue(fams, "haven_http_request_bytes_total", map[string]string{"route": "lfs"}); v < float64(len(large)) {
		t.Errorf("LFS bytes in = %v, want at least %d", v, len(large))
	}
	for _, name := range []string{"haven_queue_jobs", "haven_gc_runs_total", "haven_metadata_scrape_errors", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if v := sampleValue(fams, "haven_metadata_scrape_errors", nil); v != 0 {
		t.Errorf("metadata scrape errors = %v", v)
	}
	for _, m := range fams["haven_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "/") {
				t.Errorf("label %s=%q looks like a path", l.GetName(), l.GetValue())
			}
		}
	}
	if resp, body := alice.do("GET", "/readyz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d %s", resp.StatusCode, body)
	}
	if resp, _ := alice.do("GET", "/healthz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}

	// Backup while the server runs, into a folder that must be empty.
	bdir := filepath.Join(t.TempDir(), "backup")
	out := s.admin("backup", bdir)
	t.Logf("backup: %s", out)
	if _, err := os.Stat(filepath.Join(bdir, "manifest.json")); err != nil {
		t.Fatal(err)
	}
	if out, err := runHaven(t, "backup", bdir, "--data", s.DataDir); err == nil {
		t.Errorf("a second backup into a full folder succeeded: %s", out)
	}
	if out, err := runHaven(t, "backup", t.TempDir(), "--data", s.DataDir, "--database", "postgres://u@127.0.0.1:1/x"); err == nil || !strings.Contains(out, "OPERATIONS.md") {
		t.Errorf("backup with PostgreSQL: %v %s", err, out)
	}

	// Restore into a new folder; never into a used one.
	if out, err := runHaven(t, "restore", bdir, "--data", s.DataDir); err == nil || !strings.Contains(out, "not empty") {
		t.Errorf("restore into the live folder: %v %s", err, out)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := runHaven(t, "restore", bdir, "--data", restored); err != nil {
		t.Fatalf("haven restore: %v\n%s", err, out)
	}
	if out, err := runHaven(t, "doctor", "--data", restored); err != nil {
		t.Fatalf("haven doctor on the restored folder: %v\n%s", err, out)
	} else if !strings.Contains(out, "no problems") {
		t.Errorf("doctor output: %s", out)
	}

	s2 := startServer(t, serverOpts{DataDir: restored, Args: []string{"--xet-convert=false"}})
	alice2 := s2.api(f.Alice)
	for name, want := range files {
		download(alice2, "/alice/ops/resolve/main/"+name, want)
	}
	download(alice2, "/datasets/alice/opsdata/resolve/main/data.csv", dataFile)
	if resp, _ := s2.api("").do("GET", "/datasets/alice/opsdata/resolve/main/data.csv", nil, nil); resp.StatusCode == http.StatusOK {
		t.Errorf("the private dataset is public after the restore")
	}
	s2.Stop()

	// A deleted large object is a problem doctor reports.
	oid := sha256Hex(large)
	if err := os.Remove(filepath.Join(restored, "blobs", "lfs", oid[:2], oid[2:4], oid)); err != nil {
		t.Fatal(err)
	}
	out, err = runHaven(t, "doctor", "--data", restored)
	if err == nil || !strings.Contains(out, oid) || !strings.Contains(out, "missing") {
		t.Errorf("doctor with a deleted blob: %v\n%s", err, out)
	}
	// The live folder is untouched by that (the restore linked, not moved).
	if out, err := runHaven(t, "doctor", "--data", s.DataDir); err != nil {
		t.Errorf("doctor on the live folder: %v\n%s", err, out)
	}
}

// TestJSONLogsFatal checks that with --log-format json even the error that
// stops the server is a JSON line, not plain text after the log.
func TestJSONLogsFatal(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	out, err := runHaven(t, "serve", "--log-format", "json", "--data", t.TempDir(), "--addr", busy.Addr().String())
	if err == nil {
		t.Fatalf("serve on a taken address did not fail:\n%s", out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var last map[string]any
	for _, line := range lines {
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("a line is not JSON (%v): %s", err, line)
		}
	}
	if last["level"] != "ERROR" || last["msg"] != "haven stopped" || !strings.Contains(fmt.Sprint(last["err"]), busy.Addr().String()) {
		t.Errorf("last line %v", last)
	}
}

// TestJSONLogs runs the server with --log-format json: every line it
// writes is one JSON object with time, level and msg, and each answered
// request has one line naming the request id its answer carried (the
// caller's own, when it sent one), its route, status and size.
func TestJSONLogs(t *testing.T) {
	s := startServer(t, serverOpts{Args: []string{"--log-format", "json"}})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "logs", false)

	type sent struct {
		method, path, id string
		status           int
		route            string
	}
	var reqs []sent
	for _, c := range []struct {
		path, id string
		status   int
		route    string
	}{
		{"/api/models/alice/logs", "", 200, "api"},
		{"/api/models/alice/missing", "", 404, "api"},
		{"/api/models/alice/logs?expand=sha", "caller-chosen-id-42", 200, "api"},
		{"/alice/logs/resolve/main/.gitattributes", "", 200, "resolve"},
		{"/alice/logs.git/info/refs?service=git-upload-pack", "", 200, "git"},
		{"/", "", 200, "web"},
	} {
		hdr := map[string]string{}
		if c.id != "" {
			hdr["X-Request-Id"] = c.id
		}
		resp, _ := alice.do("GET", c.path, nil, hdr)
		if resp.StatusCode != c.status {
			t.Fatalf("GET %s: %d, want %d", c.path, resp.StatusCode, c.status)
		}
		id := resp.Header.Get("X-Request-Id")
		if id == "" || (c.id != "" && id != c.id) {
			t.Fatalf("GET %s: X-Request-Id %q (sent %q)", c.path, id, c.id)
		}
		reqs = append(reqs, sent{"GET", strings.SplitN(c.path, "?", 2)[0], id, c.status, c.route})
	}
	if resp, _ := alice.do("GET", "/healthz", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	s.Stop() // writes out the lines gathered

	byID := map[string][]map[string]any{}
	var msgs []string
	for _, line := range strings.Split(strings.TrimRight(s.log.String(), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON (%v): %s", err, line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k].(string); !ok {
				t.Errorf("no %s in %s", k, line)
			}
		}
		msgs = append(msgs, rec["msg"].(string))
		if id, ok := rec["request_id"].(string); ok {
			byID[id] = append(byID[id], rec)
		}
		if rec["path"] == "/healthz" {
			t.Errorf("health checks are logged: %s", line)
		}
	}
	for _, want := range []string{"haven listening", "no users yet", "haven stopped"} {
		if !slices.Contains(msgs, want) {
			t.Errorf("no %q line among %q", want, msgs)
		}
	}
	for _, r := range reqs {
		recs := byID[r.id]
		if len(recs) != 1 {
			t.Errorf("%s %s: %d lines with request id %s, want 1", r.method, r.path, len(recs), r.id)
			continue
		}
		rec := recs[0]
		want := map[string]any{"msg": "request", "level": "INFO", "method": r.method, "path": r.path, "route": r.route, "status": float64(r.status)}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s %s: %s = %v, want %v", r.method, r.path, k, rec[k], v)
			}
		}
		if b, ok := rec["bytes"].(float64); !ok || (r.status == 200 && b <= 0) {
			t.Errorf("%s %s: bytes = %v", r.method, r.path, rec["bytes"])
		}
		if d, ok := rec["duration"].(float64); !ok || d <= 0 {
			t.Errorf("%s %s: duration = %v", r.method, r.path, rec["duration"])
		}
	}
}
