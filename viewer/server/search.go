package server

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
	"github.com/havenhub/haven/viewer/fts"
)

// indexWait is how long a /search waits for its index to be built before
// answering ResponseNotReady (the build goes on).
const indexWait = 20 * time.Second

// indexExt names the index files; it changes with the index's layout so that
// files of an older layout are rebuilt rather than misread.
const indexExt = ".v5.fts"

// indexes builds the search index of a split on first use, once, and keeps
// the open ones. Built indexes are shared through the blob store, so that
// the servers of one deployment build each only once.
type indexes struct {
	dir string
	s   *Server

	mu       sync.Mutex
	building map[string]chan struct{}
	open     map[string]*fts.Index
	failed   map[string]error
}

func newIndexes(dir string, s *Server) *indexes {
	os.MkdirAll(dir, 0o755)
	return &indexes{dir: dir, s: s, building: map[string]chan struct{}{}, open: map[string]*fts.Index{}, failed: map[string]error{}}
}

func (ix *indexes) path(st *viewer.State, c *viewer.Config, sp *viewer.Split) string {
	return filepath.Join(ix.dir, fmt.Sprint(st.RepoID), st.SHA, indexName(c, sp))
}

// indexName names a split's index file, locally and in the blob store.
func indexName(c *viewer.Config, sp *viewer.Split) string {
	h := sha1.Sum([]byte(c.Name + "\x00" + sp.Name))
	return hex.EncodeToString(h[:8]) + indexExt
}

// indexKey is where a split's index is shared in the blob store, so that
// the servers of one deployment build it once: the first to need it builds
// and stores it, the others download it.
func indexKey(st *viewer.State, c *viewer.Config, sp *viewer.Split) string {
	return indexRepoPrefix(st.RepoID) + strings.ToLower(st.SHA) + "/" + indexName(c, sp)
}

func indexRepoPrefix(repoID int64) string { return fmt.Sprintf("viewer/index/%d/", repoID) }

// ensure starts building the index unless it exists or is being built, and
// returns a channel closed when it is ready.
func (ix *indexes) ensure(st *viewer.State, c *viewer.Config, sp *viewer.Split) <-chan struct{} {
	p := ix.path(st, c, sp)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ch, ok := ix.building[p]; ok {
		return ch
	}
	ch := make(chan struct{})
	ix.building[p] = ch
	if _, err := os.Stat(p); err == nil {
		close(ch)
		return ch
	}
	ix.prune(st.RepoID, st.SHA)
	go func() {
		defer close(ch)
		err := ix.fetchOrBuild(p, st, c, sp)
		ix.mu.Lock()
		if err != nil {
			ix.s.cfg.Logger.Warn("viewer search index", "dataset", st.Dataset, "config", c.Name, "split", sp.Name, "err", err)
			ix.failed[p] = err
			delete(ix.building, p)
		}
		ix.mu.Unlock()
	}()
	return ch
}

// prune removes the indexes of the dataset's other revisions, and those of
// an older layout, once a new one is needed: queries only ever use the
// current revision's, so that disk use stays bounded by one revision per
// dataset. Indexes being built are left alone. ix.mu must be held.
func (ix *indexes) prune(repoID int64, sha string) {
	repoDir := filepath.Join(ix.dir, fmt.Sprint(repoID))
	entries, err := os.ReadDir(repoDir)
	if err != nil {
		return
	}
	busy := func(p string) bool {
		for b := range ix.building {
			if strings.HasPrefix(b, p) {
				return true
			}
		}
		return false
	}
	drop := func(p string) {
		for o, idx := range ix.open {
			if strings.HasPrefix(o, p) {
				idx.Close()
				delete(ix.open, o)
			}
		}
		os.RemoveAll(p)
	}
	for _, e := range entries {
		p := filepath.Join(repoDir, e.Name())
		if e.Name() != sha {
			if !busy(p + string(filepath.Separator)) {
				drop(p)
			}
			continue
		}
		files, _ := os.ReadDir(p)
		for _, f := range files {
			if fp := filepath.Join(p, f.Name()); strings.HasSuffix(f.Name(), ".fts") && !strings.HasSuffix(f.Name(), indexExt) {
				drop(fp)
			}
		}
	}
}

// fetchOrBuild puts the split's index at p: a copy of the one in the blob
// store, or, when there is none, one built here and then stored for the
// other servers. Failing to store it only costs them a build of their own.
func (ix *indexes) fetchOrBuild(p string, st *viewer.State, c *viewer.Config, sp *viewer.Split) error {
	ctx := context.Background()
	key := indexKey(st, c, sp)
	blobs := ix.s.cfg.Blobs
	if blobs == nil {
		return ix.build(p, st.Language, c, sp)
	}
	log := ix.s.cfg.Logger.With("dataset", st.Dataset, "config", c.Name, "split", sp.Name)
	switch err := ix.fetch(ctx, key, p); {
	case err == nil:
		log.Info("viewer search index downloaded")
		return nil
	case !errors.Is(err, blob.ErrNotFound):
		log.Warn("viewer search index: download failed, building it here", "key", key, "err", err)
	}
	start := time.Now()
	if err := ix.build(p, st.Language, c, sp); err != nil {
		return err
	}
	log.Info("viewer search index built", "duration", time.Since(start).Round(time.Millisecond))
	if err := ix.store(ctx, key, p); err != nil {
		log.Warn("viewer search index: storing it for other servers", "key", key, "err", err)
		return nil
	}
	ix.pruneShared(ctx, st.RepoID, st.SHA)
	return nil
}

