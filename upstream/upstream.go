// Package upstream answers repositories this hub does not have from an
// upstream hub (any Hugging Face-compatible one, another Haven included),
// caching what it fetched.
//
// It is the hub's api.Fallback: the api package asks it only after its own
// lookup of a repository found nothing, so local repositories always win.
// Repo info, trees, paths-info and file downloads of public, ungated upstream
// repositories are fetched with the hub's own upstream token and kept: file
// contents in the blob store by SHA-256 (LFS files) or git blob id (small
// files), verified while they stream and discarded when they do not match;
// metadata answers by repository and commit. Revision names map to commits
// for a short while (Config.RevisionTTL), commits never change, so when the
// upstream is unreachable (or Config.Offline) whatever is cached is served.
// Private and gated upstream repositories are never cached: their requests
// go through with the caller's own upstream token, or none.
package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/netguard"
)

// Config is what the cache needs.
type Config struct {
	// URL is the upstream hub's base URL, e.g. "https://huggingface.co".
	URL string
	// Token is this hub's own token at the upstream. It fetches public
	// repositories only: it never opens a private or gated repository to a
	// caller.
	Token string
	// Offline serves only what is cached, without asking the upstream.
	Offline bool
	// Allow, when not empty, lists the only namespaces fetched; Deny lists
	// namespaces never fetched.
	Allow, Deny []string
	// AllowPrivate lets the upstream be on a loopback, private or link-local
	// address (refused by default, as for webhooks).
	AllowPrivate bool
	// Blobs keeps the cached files and metadata.
	Blobs blob.Driver
	// PublicURL is this hub's base URL, for the pagination links of trees.
	PublicURL string
	// RevisionTTL is how long a revision name (a branch, a tag) is taken to
	// name the same commit before the upstream is asked again; 30 s if 0.
	RevisionTTL time.Duration
	// Resolver looks up the upstream's addresses for the URL check;
	// net.DefaultResolver if nil.
	Resolver netguard.Resolver
	Logger   *slog.Logger
}

// Cache is the pull-through cache. Create it with New.
type Cache struct {
	base      *url.URL
	host      string // scheme and host of the upstream, for keys and messages
	token     string
	offline   bool
	allow     map[string]bool
	deny      map[string]bool
	blobs     blob.Driver
	publicURL string
	ttl       time.Duration
	log       *slog.Logger
	client    *http.Client

	mu        sync.Mutex
	states    map[string]*revState // state key → last answer
	fills     map[string]*fill     // blob key → download in progress
	downUntil time.Time            // no request to the upstream before, after a failed connection
	downErr   error
	indexed   map[string]time.Time // listing key → when it was last written
}

// New checks the upstream URL and returns the cache.
func New(ctx context.Context, cfg Config) (*Cache, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream URL %q: an absolute http or https URL without query is needed", cfg.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("upstream URL %q: give credentials with the upstream token, not in the URL", cfg.URL)
	}
	res := cfg.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	if err := netguard.Check(ctx, res, u.String(), cfg.AllowPrivate); err != nil {
		return nil, fmt.Errorf("upstream URL %q is refused: it leads to a loopback, private or link-local address (allow it with --upstream-allow-private)", cfg.URL)
	}
	if cfg.Blobs == nil {
		return nil, fmt.Errorf("upstream: no blob store")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RevisionTTL <= 0 {
		cfg.RevisionTTL = 30 * time.Second
	}
	c := &Cache{
		base:      u,
		host:      u.Scheme + "://" + u.Host,
		token:     cfg.Token,
		offline:   cfg.Offline,
		allow:     nameSet(cfg.Allow),
		deny:      nameSet(cfg.Deny),
		blobs:     cfg.Blobs,
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		ttl:       cfg.RevisionTTL,
		log:       cfg.Logger,
		client:    newClient(cfg.AllowPrivate),
		states:    map[string]*revState{},
		fills:     map[string]*fill{},
		indexed:   map[string]time.Time{},
	}
	return c, nil
}

