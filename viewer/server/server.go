// Package server is the HTTP side of the dataset viewer: the endpoints of
// the Hub's dataset viewer API (/is-valid, /splits, /first-rows, /rows,
// /search, /filter, /parquet, /info, /size, /statistics) answered from the
// recorded conversion of a dataset's current revision, with queries run in a
// locked-down DuckDB over the parquet export and search in a full-text index.
package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
)

// Config is what the viewer's HTTP side needs.
type Config struct {
	Meta      *meta.Store
	Blobs     blob.Driver
	Cache     *viewer.Cache
	PublicURL string
	// IndexDir holds the search indexes, built on first use.
	IndexDir string
	// Authenticate identifies the caller, the same way the hub does.
	Authenticate func(*http.Request) (*auth.Actor, error)
	// JobKind is the queue job enqueued for a revision that has no state yet.
	JobKind string
	// MemoryLimit bounds the query database ("1GB" by default).
	MemoryLimit string
	Logger      *slog.Logger
	// UI, if set, serves the browser view under /ui/.
	UI http.Handler
	// AssetKey signs the asset URLs of private datasets; every server of a
	// deployment needs the same one. Empty: a random key, good for one
	// process.
	AssetKey []byte
}

// Server serves the viewer API. Its paths have no prefix: the hub strips
// "/datasets-server" or routes a "datasets-server." host here.
type Server struct {
	cfg      Config
	db       *duck.DB
	backfill sync.Map // "repoID/sha" → time enqueued
	indexes  *indexes
	assetKey []byte
}

// New opens the query database and returns a Server. Close releases it.
func New(cfg Config) (*Server, error) {
	if cfg.MemoryLimit == "" {
		cfg.MemoryLimit = "1GB"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := duck.Open(duck.Options{AllowedDirs: []string{cfg.Cache.Dir()}, MemoryLimit: cfg.MemoryLimit, Threads: 2})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, db: db, assetKey: cfg.AssetKey}
	if len(s.assetKey) == 0 {
		s.assetKey = make([]byte, 32)
		rand.Read(s.assetKey)
	}
	s.indexes = newIndexes(cfg.IndexDir, s)
	return s, nil
}

// Close releases the database and the open indexes.
func (s *Server) Close() error {
	s.indexes.close()
	return s.db.Close()
}

// Warm builds the search indexes of a freshly converted revision so that the
// first /search does not wait.
func (s *Server) Warm(st *viewer.State) {
	for i := range st.Configs {
		c := &st.Configs[i]
		if c.Error != nil || !searchable(c.Features) {
			continue
		}
		for j := range c.Splits {
			s.indexes.ensure(st, c, &c.Splits[j])
		}
	}
}

// apiError is an answer in the viewer's error shape.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errParam(msg string) error { return &apiError{422, "InvalidParameter", msg} }
func errMissing(msg string) error {
	return &apiError{422, "MissingRequiredParameter", msg}
}
func errNotReady() error {
	return &apiError{500, "ResponseNotReady", "The server is busier than usual and the response is not ready yet. Please retry later."}
}
func errNotFound() error { return &apiError{404, "ResponseNotFound", "Not found."} }

// request is a parsed call.
type request struct {
	r       *http.Request
	repo    *haven.Repo
	st      *viewer.State
	dataset string
	config  string
	split   string
}

func param(r *http.Request, name string) string { return strings.TrimSpace(r.URL.Query().Get(name)) }

// ServeHTTP routes a call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Header.Get("Origin") != "" {
		h.Set("Access-Control-Expose-Headers", "X-Error-Code, X-Revision")
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(p, "/ui") && s.cfg.UI != nil {
		s.cfg.UI.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, &apiError{405, "MethodNotAllowed", "Method not allowed"}, false)
		return
	}
	if strings.HasPrefix(p, "/assets/") || strings.HasPrefix(p, "/cached-assets/") {
		s.serveAsset(w, r)
		return
	}
	type handler func(context.Context, *request) (any, error)
	var fn handler
	level := "dataset" // the coarsest granularity the endpoint accepts
	switch p {
	case "/healthcheck":
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok"))
		return
	case "/is-valid":
		fn = s.isValid
	case "/splits":
		fn = s.splits
	case "/parquet":
		fn = s.parquet
	case "/info":
		fn = s.info
	case "/size":
		fn = s.size
	case "/first-rows":
		fn, level = s.firstRows, "split"
	case "/rows":
		fn, level = s.rows, "split"
	case "/search":
		fn, level = s.search, "split"
	case "/filter":
		fn, level = s.filter, "split"
	case "/statistics":
		fn, level = s.statistics, "split"
	default:
		s.writeError(w, &apiError{404, "NotFound", "Not Found"}, false)
		return
	}
	req := &request{r: r, dataset: param(r, "dataset"), config: param(r, "config"), split: param(r, "split")}
	if req.dataset == "" {
		if level == "split" {
			s.writeError(w, errMissing("Parameters 'dataset', 'config' and 'split' are required"), false)
		} else {
			s.writeError(w, errMissing("Parameter 'dataset' is required"), false)
		}
		return
	}
	if level == "split" && (req.config == "" || req.split == "") {
		s.writeError(w, errMissing("Parameters 'dataset', 'config' and 'split' are required"), false)
		return
	}
	if p != "/is-valid" && req.split != "" && level == "dataset" {
		req.split = "" // /splits, /parquet, /info and /size stop at the config
	}
	if err := s.load(r.Context(), req); err != nil {
		s.writeError(w, err, req.repo != nil && req.repo.Private)
		return
	}
	out, err := fn(r.Context(), req)
	if err != nil {
		s.writeError(w, err, req.repo.Private)
		return
	}
	w.Header().Set("X-Revision", req.st.SHA)
	s.writeJSON(w, http.StatusOK, out, req.repo.Private, 120)
}

