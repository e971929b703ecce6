package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLogRequests(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	h := logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "abc123")
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "no", http.StatusNotFound)
		case "/stream":
			w.(http.Flusher).Flush()
			io.WriteString(w, "data")
		case "/copy":
			io.Copy(w, strings.NewReader("0123456789"))
		}
	}), log)
	ts := httptest.NewServer(h)
	defer ts.Close()
	cases := []struct{ path, want string }{
		{"/missing?token=secret", `method=GET path=/missing status=404 bytes=3 duration=`},
		{"/stream", `path=/stream status=200 bytes=4`},
		{"/copy", `path=/copy status=200 bytes=10`},
		{"/empty", `path=/empty status=200 bytes=0`},
		{"/healthz", ""},
	}
	for _, c := range cases {
		buf.Reset()
		res, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		got := buf.String()
		if c.want == "" {
			if got != "" {
				t.Errorf("%s logged: %s", c.path, got)
			}
			continue
		}
		if !strings.Contains(got, "level=INFO msg=request method=GET ") || !strings.Contains(got, c.want) || !strings.Contains(got, "request_id=abc123") || strings.Contains(got, "secret") {
			t.Errorf("%s: %s", c.path, got)
		}
	}
}
