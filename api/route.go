package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/xet/casapi"
)

// actorOf returns the caller identity stored in the request context; it is
// never nil.
func actorOf(r *http.Request) *auth.Actor { return hubhttp.Actor(r) }

// route authenticates the caller and dispatches on the escaped path.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The signed LFS object URLs authorise themselves and are called without
	// credentials; everything else resolves the caller first.
	if len(segs) >= 2 && segs[0] == "lfs" && segs[1] == "objects" {
		s.serveLFSObject(w, r, segs[2:])
		return
	}
	if s.viewer != nil && (strings.HasPrefix(r.Host, "datasets-server.") || len(segs) > 0 && segs[0] == "datasets-server") {
		// The viewer authenticates callers itself (through the same tokens).
		if !strings.HasPrefix(r.Host, "datasets-server.") {
			r = r.Clone(r.Context())
			r.URL.Path = strings.TrimPrefix(r.URL.Path, "/datasets-server")
			r.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/datasets-server")
		}
		s.viewer.ServeHTTP(w, r)
		return
	}
	// The CAS service authenticates with its own tokens.
	if s.xetOn && casapi.Handles(segs) {
		s.casAPI.ServeHTTP(w, r)
		return
	}
	actor, err := s.authenticate(r)
	if err != nil {
		if s.fallbackUnknownToken(w, r, segs, err) {
			return
		}
		if isGitRequest(segs) {
			askForCredentials(w)
		}
		s.writeError(w, r, err)
		return
	}
	r = hubhttp.SetActor(r, actor)

	if len(segs) > 0 && segs[0] == "api" {
		s.routeAPI(w, r, segs[1:])
		return
	}
	if len(segs) == 2 && segs[0] == "avatars" && s.profiles != nil {
		s.profiles.ServeAvatar(w, r, segs[1])
		return
	}
	s.routeRepoFiles(w, r, segs)
}

// notFound hands paths the API does not know to the web pages, if any.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if s.web != nil {
		s.web.ServeHTTP(w, r)
		return
	}
	s.writeError(w, r, errNotFound("Not Found"))
}

// splitPath splits an escaped URL path on "/" and unescapes each segment.
func splitPath(escaped string) ([]string, error) {
	escaped = strings.Trim(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	segs := strings.Split(escaped, "/")
	for i, p := range segs {
		u, err := url.PathUnescape(p) // p itself, without a copy, when it has no '%'
		if err != nil {
			return nil, errInvalid("Invalid URL path")
		}
		segs[i] = u
	}
	return segs, nil
}

func (s *Server) routeAPI(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) == 0 {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	// Overviews, followers, avatars and invitations of users and orgs.
	if s.profiles != nil && s.profiles.ServeAPI(w, r, segs) {
		return
	}
	switch segs[0] {
	case "health":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "whoami-v2", "whoami":
		s.handleWhoami(w, r)
		return
	case "validate-yaml":
		s.handleValidateYAML(w, r)
		return
	case "repos":
		if len(segs) == 2 {
			switch segs[1] {
			case "create":
				s.handleCreateRepo(w, r)
				return
			case "delete":
				s.handleDeleteRepo(w, r)
				return
			case "move":
				s.handleMoveRepo(w, r)
				return
			}
		}
	case "users":
		if len(segs) == 3 && segs[2] == "likes" {
			s.handleUserLikes(w, r, segs[1])
			return
		}
		if len(segs) == 3 && segs[2] == "overview" {
			s.handleUserOverview(w, r, segs[1])
			return
		}
	case "settings":
		// The rest of /api/settings is the webhooks package's.
		if len(segs) == 2 && segs[1] == "repositories" {
			s.handleNamespaceRepos(w, r, "")
			return
		}
	case "organizations":
		if len(segs) == 4 && segs[2] == "settings" && segs[3] == "repositories" {
			s.handleNamespaceRepos(w, r, segs[1])
			return
		}
		if len(segs) == 3 && segs[2] == "overview" {
			s.handleUserOverview(w, r, segs[1])
			return
		}
		if len(segs) == 3 && segs[2] == "members" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.handleOrgMembers(w, r, segs[1])
			return
		}
	case "credentials":
		if len(segs) == 2 && segs[1] == "revoke" {
			s.handleRevokeCredentials(w, r)
			return
		}
	case "models", "datasets", "spaces":
		t, _ := haven.ParseRepoType(segs[0])
		if len(segs) == 1 {
			s.handleListRepos(w, r, t)
			return
		}
		if len(segs) >= 3 {
			s.routeRepoAPI(w, r, t, segs[1], segs[2], segs[3:])
			return
		}
		if len(segs) == 2 {
			// /api/spaces/hardware and the like, before a legacy repository id.
			for _, rt := range s.routes {
				if h := rt.API(segs[0] + "/" + segs[1]); h != nil {
					h.ServeHTTP(w, r)
					return
				}
			}
		}
		if s.missingLegacyRepo(t, "", r.Method) {
			// The info of an id without a namespace.
			if s.serveLegacyFallback(w, r, t, segs[1], "", nil) {
				return
			}
			s.writeError(w, r, auth.RepoNotFound())
			return
		}
	case "telemetry":
		w.WriteHeader(http.StatusOK)
		return
	case "endpoints":
		// The catalog of tested endpoint recipes (list_inference_catalog,
		// once INFERENCE_CATALOG_ENDPOINT points here): this hub publishes
		// none, and says so in the catalog's shape.
		if len(segs) == 4 && segs[1] == "v1" && segs[2] == "catalog" && segs[3] == "list" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			writeJSON(w, http.StatusOK, map[string]any{"items": []any{}})
			return
		}
	case "quicksearch":
		s.handleQuickSearch(w, r)
		return
	case "models-tags-by-type", "datasets-tags-by-type":
		t, _ := haven.ParseRepoType(strings.TrimSuffix(segs[0], "-tags-by-type"))
		s.handleTagsByType(w, r, t)
		return
	}
	for _, rt := range s.routes {
		if h := rt.API(segs[0]); h != nil {
			h.ServeHTTP(&unsupportedWriter{ResponseWriter: w, s: s, r: r}, r)
			return
		}
	}
	s.noRoute(w, r)
}

