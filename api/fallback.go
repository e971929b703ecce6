package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// Fallback answers reads of repositories this hub does not have, such as a
// pull-through cache of an upstream hub. The server asks it only once its own
// lookup of the repository answered RepoNotFound, so local repositories
// (including ones created later under the same name) always win.
type Fallback interface {
	// ServeRepo answers r about the repository req names. It reports false
	// when it leaves the request alone; the server then answers its own
	// RepoNotFound.
	ServeRepo(w http.ResponseWriter, r *http.Request, req RepoRequest) bool
}

// FallbackLister is a Fallback that also names the repositories it serves
// (those cached from an upstream hub) for the hub's listings.
type FallbackLister interface {
	// Listed returns listing entries (the JSON of a listed repository) of
	// type t whose id contains search and whose namespace is author, each
	// when not empty.
	Listed(ctx context.Context, t haven.RepoType, search, author string) []map[string]any
}

// RepoRequest is a read of a repository that this hub does not have.
type RepoRequest struct {
	Type haven.RepoType
	// Namespace is empty for an id without one ("gpt2"), which the Hub
	// still answers (by redirecting to the repository's current id).
	Namespace string
	Name      string
	// Action is "" (repo info), "revision", "tree", "paths-info", "refs",
	// "commits", … for /api/{types}/{ns}/{name}/{action}/…, or "resolve" or
	// "raw" for /{prefix}{ns}/{name}/resolve/…; Rest is the unescaped path
	// after it.
	Action string
	Rest   []string
	// Token is the caller's bearer token when this hub did not recognise it
	// (a token of the upstream, say); a token of this hub is never handed on.
	Token string
}

// serveFallback hands a request whose repository lookup failed with err to
// the fallback, if there is one and the repository does not exist here.
func (s *Server) serveFallback(w http.ResponseWriter, r *http.Request, req RepoRequest, err error) bool {
	return s.fallback != nil && haven.IsCode(err, haven.ERepoNotFound) && s.fallback.ServeRepo(w, r, req)
}

// serveLegacyFallback hands a read of a repository id without a namespace,
// which this hub never has, to the fallback.
func (s *Server) serveLegacyFallback(w http.ResponseWriter, r *http.Request, t haven.RepoType, id, action string, rest []string) bool {
	return s.serveFallback(w, r, RepoRequest{Type: t, Name: id, Action: action, Rest: rest}, auth.RepoNotFound())
}

// fallbackUnknownToken hands a repository read whose bearer token this hub
// does not know to the fallback, when the repository does not exist here:
// the token may be the caller's credential for the upstream. For local
// repositories the token stays refused.
func (s *Server) fallbackUnknownToken(w http.ResponseWriter, r *http.Request, segs []string, err error) bool {
	if s.fallback == nil || !haven.IsCode(err, haven.EUnauthorized) {
		return false
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return false
	}
	req, ok := repoRequestOf(segs)
	if !ok {
		return false
	}
	req.Token = strings.TrimSpace(token)
	_, ferr := s.findRepo(r.Context(), req.Type, req.Namespace, req.Name)
	return s.serveFallback(w, r, req, ferr)
}

// repoRequestOf reads the repository and action of an API or resolve path.
func repoRequestOf(segs []string) (RepoRequest, bool) {
	if len(segs) >= 4 && segs[0] == "api" {
		t, err := haven.ParseRepoType(segs[1])
		if err != nil || segs[1] != t.Plural() {
			return RepoRequest{}, false
		}
		req := RepoRequest{Type: t, Namespace: segs[2], Name: segs[3]}
		if len(segs) > 4 {
			req.Action, req.Rest = segs[4], segs[5:]
		}
		return req, true
	}
	t := haven.Model
	if len(segs) > 0 && (segs[0] == "datasets" || segs[0] == "spaces") {
		t, _ = haven.ParseRepoType(segs[0])
		segs = segs[1:]
	}
	if len(segs) >= 4 && (segs[2] == "resolve" || segs[2] == "raw") {
		return RepoRequest{Type: t, Namespace: segs[0], Name: segs[1], Action: segs[2], Rest: segs[3:]}, true
	}
	return RepoRequest{}, false
}

// fallbackRepos returns the fallback's repositories that the last page of a
// listing without tag or gating filters ends with, leaving out ids that
// exist here (local repositories win).
func (s *Server) fallbackRepos(r *http.Request, t haven.RepoType, search, author string, expand map[string]bool) []map[string]any {
	l, ok := s.fallback.(FallbackLister)
	if !ok {
		return nil
	}
	var out []map[string]any
	for _, m := range l.Listed(r.Context(), t, search, author) {
		id, _ := m["id"].(string)
		ns, name, _ := strings.Cut(id, "/")
		if _, err := s.findRepo(r.Context(), t, ns, name); !haven.IsCode(err, haven.ERepoNotFound) {
			continue
		}
		out = append(out, filterExpand(m, expand))
	}
	return out
}