// fetch copies the index stored under key to p; the file appears only
// when complete.
func (ix *indexes) fetch(ctx context.Context, key, p string) error {
	rc, _, err := ix.s.cfg.Blobs.Open(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".download"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// store uploads the index at p under key.
func (ix *indexes) store(ctx context.Context, key, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return ix.s.cfg.Blobs.Put(ctx, key, f, fi.Size())
}

// pruneShared removes the stored indexes of the dataset's other revisions,
// as prune does locally: only the current revision's are queried.
func (ix *indexes) pruneShared(ctx context.Context, repoID int64, sha string) {
	prefix := indexRepoPrefix(repoID)
	var old []string
	err := ix.s.cfg.Blobs.List(ctx, prefix, func(i blob.Info) error {
		if rev, _, _ := strings.Cut(strings.TrimPrefix(i.Key, prefix), "/"); rev != strings.ToLower(sha) {
			old = append(old, i.Key)
		}
		return nil
	})
	for _, k := range old {
		if derr := ix.s.cfg.Blobs.Delete(ctx, k); derr != nil && !errors.Is(derr, blob.ErrNotFound) {
			err = derr
		}
	}
	if err != nil {
		ix.s.cfg.Logger.Warn("viewer search index: removing older revisions' indexes", "prefix", prefix, "err", err)
	}
}

// build indexes the text of every string-bearing column of the split.
func (ix *indexes) build(p, lang string, c *viewer.Config, sp *viewer.Split) error {
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	var exprs []string
	for _, f := range c.Features {
		t := string(f.Type)
		if strings.Contains(t, `"string"`) || strings.Contains(t, `"large_string"`) || strings.Contains(t, `"Translation`) || strings.Contains(t, `"Json"`) {
			exprs = append(exprs, duck.Ident(f.Name)+"::VARCHAR")
		}
	}
	if len(exprs) == 0 {
		return fmt.Errorf("no text column")
	}
	shards, err := ix.s.shards(ctx, sp)
	if err != nil {
		return err
	}
	return fts.Build(ctx, p, lang, func(yield func(fts.Doc) error) error {
		for _, sh := range shards {
			q := "SELECT file_row_number, concat_ws(' ', " + strings.Join(exprs, ", ") + ") FROM read_parquet(" + duck.Quote(sh.path) + ", file_row_number=true)"
			err := ix.s.db.Each(ctx, q, func(row []any) error {
				n, _ := row[0].(int64)
				text, _ := row[1].(string)
				return yield(fts.Doc{ID: sh.start + n, Text: text})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// get returns the open index, waiting up to indexWait for its build.
func (ix *indexes) get(ctx context.Context, st *viewer.State, c *viewer.Config, sp *viewer.Split) (*fts.Index, error) {
	p := ix.path(st, c, sp)
	ix.mu.Lock()
	if idx, ok := ix.open[p]; ok {
		ix.mu.Unlock()
		return idx, nil
	}
	ix.mu.Unlock()
	ch := ix.ensure(st, c, sp)
	select {
	case <-ch:
	case <-time.After(indexWait):
		return nil, &apiError{500, "ResponseNotReady", "The server is busier than usual and the response is not ready yet. Please retry later (the dataset index is loading, this can take a minute)."}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err, ok := ix.failed[p]; ok {
		delete(ix.failed, p)
		return nil, err
	}
	if idx, ok := ix.open[p]; ok {
		return idx, nil
	}
	idx, err := fts.Open(p)
	if err != nil {
		return nil, err
	}
	ix.open[p] = idx
	return idx, nil
}

func (ix *indexes) close() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for p, idx := range ix.open {
		idx.Close()
		delete(ix.open, p)
	}
}

func (s *Server) search(ctx context.Context, req *request) (any, error) {
	c, sp, err := req.splitOf()
	if err != nil {
		return nil, err
	}
	query := param(req.r, "query")
	if query == "" {
		return nil, errMissing("Parameter 'query' is required")
	}
	if len(query) > fts.MaxQueryLength {
		return nil, errParam(fmt.Sprintf("Parameter 'query' must be at most %d bytes", fts.MaxQueryLength))
	}
	offset, length, err := paging(req)
	if err != nil {
		return nil, err
	}
	if !searchable(c.Features) {
		return nil, &apiError{500, "NoIndexableColumnsError", "The split has no column that can be searched."}
	}
	idx, err := s.indexes.get(ctx, req.st, c, sp)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	ids, total, err := idx.Search(ctx, query, int(min(offset, 1<<31)), length)
	if err != nil {
		return nil, errParam("Parameter 'query' is invalid")
	}
	shards, err := s.shards(ctx, sp)
	if err != nil {
		return nil, err
	}
	items, err := s.readIDs(ctx, shards, ids)
	if err != nil {
		return nil, err
	}
	s.mediaCells(req, c, sp, items, "cached-assets")
	return page{featureList(c.Features), items, total, maxRowsPerPage, sp.Partial}, nil
}
