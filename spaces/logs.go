package spaces

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/havenhub/haven"
)

// handleLogs streams a Space's build or run log as server-sent events in the
// Hub's format: one `data: {"data": line, "timestamp": …}` event per line,
// the whole attempt replayed from its first line on every connection (the
// clients count events to resume), then followed while the attempt lasts.
func (s *Service) handleLogs(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) != 1 || (rest[0] != "build" && rest[0] != "run") {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	var l *logFile
	if a := s.lookupApp(repo.ID); a != nil {
		l = a.log(rest[0])
	}
	if l == nil {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "This Space has no %s logs yet", rest[0]))
		return
	}
	tail := -1
	if v := r.URL.Query().Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "tail must be a non-negative number"))
			return
		}
		tail = n
	}
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	skip := 0
	if tail >= 0 {
		if n := len(l.tail(1 << 30)); n > tail {
			skip = n - tail
		}
	}
	l.follow(r.Context(), true, func() error {
		_, err := fmt.Fprint(w, ": keep-alive\n\n")
		flush()
		return err
	}, func(ln logLine) error {
		if skip > 0 {
			skip--
			return nil
		}
		b, _ := json.Marshal(map[string]string{"data": ln.Text + "\n", "timestamp": ln.Time.Format(time.RFC3339Nano)})
		_, err := fmt.Fprintf(w, "data: %s\n\n", b)
		flush()
		return err
	})
}

// handleMetrics streams the app's CPU and memory once a second, as the Jobs
// API's metric events, while it runs.
func (s *Service) handleMetrics(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	a := s.lookupApp(repo.ID)
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		var in *instance
		if a != nil {
			a.mu.Lock()
			in = a.serving
			a.mu.Unlock()
		}
		if in == nil {
			fmt.Fprint(w, ": not running\n\n")
		} else if m, err := in.h.Metrics(r.Context()); err == nil {
			total := m.MemoryMaxBytes
			if total <= 0 {
				total = machineMemoryMB() << 20
			}
			b, _ := json.Marshal(map[string]any{
				"cpu_usage_pct":      m.CPUPercent,
				"cpu_millicores":     m.CPUMillicores,
				"memory_used_bytes":  m.MemoryBytes,
				"memory_total_bytes": total,
				"rx_bps":             0,
				"tx_bps":             0,
				"gpus":               map[string]any{},
				"replica":            "0",
			})
			fmt.Fprintf(w, "event: metric\ndata: %s\n\n", b)
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}
