package runlog

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/havenhub/haven/runner"
)

// EventStream starts a server-sent event response and returns a function
// that flushes what was written.
func EventStream(w http.ResponseWriter) (flush func()) {
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flush = func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	return flush
}

// Serve streams l in the Hub's log format: one
// `data: {"data": line, "timestamp": …}` event per line, replayed from the
// first line on every connection (clients count events to resume), then
// followed until the log closes or the client leaves. With tail ≥ 0 only
// the last tail lines already written are replayed. Each line's text ends
// with end: Spaces' streams end lines with "\n", jobs' with nothing.
func Serve(w http.ResponseWriter, r *http.Request, l *File, tail int, end string) {
	ServeFrom(w, r, l, tail, end, EventStream(w))
}

// ServeFrom is Serve on a stream already begun by EventStream.
func ServeFrom(w http.ResponseWriter, r *http.Request, l *File, tail int, end string, flush func()) {
	skip := 0
	if tail >= 0 {
		if n := len(l.Tail(1 << 30)); n > tail {
			skip = n - tail
		}
	}
	l.Follow(r.Context(), true, func() error {
		return KeepAlive(w, flush)
	}, func(ln Line) error {
		if skip > 0 {
			skip--
			return nil
		}
		b, _ := json.Marshal(map[string]string{"data": ln.Text + end, "timestamp": ln.Time.Format(time.RFC3339Nano)})
		_, err := fmt.Fprintf(w, "data: %s\n\n", b)
		flush()
		return err
	})
}

// KeepAlive writes the comment that keeps an idle event stream open.
func KeepAlive(w http.ResponseWriter, flush func()) error {
	_, err := fmt.Fprint(w, ": keep-alive\n\n")
	flush()
	return err
}

// ServeMetrics streams a workload's resource use once a second as the Jobs
// API's metric events, for as long as the client stays; sample returns
// nil while nothing runs.
func ServeMetrics(w http.ResponseWriter, r *http.Request, sample func(context.Context) *runner.Metrics) {
	flush := EventStream(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if m := sample(r.Context()); m == nil {
			fmt.Fprint(w, ": not running\n\n")
		} else {
			b, _ := json.Marshal(MetricEvent(*m))
			fmt.Fprintf(w, "event: metric\ndata: %s\n\n", b)
		}
		flush()
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

// MetricEvent is one sample as the Hub's metric event. Totals are never 0:
// clients divide by them.
func MetricEvent(m runner.Metrics) map[string]any {
	total := m.MemoryMaxBytes
	if total <= 0 {
		total = runner.MachineMemoryMB() << 20
	}
	if total <= 0 {
		total = 1
	}
	return map[string]any{
		"cpu_usage_pct":      m.CPUPercent,
		"cpu_millicores":     m.CPUMillicores,
		"memory_used_bytes":  m.MemoryBytes,
		"memory_total_bytes": total,
		"rx_bps":             0,
		"tx_bps":             0,
		"gpus":               map[string]any{},
		"replica":            "0",
	}
}