func nameSet(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		if n = strings.TrimSpace(n); n != "" {
			m[strings.ToLower(n)] = true
		}
	}
	return m
}

// Host is the upstream's scheme and host, as cached answers name it.
func (c *Cache) Host() string { return c.host }

// refused is the answer for a repository of a namespace not fetched.
func (c *Cache) refused(req api.RepoRequest, ns string) error {
	return haven.Errorf(haven.ERepoNotFound, "Repository %s not found: namespace %q is not fetched from the upstream %s on this hub", repoID(req), ns, c.host)
}

// allowed reports whether repositories of namespace ns may be fetched. Ids
// without a namespace ("") pass only when no allow list is set; where they
// lead is checked again once the upstream answered.
func (c *Cache) allowed(ns string) bool {
	ns = strings.ToLower(ns)
	if c.deny[ns] {
		return false
	}
	return len(c.allow) == 0 || c.allow[ns]
}

// ServeRepo answers the reads the upstream can answer: repo info (with
// revision and expand), tree, paths-info, refs, commits and resolve. It
// implements api.Fallback.
func (c *Cache) ServeRepo(w http.ResponseWriter, r *http.Request, req api.RepoRequest) bool {
	m := r.Method
	get := m == http.MethodGet || m == http.MethodHead
	switch {
	case (req.Action == "" || req.Action == "revision") && get:
	case (req.Action == "tree" || req.Action == "refs" || req.Action == "commits") && m == http.MethodGet:
	case req.Action == "paths-info" && m == http.MethodPost:
	case req.Action == "resolve" && get:
	default:
		return false
	}
	w.Header().Set("X-Haven-Upstream", c.host)
	if !c.allowed(req.Namespace) {
		c.writeError(w, r, c.refused(req, req.Namespace))
		return true
	}
	if req.Action == "refs" || req.Action == "commits" {
		// Not cached: answered with the caller's own upstream token or none,
		// never with the hub's, which might read more.
		c.passThrough(w, r, req)
		return true
	}
	rev, rest := revisionOf(req)
	st, err := c.state(r.Context(), req, rev)
	switch {
	case err != nil && req.Token != "" && !haven.IsCode(err, haven.EUnavailable):
		// Not visible to the hub's token: maybe to the caller's.
		c.passThrough(w, r, req)
	case err != nil:
		c.writeError(w, r, err)
	case st.Private || st.Gated:
		c.passThrough(w, r, req)
	default:
		c.serveCached(w, r, req, st, rest)
	}
	return true
}

// revisionOf is the revision a request names ("" for the default branch)
// and the path after it.
func revisionOf(req api.RepoRequest) (string, []string) {
	switch req.Action {
	case "revision", "paths-info":
		return strings.Join(req.Rest, "/"), nil
	case "tree", "resolve":
		segs := req.Rest
		if len(segs) == 0 {
			return "", nil
		}
		if len(segs) >= 3 && segs[0] == "refs" && (segs[1] == "pr" || segs[1] == "convert" || segs[1] == "heads" || segs[1] == "tags") {
			return strings.Join(segs[:3], "/"), segs[3:]
		}
		return segs[0], segs[1:]
	}
	return "", nil
}

// writeError answers err in the Hub's shape.
func (c *Cache) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(c.log, w, r, err)
}

// revState is what the upstream said about a revision of a repository.
type revState struct {
	Commit  string    `json:"commit"`
	Private bool      `json:"private"`
	Gated   bool      `json:"gated"`
	Fetched time.Time `json:"fetched"`
}