// repoHandler is what handles an action on a repository of type t for a
// method: a core handler, else one of the domain packages' Routes, else nil.
func (s *Server) repoHandler(t haven.RepoType, action, m string) RepoHandler {
	if h := s.coreRepoHandler(action, m); h != nil {
		return h
	}
	for _, rt := range s.routes {
		if h := rt.RepoAction(t, action, m); h != nil {
			return h
		}
	}
	return nil
}

func (s *Server) coreRepoHandler(action, m string) RepoHandler {
	switch {
	case action == "" && (m == "GET" || m == "HEAD"):
		return s.repoInfo
	case action == "revision" && (m == "GET" || m == "HEAD"):
		return s.repoInfo
	case action == "tree" && m == "GET":
		return s.tree
	case action == "paths-info" && m == "POST":
		return s.handlePathsInfo
	case action == "refs" && m == "GET":
		return s.handleRefs
	case action == "treesize" && m == "GET":
		return s.handleTreeSize
	case action == "compare" && m == "GET":
		return s.handleCompare
	case action == "commits" && m == "GET":
		return s.handleCommits
	case action == "branch" && (m == "POST" || m == "DELETE"):
		return s.handleBranch
	case action == "tag" && (m == "POST" || m == "DELETE"):
		return s.handleTag
	case action == "super-squash" && m == "POST":
		return s.handleSuperSquash
	case action == "preupload" && m == "POST":
		return s.handlePreupload
	case action == "commit" && m == "POST":
		return s.handleCommit
	case action == "settings" && m == "PUT":
		return s.handleSettings
	case action == "duplicate" && m == "POST":
		return s.handleDuplicate
	case action == "like" && (m == "POST" || m == "DELETE"):
		return s.handleLike
	case action == "likers" && m == "GET":
		return s.handleLikers
	case action == "lfs-files" && m == "GET":
		return s.handleLFSFiles
	case action == "lfs-files" && m == "POST":
		return s.handleLFSFilesBatch
	case action == "auth-check" && m == "GET":
		return s.handleAuthCheck
	case (action == "xet-read-token" || action == "xet-write-token") && m == "GET" && s.xetOn:
		write := action == "xet-write-token"
		return func(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
			s.handleXetToken(w, r, repo, rest, write)
		}
	}
	return nil
}

// missingLegacyRepo reports whether a path that routes nowhere as
// {ns}/{name}/{action} is an action on a repository id without a namespace
// ({name} being the action). The Hub still has such legacy ids ("gpt2") and
// the clients ask about them; every Haven repository has a namespace, so the
// answer is RepoNotFound, which clients turn into their "repository not found"
// error instead of a generic 404.
func (s *Server) missingLegacyRepo(t haven.RepoType, name, method string) bool {
	return s.repoHandler(t, name, method) != nil
}

