package api

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

// readCache keeps what the hot read path (repo info, tree, resolve) would
// otherwise fetch on every request: repository rows, revision → commit
// answers, and tree listings. Listings are keyed by commit, so they never go
// stale; rows and revisions expire after a short TTL and are dropped at once
// when this server changes the repository. Servers sharing a PostgreSQL
// database tell each other of their changes (peers.go); the TTL bounds
// staleness should a message be lost.
type readCache struct {
	mu    sync.Mutex
	repos map[string]repoEntry          // type/ns/name, lower-cased
	revs  map[int64]map[string]revEntry // repo ID → revision → commit
	trees map[treeKey][]gitstore.Entry
	size  int // entries held in trees

	// rendered holds JSON fragments that depend only on a commit (tree
	// pages, siblings), so that hot requests skip re-encoding them.
	rendered      map[string][]byte
	renderedBytes int

	// listings holds encoded pages of listings of default items, each
	// under the count of repository changes it was read after
	// (meta.RepoChanges): right while the count stays, with nothing to
	// expire. Only where the database keeps the count (SQLite).
	listings      map[string]listingEntry
	listingsBytes int
	// reading holds the listing pages being read, for the requests that
	// want the same page meanwhile.
	reading map[listingRead]*listingFlight
}

type listingRead struct {
	key     string
	changes int64
}

// listingFlight is a listing page being read; done closes when page, keep
// and err are set.
type listingFlight struct {
	done chan struct{}
	page listingEntry
	keep bool
	err  error
}

type listingEntry struct {
	changes int64
	body    []byte // the whole answer
	next    bool   // a next page follows (the Link header)
}

type repoEntry struct {
	repo    *haven.Repo
	expires time.Time
}

type revEntry struct {
	sha     string
	expires time.Time
}

type treeKey struct {
	repoID    int64
	sha, dir  string
	recursive bool
}

const (
	repoTTL = 2 * time.Second
	revTTL  = time.Second
	// maxTreeEntries bounds the listings held; the cache starts afresh when full.
	maxTreeEntries = 500_000
)

func repoCacheKey(t haven.RepoType, ns, name string) string {
	return string(appendRepoCacheKey(nil, t, ns, name))
}

// appendRepoCacheKey appends repoCacheKey's key to b: looked up from a
// buffer on the stack, the key of every request costs no allocation.
func appendRepoCacheKey(b []byte, t haven.RepoType, ns, name string) []byte {
	b = append(append(b, t...), '/')
	b = appendLower(b, ns)
	return appendLower(append(b, '/'), name)
}

// appendLower appends s to b in lower case, as strings.ToLower would give
// it.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			return append(b, strings.ToLower(s[i:])...)
		} else if 'A' <= c && c <= 'Z' {
			b = append(b, c+'a'-'A')
		} else {
			b = append(b, c)
		}
	}
	return b
}