// state finds the commit rev names and whether the repository is public,
// from the upstream (with the hub's token) when the last answer is older than
// the TTL, else, or when the upstream is unreachable, from the cache.
func (c *Cache) state(ctx context.Context, req api.RepoRequest, rev string) (*revState, error) {
	key := stateKey(c.host, req.Type, repoID(req), rev)
	c.mu.Lock()
	st := c.states[key]
	c.mu.Unlock()
	if st != nil && (c.offline || time.Since(st.Fetched) < c.ttl) {
		return st, nil
	}
	if c.offline {
		return c.storedState(ctx, req, rev, key, nil)
	}
	p := "/api/" + req.Type.Plural() + "/" + escapeID(req)
	if rev != "" {
		p += "/revision/" + url.PathEscape(rev)
	}
	_, body, err := c.fetch(ctx, http.MethodGet, p, nil, "", c.token)
	if err != nil {
		return c.storedState(ctx, req, rev, key, err)
	}
	var info struct {
		ID      string `json:"id"`
		SHA     string `json:"sha"`
		Private bool   `json:"private"`
		Gated   any    `json:"gated"`
	}
	if err := json.Unmarshal(body, &info); err != nil || !validCommit(info.SHA) {
		return nil, haven.Errorf(haven.EUnavailable, "The upstream %s answered the info of %s without a commit", c.host, repoID(req))
	}
	if ns, _, ok := strings.Cut(info.ID, "/"); ok && !c.allowed(ns) {
		// Reached through a redirect (a renamed repository, an id without
		// a namespace): the rules apply to where it lives.
		return nil, c.refused(req, ns)
	}
	gated, _ := info.Gated.(string)
	st = &revState{Commit: info.SHA, Private: info.Private, Gated: gated != "" || info.Gated == true, Fetched: time.Now()}
	c.remember(key, st)
	if !st.Private && !st.Gated {
		// Only public answers are kept, so only they can be served offline.
		if b, err := json.Marshal(st); err == nil {
			c.putBlob(ctx, key, b)
		}
		if b, err := c.infoBody(body); err == nil {
			c.putMeta(ctx, req, st.Commit, "info", "", cachedAnswer{Body: b})
			c.index(ctx, req.Type, b)
		}
	}
	return st, nil
}

// maxStates bounds the revisions remembered in memory; past it, those
// older than the TTL are forgotten (public ones stay in the blob store).
const maxStates = 10000

func (c *Cache) remember(key string, st *revState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.states) >= maxStates {
		for k, s := range c.states {
			if time.Since(s.Fetched) >= c.ttl {
				delete(c.states, k)
			}
		}
	}
	c.states[key] = st
}

// storedState answers from the cache when the upstream is offline or
// unreachable (fetchErr), else returns fetchErr, the upstream's answer.
func (c *Cache) storedState(ctx context.Context, req api.RepoRequest, rev, key string, fetchErr error) (*revState, error) {
	if fetchErr != nil && !unreachable(fetchErr) {
		return nil, fetchErr
	}
	c.mu.Lock()
	st := c.states[key]
	c.mu.Unlock()
	if st != nil && !st.Private && !st.Gated {
		return st, nil
	}
	if b, err := c.getBlob(ctx, key); err == nil {
		st = &revState{}
		if json.Unmarshal(b, st) == nil && validCommit(st.Commit) {
			c.remember(key, st)
			return st, nil
		}
	}
	return nil, c.notCached(repoID(req), rev, fetchErr)
}

// notCached is the error for what the upstream cannot be asked about and
// the cache does not hold.
func (c *Cache) notCached(what, rev string, fetchErr error) error {
	if rev != "" {
		what += " at " + rev
	}
	if fetchErr == nil {
		return haven.Errorf(haven.EUnavailable, "The upstream %s is offline and %s is not cached on this hub", c.host, what)
	}
	return haven.Errorf(haven.EUnavailable, "The upstream %s is unreachable (%s) and %s is not cached on this hub", c.host, haven.ErrorMessage(fetchErr), what)
}

// repoID is the id a request names: "ns/name", or "name" for an id without
// a namespace (the upstream may redirect it to the repository's current id).
func repoID(req api.RepoRequest) string {
	if req.Namespace == "" {
		return req.Name
	}
	return req.Namespace + "/" + req.Name
}

func escapeID(req api.RepoRequest) string {
	if req.Namespace == "" {
		return url.PathEscape(req.Name)
	}
	return url.PathEscape(req.Namespace) + "/" + url.PathEscape(req.Name)
}

// validCommit reports whether s is a full commit id (40 or 64 hex digits).
func validCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
