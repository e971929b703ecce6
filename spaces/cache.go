package spaces

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/havenhub/haven"
)

// readTTL is how long the proxy trusts what it read of a repository (its
// row, its variables): this server drops entries as soon as it changes
// them; a change made through another replica is seen within readTTL, as
// with the API's own read cache.
const readTTL = 2 * time.Second

// Bounds of the static file cache: small files are kept in memory, so
// that it stays a few megabytes however many Spaces are visited; larger
// git files are written once to a folder of blobs by id and sent from
// there, with sendfile.
const (
	staticEntries  = 512
	staticMaxBytes = 16 << 10
)

// readCache keeps what every proxied request would otherwise read again:
// Space rows by name, the variables script of static pages, and static
// files by commit (which never change).
type readCache struct {
	repos  *expirable.LRU[string, *haven.Repo]
	vars   *expirable.LRU[int64, string]
	static *lru.Cache[staticKey, *staticFile]
}

// staticKey names a request path of a static Space at a commit.
type staticKey struct {
	repo int64
	sha  string
	path string // as requested, before app_file and index.html
}

// staticFile is what a static request path resolves to at a commit.
type staticFile struct {
	path   string // the file in the repository
	oid    string // git blob id: the ETag
	lfsOID string // the LFS object to stream, for LFS files
	body   []byte // the contents, for small files
	file   string // the contents on disk, for other git files
}

func newReadCache() *readCache {
	static, _ := lru.New[staticKey, *staticFile](staticEntries)
	return &readCache{
		repos:  expirable.NewLRU[string, *haven.Repo](4096, nil, readTTL),
		vars:   expirable.NewLRU[int64, string](4096, nil, readTTL),
		static: static,
	}
}

// forget drops what is cached of a repository after it changed here.
func (c *readCache) forget(repo *haven.Repo) {
	c.repos.Remove(repoKey(repo.Namespace, repo.Name))
	c.repos.Remove("#" + subdomain(repo))
	c.vars.Remove(repo.ID)
}

func repoKey(ns, name string) string { return ns + "/" + name }