func (c *readCache) repo(t haven.RepoType, ns, name string) (*haven.Repo, bool) {
	var buf [128]byte
	key := appendRepoCacheKey(buf[:0], t, ns, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.repos[string(key)]
	if !count(repoStats, ok && !time.Now().After(e.expires)) {
		return nil, false
	}
	return e.repo, true
}

func (c *readCache) putRepo(r *haven.Repo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.repos == nil || len(c.repos) > 100_000 {
		c.repos = map[string]repoEntry{}
	}
	c.repos[repoCacheKey(r.Type, r.Namespace, r.Name)] = repoEntry{r, time.Now().Add(repoTTL)}
}

func (c *readCache) rev(repoID int64, rev string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.revs[repoID][rev]
	if !count(revStats, ok && (e.expires.IsZero() || !time.Now().After(e.expires))) {
		return "", false
	}
	return e.sha, true
}

func (c *readCache) putRev(repoID int64, rev, sha string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.revs == nil || len(c.revs) > 100_000 {
		c.revs = map[int64]map[string]revEntry{}
	}
	m := c.revs[repoID]
	if m == nil || len(m) > 1000 {
		m = map[string]revEntry{}
		c.revs[repoID] = m
	}
	e := revEntry{sha: sha}
	if rev != sha {
		// Names move; a full commit id always means the same commit.
		e.expires = time.Now().Add(revTTL)
	}
	m[rev] = e
}

func (c *readCache) tree(k treeKey) ([]gitstore.Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.trees[k]
	return e, count(treeStats, ok)
}

func (c *readCache) putTree(k treeKey, entries []gitstore.Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trees == nil || c.size+len(entries) > maxTreeEntries {
		c.trees, c.size = map[treeKey][]gitstore.Entry{}, 0
	}
	c.trees[k] = entries
	c.size += len(entries)
}

// maxRenderedBytes bounds the JSON fragments held.
const maxRenderedBytes = 64 << 20

func (c *readCache) render(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.rendered[key]
	return b, count(renderStats, ok)
}

// renderKey is render for a key built in a buffer; the lookup does not
// copy it.
func (c *readCache) renderKey(key []byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.rendered[string(key)]
	return b, ok
}

func (c *readCache) putRender(key string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rendered == nil || c.renderedBytes+len(b) > maxRenderedBytes {
		c.rendered, c.renderedBytes = map[string][]byte{}, 0
	}
	c.rendered[key] = b
	c.renderedBytes += len(b)
}

// maxListingBytes bounds the listing pages held: about 50 default pages of
// 1000 models.
const maxListingBytes = 16 << 20

// listing returns the page cached under key if it was read after the
// repository change count changes.
func (c *readCache) listing(key string, changes int64) (listingEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.listings[key]
	return e, count(listingStats, ok && e.changes == changes)
}

func (c *readCache) putListing(key string, e listingEntry) {
	if len(e.body) > maxListingBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listings == nil || c.listingsBytes+len(e.body) > maxListingBytes {
		c.listings, c.listingsBytes = map[string]listingEntry{}, 0
	}
	if old, ok := c.listings[key]; ok {
		c.listingsBytes -= len(old.body)
	}
	c.listings[key] = e
	c.listingsBytes += len(e.body)
}

// joinListing returns the read of the page under key and changes that is
// under way, or starts one (first): its reader must call endListing.
func (c *readCache) joinListing(key string, changes int64) (fl *listingFlight, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := listingRead{key, changes}
	if fl := c.reading[k]; fl != nil {
		return fl, false
	}
	if c.reading == nil {
		c.reading = map[listingRead]*listingFlight{}
	}
	fl = &listingFlight{done: make(chan struct{})}
	c.reading[k] = fl
	return fl, true
}

// endListing ends a read that joinListing started, keeping its page when
// it may be kept, and hands the page to the requests that waited for it.
func (c *readCache) endListing(key string, changes int64, fl *listingFlight) {
	if fl.err == nil && fl.keep {
		c.putListing(key, fl.page)
	}
	c.mu.Lock()
	delete(c.reading, listingRead{key, changes})
	c.mu.Unlock()
	close(fl.done)
}

// forget drops what is cached about a repository after this server changed it.
func (c *readCache) forget(r *haven.Repo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.repos, repoCacheKey(r.Type, r.Namespace, r.Name))
	delete(c.revs, r.ID)
}

// resolveRev resolves a revision for reading, through the cache.
func (s *Server) resolveRev(repo *haven.Repo, g *gitstore.Repo, rev string) (string, error) {
	if rev == "" {
		rev = repo.DefaultBranch()
	}
	if sha, ok := s.cache.rev(repo.ID, rev); ok {
		return sha, nil
	}
	sha, err := g.Resolve(rev)
	if err != nil {
		return "", err
	}
	s.cache.putRev(repo.ID, rev, sha)
	return sha, nil
}

// listTree lists a folder at a commit, through the cache. Callers must not
// modify the returned slice.
func (s *Server) listTree(repo *haven.Repo, g *gitstore.Repo, sha, dir string, recursive bool) ([]gitstore.Entry, error) {
	k := treeKey{repo.ID, sha, dir, recursive}
	if e, ok := s.cache.tree(k); ok {
		return e, nil
	}
	e, err := g.List(sha, dir, recursive)
	if err != nil {
		return nil, err
	}
	s.cache.putTree(k, e)
	return e, nil
}

// changed records that this server changed a repository: its cached row and
// revisions are dropped, here and on the servers sharing the database.
func (s *Server) changed(repo *haven.Repo) {
	s.cache.forget(repo)
	s.tellPeers(repoMessage(repo))
}