// authorize identifies the caller and checks that they may read the
// dataset; a private dataset answers as a missing one.
func (s *Server) authorize(ctx context.Context, r *http.Request, dataset string) (*haven.Repo, error) {
	actor, err := s.cfg.Authenticate(r)
	if err != nil {
		return nil, &apiError{401, "ExternalUnauthenticatedError", haven.ErrorMessage(err)}
	}
	hidden := func() error {
		if actor.Anonymous() {
			return &apiError{401, "ExternalUnauthenticatedError", "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication."}
		}
		return &apiError{404, "ExternalAuthenticatedError", "The dataset does not exist, or is not accessible with the current credentials (private or gated). Please check the spelling of the dataset name or retry with other authentication credentials."}
	}
	id, err := haven.ParseRepoID(dataset)
	if err != nil {
		return nil, hidden()
	}
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Dataset, id.Namespace, id.Name)
	if err != nil {
		if haven.IsCode(err, haven.ERepoNotFound) || haven.IsCode(err, haven.ENotFound) {
			return nil, hidden()
		}
		return nil, err
	}
	// Gated datasets are converted like the others, but only those who may
	// download their files may see rows, as on the Hub.
	if err := auth.CanDownload(actor, repo, ""); err != nil {
		return nil, hidden()
	}
	return repo, nil
}

// load authorises the caller and finds the state of the dataset's head.
func (s *Server) load(ctx context.Context, req *request) error {
	repo, err := s.authorize(ctx, req.r, req.dataset)
	if err != nil {
		return err
	}
	req.repo = repo
	if repo.SHA == "" {
		return &apiError{500, "EmptyDatasetError", "The dataset is empty."}
	}
	st, err := viewer.LoadState(ctx, s.cfg.Blobs, repo.ID, repo.SHA)
	if errors.Is(err, viewer.ErrNoState) {
		s.requestBackfill(ctx, repo)
		return errNotReady()
	}
	if err != nil {
		return err
	}
	req.st = st
	if st.Error != nil {
		return st.Error
	}
	return nil
}

// requestBackfill enqueues the conversion of a revision nobody asked for yet
// (for example a dataset pushed before the viewer existed), at most once a
// minute per revision.
func (s *Server) requestBackfill(ctx context.Context, repo *haven.Repo) {
	key := strconv.FormatInt(repo.ID, 10) + "/" + repo.SHA
	if t, ok := s.backfill.Load(key); ok && time.Since(t.(time.Time)) < time.Minute {
		return
	}
	s.backfill.Store(key, time.Now())
	payload, _ := json.Marshal(viewer.JobPayload{RepoID: repo.ID, SHA: repo.SHA})
	if _, err := s.cfg.Meta.Enqueue(ctx, s.cfg.JobKind, payload, time.Time{}); err != nil {
		s.cfg.Logger.Warn("viewer backfill", "dataset", repo.FullName(), "err", err)
	}
}

// configOf returns the requested config, replaying its error.
func (req *request) configOf() (*viewer.Config, error) {
	c := req.st.ConfigByName(req.config)
	if c == nil {
		return nil, errNotFound()
	}
	if c.Error != nil {
		return nil, c.Error
	}
	return c, nil
}

// splitOf returns the requested config and split.
func (req *request) splitOf() (*viewer.Config, *viewer.Split, error) {
	c, err := req.configOf()
	if err != nil {
		return nil, nil, err
	}
	sp := c.SplitByName(req.split)
	if sp == nil {
		return nil, nil, errNotFound()
	}
	return c, sp, nil
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any, private bool, maxAge int) {
	b, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, err, private)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	cc := "max-age=" + strconv.Itoa(maxAge)
	if private {
		cc = "private, " + cc
	}
	h.Set("Cache-Control", cc)
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) writeError(w http.ResponseWriter, err error, private bool) {
	var ae *apiError
	var ve *viewer.Error
	status, code, msg := 500, "UnexpectedApiError", "Unexpected error."
	switch {
	case errors.As(err, &ae):
		status, code, msg = ae.status, ae.code, ae.msg
	case errors.As(err, &ve):
		status, code, msg = ve.Status, ve.Code, ve.Message
	default:
		s.cfg.Logger.Error("viewer", "err", err)
	}
	w.Header().Set("X-Error-Code", code)
	s.writeJSON(w, status, map[string]string{"error": msg}, private, 10)
}

// resolveURL is the download URL of a file of the parquet export.
func (s *Server) resolveURL(dataset, path string) string {
	segs := strings.Split(path, "/")
	for i := range segs {
		segs[i] = url.PathEscape(segs[i])
	}
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/datasets/" + dataset + "/resolve/" +
		url.PathEscape(viewer.ParquetRef) + "/" + strings.Join(segs, "/")
}
