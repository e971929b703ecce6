package api

import (
	"context"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// countDownload records a download the way the Hub counts them: for models,
// each request for config.json or for a weights file (snapshot downloads
// and library loads fetch these once per load); for datasets and Spaces each
// whole-file GET of a data file. Range requests that do not start at byte 0
// are parts of a download already counted.
func (s *Server) countDownload(r *http.Request, repo *haven.Repo, p string) {
	if rg := r.Header.Get("Range"); rg != "" && !strings.HasPrefix(rg, "bytes=0-") {
		return
	}
	base := path.Base(p)
	if base == ".gitattributes" || strings.EqualFold(base, "README.md") {
		return
	}
	switch repo.Type {
	case haven.Model:
		if base != "config.json" || r.Method != http.MethodGet && r.Method != http.MethodHead {
			return
		}
	default:
		if r.Method != http.MethodGet {
			return
		}
	}
	s.downloads.add(repo.ID)
}

// downloadCounter batches download counts in memory and writes them every
// few seconds, keeping the database off the download path.
type downloadCounter struct {
	meta *meta.Store
	log  *slog.Logger

	mu      sync.Mutex
	pending map[int64]int64
	stop    chan struct{}
	done    chan struct{}
}

func newDownloadCounter(m *meta.Store, log *slog.Logger) *downloadCounter {
	c := &downloadCounter{meta: m, log: log, pending: map[int64]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *downloadCounter) add(repoID int64) {
	c.mu.Lock()
	c.pending[repoID]++
	c.mu.Unlock()
}

func (c *downloadCounter) run() {
	defer close(c.done)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.flush()
		case <-c.stop:
			c.flush()
			return
		}
	}
}

func (c *downloadCounter) flush() {
	c.mu.Lock()
	batch := c.pending
	c.pending = map[int64]int64{}
	c.mu.Unlock()
	now := time.Now()
	for id, n := range batch {
		if err := c.meta.AddDownloads(context.Background(), id, now, n); err != nil && !haven.IsCode(err, haven.ERepoNotFound) {
			c.log.Error("recording downloads", "repo_id", id, "err", err)
		}
	}
}

// Close writes what is pending and stops the background writer.
func (c *downloadCounter) Close() {
	close(c.stop)
	<-c.done
}
