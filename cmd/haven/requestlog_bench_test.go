package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/havenhub/haven/metrics"
)

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the middleware, not a recorder.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkRequestChain is the cost the middleware of haven serve adds to
// one repo-info request (request id, metrics, request log line), by
// setting; compare each with "none", measured in the same run.
func BenchmarkRequestChain(b *testing.B) {
	body := make([]byte, 2800)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	for _, c := range []struct {
		name         string
		metrics, log bool
		format       string
	}{
		{"none", false, false, "text"},
		{"metrics", true, false, "text"},
		{"log-text", false, true, "text"},
		{"log-json", false, true, "json"},
		{"both-text", true, true, "text"},
		{"both-json", true, true, "json"},
	} {
		b.Run(c.name, func(b *testing.B) {
			out := newLogWriter(io.Discard, 200*time.Millisecond)
			defer out.Close()
			log, _ := newLogger(out, c.format)
			cfg := metrics.Config{Off: !c.metrics, Logger: slog.New(slog.DiscardHandler)}
			if c.log {
				cfg.Done = newRequestLog(log, out, c.format).done
			}
			h := withRequestIDs(metrics.New(cfg).Handler(app))
			r := httptest.NewRequest("GET", "/api/models/bench/ops", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					r.Header.Del("X-Request-Id")
					h.ServeHTTP(w, r)
				}
			})
		})
	}
}