func (s *Server) routeRepoAPI(w http.ResponseWriter, r *http.Request, t haven.RepoType, ns, name string, rest []string) {
	action := ""
	if len(rest) > 0 {
		action, rest = rest[0], rest[1:]
	}
	m := r.Method
	h := s.repoHandler(t, action, m)
	if h == nil {
		if s.missingLegacyRepo(t, name, m) {
			if action != "" {
				rest = append([]string{action}, rest...)
			}
			if s.serveLegacyFallback(w, r, t, ns, name, rest) {
				return
			}
			s.writeError(w, r, auth.RepoNotFound())
			return
		}
		s.noRoute(w, r)
		return
	}
	repo, err := s.findRepo(r.Context(), t, ns, name)
	if err != nil {
		if moved, ok := movedRepo(err); ok && (m == "GET" || m == "HEAD") {
			// Keep old API URLs working after a rename: point at the new name.
			loc := "/api/" + t.Plural() + "/" + escapeRepoID(moved) + suffixAfter(r.URL.EscapedPath(), 4)
			redirect(w, r, loc)
			return
		} else if ok {
			repo = moved
		} else {
			if s.serveFallback(w, r, RepoRequest{Type: t, Namespace: ns, Name: name, Action: action, Rest: rest}, err) {
				return
			}
			s.writeError(w, r, err)
			return
		}
	}
	if err := auth.Can(actorOf(r), auth.Read, repo); err != nil {
		s.writeError(w, r, err)
		return
	}
	h(w, r, repo, rest)
}

// suffixAfter returns the escaped path after its first n segments, with the
// leading slash and the original query string.
func suffixAfter(escapedPath string, n int) string {
	p := strings.TrimPrefix(escapedPath, "/")
	for range n {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return ""
		}
		p = p[i+1:]
	}
	return "/" + p
}

func redirect(w http.ResponseWriter, r *http.Request, loc string) {
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func escapeRepoID(repo *haven.Repo) string {
	return url.PathEscape(repo.Namespace) + "/" + url.PathEscape(repo.Name)
}

// movedError carries the new location of a renamed repository.
type movedError struct{ repo *haven.Repo }

func (e *movedError) Error() string { return "repository moved to " + e.repo.FullName() }

func movedRepo(err error) (*haven.Repo, bool) {
	if m, ok := err.(*movedError); ok {
		return m.repo, true
	}
	return nil, false
}

// findRepo looks a repository up by name. For a renamed repository it returns
// a *movedError carrying the current one.
func (s *Server) findRepo(ctx context.Context, t haven.RepoType, ns, name string) (*haven.Repo, error) {
	if repo, ok := s.cache.repo(t, ns, name); ok {
		return repo, nil
	}
	repo, err := s.meta.RepoByName(ctx, t, ns, name)
	if err == nil {
		s.cache.putRepo(repo)
		return repo, nil
	}
	if !haven.IsCode(err, haven.ERepoNotFound) {
		return nil, err
	}
	if moved, rerr := s.meta.Redirect(ctx, t, ns, name); rerr == nil {
		return nil, &movedError{moved}
	}
	return nil, auth.RepoNotFound()
}

// Authenticate returns the identity behind a request: a token, a browser
// session, or anonymous. Other handlers (the dataset viewer) use it so that
// access rules stay the same everywhere.
func (s *Server) Authenticate(r *http.Request) (*auth.Actor, error) { return s.authenticate(r) }

// authenticate resolves the Authorization header: "Bearer hf_…", or HTTP
// Basic with the token as password (git and git-lfs).
func (s *Server) authenticate(r *http.Request) (*auth.Actor, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		if s.sessions != nil {
			return s.sessions.Actor(r)
		}
		return &auth.Actor{}, nil
	}
	var token string
	scheme, cred, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		token = strings.TrimSpace(cred)
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return nil, haven.Errorf(haven.EUnauthorized, auth.ErrInvalidToken)
		}
		_, pass, _ := strings.Cut(string(raw), ":")
		token = pass
	default:
		return nil, haven.Errorf(haven.EUnauthorized, auth.ErrInvalidToken)
	}
	return s.actorForToken(r.Context(), token)
}

// Resolved tokens are remembered briefly (Server.tokens): the read path
// should not pay for two queries on every request. Revocation takes effect
// within the TTL, or at once through ForgetTokens.
const tokenCacheTTL = 10 * time.Second

func (s *Server) actorForToken(ctx context.Context, token string) (*auth.Actor, error) {
	key := auth.HashToken(token)
	if e, ok := s.tokens.Load(key); count(tokenStats, ok && time.Now().Before(e.(actorEntry).expires)) {
		return e.(actorEntry).actor, nil
	}
	a, err := auth.FromToken(ctx, s.meta, token)
	if err != nil {
		return nil, err
	}
	until := time.Now().Add(tokenCacheTTL)
	// An expiring token leaves the cache when it expires, not later.
	if a.Token != nil && !a.Token.ExpiresAt.IsZero() && a.Token.ExpiresAt.Before(until) {
		until = a.Token.ExpiresAt
	}
	s.tokens.Store(key, actorEntry{a, until})
	return a, nil
}

// ForgetTokens drops cached identities, e.g. after a token is revoked or a
// membership changes, here and on the servers sharing the database.
func (s *Server) ForgetTokens() {
	s.tokens.Clear()
	s.tellPeers("identities")
}
