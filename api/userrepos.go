package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

// repoStorage is one row of a namespace's repositories with their storage,
// as GET /api/settings/repositories answers (`hf repos ls`).
type repoStorage struct {
	ID             string    `json:"id"`
	Type           string    `json:"type"`
	UpdatedAt      time.Time `json:"updatedAt"`
	Visibility     string    `json:"visibility"`
	Storage        int64     `json:"storage"`
	StoragePercent float64   `json:"storagePercent"`
}

// handleNamespaceRepos answers GET /api/settings/repositories (ns "": the
// caller's own) and GET /api/organizations/{ns}/settings/repositories (for
// the organisation's members): every repository and bucket of the namespace
// the caller may read, private ones included, with the storage it uses.
func (s *Server) handleNamespaceRepos(w http.ResponseWriter, r *http.Request, ns string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.noRoute(w, r)
		return
	}
	a := actorOf(r)
	if a.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be signed in to list your repositories"))
		return
	}
	if ns == "" {
		ns = a.User.Name
	} else if a.Orgs[strings.ToLower(ns)] == "" && !a.User.IsAdmin {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Organization %s not found", ns))
		return
	}
	repos, err := s.meta.ListRepos(r.Context(), meta.RepoFilter{Author: ns, SeeAll: true, Sort: "id"})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]repoStorage, 0, len(repos))
	var total int64
	for _, repo := range repos {
		if auth.Can(a, auth.Read, repo) != nil {
			continue
		}
		visibility := "public"
		if repo.Private {
			visibility = "private"
		}
		out = append(out, repoStorage{ID: repo.FullName(), Type: string(repo.Type), UpdatedAt: repo.UpdatedAt.UTC(),
			Visibility: visibility, Storage: repo.UsedStorage})
		total += repo.UsedStorage
	}
	buckets, err := s.meta.ListBuckets(r.Context(), meta.BucketFilter{Namespace: ns, WithPrivate: true})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, b := range buckets {
		if auth.CanReadBucket(a, b) != nil {
			continue
		}
		visibility := "public"
		if b.Private {
			visibility = "private"
		}
		out = append(out, repoStorage{ID: b.FullName(), Type: "bucket", UpdatedAt: b.UpdatedAt.UTC(), Visibility: visibility, Storage: b.Size})
		total += b.Size
	}
	for i := range out {
		if total > 0 {
			out[i].StoragePercent = float64(out[i].Storage) * 100 / float64(total)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
