package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/havenhub/haven/blob"
)

// readyProbeKey is the blob key /readyz looks up: it never exists, and a
// "not found" answer shows the store is reachable.
const readyProbeKey = "readyz-probe/none"

// check is one readiness check's outcome.
type check struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Ready runs the readiness checks: the database answers a ping, the blob
// store answers a Stat (of a missing key), the work queue can be read.
func (m *Metrics) Ready(ctx context.Context) []check {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out []check
	add := func(name string, err error) {
		c := check{Name: name, OK: err == nil}
		if err != nil {
			c.Error = err.Error()
		}
		out = append(out, c)
	}
	if s := m.cfg.Store; s != nil {
		add("database", s.Ping(ctx))
		_, err := s.QueueStats(ctx)
		add("queue", err)
	}
	if b := m.cfg.Blobs; b != nil {
		_, err := b.Stat(ctx, readyProbeKey)
		if errors.Is(err, blob.ErrNotFound) {
			err = nil
		}
		add("blobs", err)
	}
	return out
}

func (m *Metrics) serveReady(w http.ResponseWriter, r *http.Request) {
	checks := m.Ready(r.Context())
	status, word := http.StatusOK, "ok"
	failed := []string{}
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		status, word = http.StatusServiceUnavailable, "unavailable"
	}
	writeHealth(w, status, map[string]any{"status": word, "failed": failed, "checks": checks})
}

func writeHealth(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
