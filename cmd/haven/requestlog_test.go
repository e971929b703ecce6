package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/metrics"
)

// TestRequestLog serves requests through the middleware chain of haven
// serve (request ids, then metrics with the request log as its hook) and
// reads the JSON lines back: one per request, with the id its answer
// carries, and the handler's error line under the same id.
func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "json")
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/models/a/b":
			hubhttp.WriteError(log, w, r, errors.New("disk on fire"))
		case "/missing":
			http.Error(w, "no", http.StatusNotFound)
		case "/stream":
			w.(http.Flusher).Flush()
			io.WriteString(w, "data")
		case "/copy":
			io.Copy(w, strings.NewReader("0123456789"))
		}
	})
	ops := metrics.New(metrics.Config{Done: newRequestLog(log, &buf, "json").done})
	ts := httptest.NewServer(withRequestIDs(ops.Handler(app)))
	defer ts.Close()
	cases := []struct {
		path, sendID string
		want         map[string]any // fields of the request line
		errLine      bool           // an "internal error" line comes first
	}{
		{"/missing?token=secret", "", map[string]any{"path": "/missing", "status": 404.0, "bytes": 3.0, "route": "web"}, false},
		{"/stream", "caller-id-1", map[string]any{"path": "/stream", "status": 200.0, "bytes": 4.0}, false},
		{"/copy", "bad id with spaces", map[string]any{"path": "/copy", "status": 200.0, "bytes": 10.0}, false},
		{"/empty", "", map[string]any{"path": "/empty", "status": 200.0, "bytes": 0.0}, false},
		{"/a%20b/%22q%22/caf%C3%A9", "", map[string]any{"path": "/a b/\"q\"/café", "status": 200.0}, false},
		{"/api/models/a/b", "", map[string]any{"path": "/api/models/a/b", "status": 500.0, "route": "api"}, true},
		{"/healthz", "", nil, false},
	}
	for _, c := range cases {
		buf.Reset()
		req, _ := http.NewRequest("GET", ts.URL+c.path, nil)
		if c.sendID != "" {
			req.Header.Set("X-Request-Id", c.sendID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		id := res.Header.Get("X-Request-Id")
		if id == "" {
			t.Errorf("%s: no X-Request-Id", c.path)
		}
		if c.sendID != "" && !strings.Contains(c.sendID, " ") && id != c.sendID {
			t.Errorf("%s: X-Request-Id %q, want the caller's %q", c.path, id, c.sendID)
		}
		if c.want == nil {
			if buf.Len() != 0 {
				t.Errorf("%s logged: %s", c.path, buf.String())
			}
			continue
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if want := map[bool]int{false: 1, true: 2}[c.errLine]; len(lines) != want {
			t.Fatalf("%s: %d lines, want %d:\n%s", c.path, len(lines), want, buf.String())
		}
		var recs []map[string]any
		for _, l := range lines {
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("%s: not JSON: %s", c.path, l)
			}
			if rec["request_id"] != id {
				t.Errorf("%s: request_id %v, want %s: %s", c.path, rec["request_id"], id, l)
			}
			if _, ok := rec["time"]; !ok {
				t.Errorf("%s: no time: %s", c.path, l)
			}
			recs = append(recs, rec)
		}
		if c.errLine && (recs[0]["msg"] != "internal error" || recs[0]["level"] != "ERROR" || recs[0]["err"] != "disk on fire") {
			t.Errorf("%s: error line %v", c.path, recs[0])
		}
		rec := recs[len(recs)-1]
		if rec["msg"] != "request" || rec["level"] != "INFO" || rec["method"] != "GET" || strings.Contains(lines[len(lines)-1], "secret") {
			t.Errorf("%s: %s", c.path, lines[len(lines)-1])
		}
		if _, ok := rec["duration"].(float64); !ok {
			t.Errorf("%s: duration %v", c.path, rec["duration"])
		}
		for k, v := range c.want {
			if rec[k] != v {
				t.Errorf("%s: %s = %v, want %v", c.path, k, rec[k], v)
			}
		}
	}
}

func TestNewLoggerFormats(t *testing.T) {
	for _, c := range []struct {
		format, want string
		err          bool
	}{
		{"text", "level=INFO msg=hello k=v\n", false},
		{"json", `"level":"INFO","msg":"hello","k":"v"}` + "\n", false},
		{"xml", "", true},
	} {
		var buf bytes.Buffer
		log, err := newLogger(&buf, c.format)
		if (err != nil) != c.err {
			t.Fatalf("%s: error %v", c.format, err)
		}
		if err != nil {
			continue
		}
		log.Info("hello", "k", "v")
		if !strings.HasSuffix(buf.String(), c.want) {
			t.Errorf("%s: %q, want it to end in %q", c.format, buf.String(), c.want)
		}
	}
}

// TestRequestLineAsSlog checks that the request lines written without slog
// are the bytes slog's handlers write, and that values they could not
// write as is go through slog.
func TestRequestLineAsSlog(t *testing.T) {
	now := time.Date(2026, 12, 6, 16, 1, 2, 30_000_000, time.UTC)
	cases := []struct {
		method, path, id string
		d                metrics.Done
		plain            bool
	}{
		{"GET", "/api/models/a/b", "4f2a", metrics.Done{Route: "api", Status: 200, BytesOut: 2800, Duration: 1234567}, true},
		{"HEAD", "/a/b/resolve/main/x.bin", "Root=1-67-ab", metrics.Done{Route: "resolve", Status: 302, Duration: 999}, false},
		{"HEAD", "/a/b/resolve/main/x.bin", "Root-1-67-ab", metrics.Done{Route: "resolve", Status: 302, Duration: 999}, true},
		{"POST", "/", "x", metrics.Done{Route: "web", Status: 101, BytesOut: 1, Duration: 3 * time.Second}, true},
		{"GET", "/a b", "x", metrics.Done{Route: "web", Status: 404}, false},
		{"GET", "/café", "x", metrics.Done{Route: "web", Status: 404}, false},
		{"GET", "/q\"", "x", metrics.Done{Route: "web", Status: 404}, false},
		{"GET", "/k=v", "x", metrics.Done{Route: "web", Status: 404}, false},
		{"GET", "/", "", metrics.Done{Route: "web", Status: 200}, false},
	}
	for _, format := range []string{"text", "json"} {
		for _, c := range cases {
			if got := plainLogValue(c.method) && plainLogValue(c.path) && plainLogValue(c.id); got != c.plain {
				t.Errorf("plain(%q, %q) = %v", c.path, c.id, got)
			}
			if !c.plain {
				continue
			}
			var want bytes.Buffer
			log, _ := newLogger(&want, format)
			rec := slog.NewRecord(now, slog.LevelInfo, "request", 0)
			rec.AddAttrs(slog.String("method", c.method), slog.String("path", c.path), slog.Int("status", c.d.Status),
				slog.Int64("bytes", c.d.BytesOut), slog.Duration("duration", c.d.Duration), slog.String("route", c.d.Route))
			log.Handler().Handle(hubhttp.WithRequestID(context.Background(), c.id), rec)
			got := appendRequestLine(nil, format == "json", now, c.method, c.path, c.d, c.id)
			if string(got) != want.String() {
				t.Errorf("%s:\n got %s\nwant %s", format, got, want.String())
			}
		}
	}
}
