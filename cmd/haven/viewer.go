package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/server"
	"github.com/havenhub/haven/viewer/ui"
	"github.com/havenhub/haven/viewer/worker"
	"github.com/havenhub/haven/xet/casstore"
)

// viewerService is the dataset viewer: its HTTP handler and the background
// worker that converts datasets after each push.
type viewerService struct {
	*server.Server
	// Authenticate is the hub's, set once the API server exists.
	Authenticate func(*http.Request) (*auth.Actor, error)
	cancel       context.CancelFunc
	done         chan struct{}
}

// startViewer opens the viewer's query database and starts its worker.
func startViewer(ctx context.Context, opts *options, st *stores, publicURL string, log *slog.Logger) (*viewerService, error) {
	dir := filepath.Join(opts.data, "viewer")
	cache, err := viewer.NewCache(filepath.Join(dir, "cache"), st.blobs)
	if err != nil {
		return nil, err
	}
	cache.Xet = casstore.New(st.blobs).OpenSHA256
	// Asset URLs of private datasets are signed with a key derived from the
	// deployment's secret, so that every replica accepts the others' URLs
	// and the LFS signing key is not reused as is for another purpose.
	secret, err := loadSecret(opts)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("haven viewer assets"))
	v := &viewerService{done: make(chan struct{})}
	srv, err := server.New(server.Config{
		Meta: st.meta, Blobs: st.blobs, Cache: cache, PublicURL: publicURL,
		IndexDir: filepath.Join(dir, "index"), JobKind: api.JobDatasetUpdated, Logger: log,
		Authenticate: func(r *http.Request) (*auth.Actor, error) { return v.Authenticate(r) },
		UI:           ui.Handler(),
		AssetKey:     mac.Sum(nil),
	})
	if err != nil {
		return nil, err
	}
	v.Server = srv
	w := worker.New(worker.Config{
		Meta: st.meta, Git: st.git, Blobs: st.blobs, Dir: dir, Cache: cache,
		Kind: api.JobDatasetUpdated, Logger: log, OnDone: srv.Warm,
		MaxSplitBytes: maxSplitBytes(log),
	})
	wctx, cancel := context.WithCancel(ctx)
	v.cancel = cancel
	go func() {
		defer close(v.done)
		w.Run(wctx, time.Second)
	}()
	return v, nil
}

// Close stops the worker (an interrupted job is taken up again after a
// restart) and closes the query database.
func (v *viewerService) Close() error {
	v.cancel()
	<-v.done
	return v.Server.Close()
}

// defaultMaxSplitBytes caps a converted split's export as the Hub's viewer
// does (5 GB of uncompressed data); the rest of a bigger split is left out
// and the split is marked partial.
const defaultMaxSplitBytes = 5_000_000_000

// maxSplitBytes reads the cap from HAVEN_VIEWER_MAX_SPLIT_BYTES: a number of
// bytes, or 0 for no cap.
func maxSplitBytes(log *slog.Logger) int64 {
	v := os.Getenv("HAVEN_VIEWER_MAX_SPLIT_BYTES")
	if v == "" {
		return defaultMaxSplitBytes
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		log.Warn("ignoring HAVEN_VIEWER_MAX_SPLIT_BYTES: not a number of bytes", "value", v)
		return defaultMaxSplitBytes
	}
	return n
}
