package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/lfs"
)

// routeRepoFiles handles the web-style URLs of a repository:
// /{prefix}{ns}/{name}/resolve|raw/{rev}/{path}, the LFS batch API under
// {name}.git/info/lfs and git smart HTTP.
func (s *Server) routeRepoFiles(w http.ResponseWriter, r *http.Request, segs []string) {
	t := haven.Model
	if len(segs) > 0 && (segs[0] == "datasets" || segs[0] == "spaces") {
		t, _ = haven.ParseRepoType(segs[0])
		segs = segs[1:]
	}
	if len(segs) < 3 {
		s.notFound(w, r)
		return
	}
	ns, name, rest := segs[0], segs[1], segs[2:]
	isGit := strings.HasSuffix(name, ".git")
	name = strings.TrimSuffix(name, ".git")
	switch {
	case len(rest) >= 3 && rest[0] == "info" && rest[1] == "lfs":
		s.withRepo(w, r, t, ns, name, func(repo *haven.Repo) { s.handleLFS(w, r, repo, rest[2:]) })
	case rest[0] == "info" || rest[0] == "git-upload-pack" || rest[0] == "git-receive-pack":
		s.withRepo(w, r, t, ns, name, func(repo *haven.Repo) { s.handleGit(w, r, repo, strings.Join(rest, "/")) })
	case !isGit && (rest[0] == "resolve" || rest[0] == "raw") && (r.Method == "GET" || r.Method == "HEAD"):
		repo, err := s.findRepo(r.Context(), t, ns, name)
		if moved, ok := movedRepo(err); ok {
			// Python follows relative redirects on HEAD by hand; keep it relative.
			redirect(w, r, "/"+t.URLPrefix()+escapeRepoID(moved)+suffixAfter(r.URL.EscapedPath(), strings.Count(t.URLPrefix(), "/")+2))
			return
		}
		if err != nil && s.serveFallback(w, r, RepoRequest{Type: t, Namespace: ns, Name: name, Action: rest[0], Rest: rest[1:]}, err) {
			return
		}
		if err == nil {
			err = auth.CanDownload(actorOf(r), repo, s.repoURL(repo))
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.handleResolve(w, r, repo, rest[1:], rest[0] == "raw")
	case !isGit && (name == "resolve" || name == "raw") && len(rest) >= 2 && (r.Method == "GET" || r.Method == "HEAD"):
		// {id}/resolve/{rev}/{path} with an id without a namespace (see
		// missingLegacyRepo) unless a repository is really named "resolve"
		// or "raw", whose pages are the web's.
		_, err := s.findRepo(r.Context(), t, ns, name)
		if haven.IsCode(err, haven.ERepoNotFound) {
			if s.serveLegacyFallback(w, r, t, ns, name, rest) {
				return
			}
			s.writeError(w, r, err)
			return
		}
		s.notFound(w, r)
	default:
		s.notFound(w, r)
	}
}

// withRepo finds a repository (following renames) and checks read access
// before calling fn. Git clients get a credentials challenge instead of a
// bare 401 so that they prompt or use their credential helper.
func (s *Server) withRepo(w http.ResponseWriter, r *http.Request, t haven.RepoType, ns, name string, fn func(*haven.Repo)) {
	repo, err := s.findRepo(r.Context(), t, ns, name)
	if moved, ok := movedRepo(err); ok {
		repo, err = moved, nil
	}
	if err == nil {
		err = auth.Can(actorOf(r), auth.Read, repo)
	}
	if err != nil {
		if actorOf(r).Anonymous() {
			askForCredentials(w)
		}
		s.writeError(w, r, err)
		return
	}
	fn(repo)
}

func askForCredentials(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Haven", charset="UTF-8"`)
}

func isGitRequest(segs []string) bool {
	for _, s := range segs {
		if strings.HasSuffix(s, ".git") || s == "git-upload-pack" || s == "git-receive-pack" || s == "info" {
			return true
		}
	}
	return false
}

// splitRevision takes the revision off the front of segs: one segment, or
// three for "refs/pr/N" and "refs/convert/NAME" sent unescaped. When exists
// is given, longer prefixes that name an existing ref win (branch names with
// "/" sent unescaped by the JS client).
func splitRevision(segs []string, exists func(string) bool) (rev string, rest []string) {
	if len(segs) == 0 {
		return "", nil
	}
	if len(segs) >= 3 && segs[0] == "refs" && (segs[1] == "pr" || segs[1] == "convert" || segs[1] == "heads" || segs[1] == "tags") {
		return strings.Join(segs[:3], "/"), segs[3:]
	}
	if exists != nil && len(segs) > 1 && !exists(segs[0]) {
		for n := len(segs) - 1; n >= 2; n-- {
			cand := strings.Join(segs[:n], "/")
			if exists(cand) {
				return cand, segs[n:]
			}
		}
	}
	return segs[0], segs[1:]
}

// openRev opens the repository's git store and resolves rev to a commit.
func (s *Server) openRev(ctx context.Context, repo *haven.Repo, rev string) (*gitstore.Repo, string, error) {
	g, err := s.git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, "", err
	}
	sha, err := s.resolveRev(repo, g, rev)
	if err != nil {
		return nil, "", err
	}
	return g, sha, nil
}

// resolves tells whether rev names a revision of the repository.
func (s *Server) resolves(repo *haven.Repo, g *gitstore.Repo) func(string) bool {
	return func(rev string) bool { _, err := s.resolveRev(repo, g, rev); return err == nil }
}

// handleResolve serves a file at a revision: the real content (LFS objects
// from the blob store) for resolve, the git blob for raw.
func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string, raw bool) {
	g, err := s.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev, rest := splitRevision(segs, s.resolves(repo, g))
	sha, err := s.resolveRev(repo, g, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("X-Repo-Commit", sha)
	p := strings.Join(rest, "/")
	entry, err := g.Stat(sha, p)
	if err == nil && entry.Type != "file" {
		err = haven.Errorf(haven.EEntryNotFound, "Entry not found")
	}
	if p == "" {
		err = haven.Errorf(haven.EEntryNotFound, "Entry not found")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Disposition", contentDisposition(path.Base(p)))
	h.Set("Cache-Control", "private, max-age=0, must-revalidate")
	if ct := mime.TypeByExtension(path.Ext(p)); ct != "" && !strings.HasPrefix(ct, "text/html") {
		h.Set("Content-Type", ct)
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	if r.URL.Query().Has("download") {
		h.Set("Content-Disposition", strings.Replace(contentDisposition(path.Base(p)), "inline", "attachment", 1))
	}

	ptr, isLFS := g.Pointer(entry)
	if isLFS && !raw {
		s.serveLFSContent(w, r, repo, p, ptr, entry)
		return
	}
	rc, size, err := g.Blob(entry.OID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	h.Set("ETag", `"`+entry.OID+`"`)
	if isLFS {
		// raw of an LFS file is the pointer; say where the content is.
		h.Set("X-Linked-Etag", `"`+ptr.OID+`"`)
		h.Set("X-Linked-Size", fmt.Sprint(ptr.Size))
	}
	s.countDownload(r, repo, p)
	if size > maxBufferedBlob {
		// Very large plain git blobs (pushed without LFS) stream without Range.
		h.Set("Content-Length", fmt.Sprint(size))
		if r.Method != http.MethodHead {
			io.Copy(w, rc)
		}
		return
	}
	data, err := io.ReadAll(rc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.ServeContent(w, r, bytes.NewReader(data), int64(len(data)))
}

// maxBufferedBlob bounds the git blobs read into memory to serve ranges.
const maxBufferedBlob = 64 << 20

func (s *Server) serveLFSContent(w http.ResponseWriter, r *http.Request, repo *haven.Repo, p string, ptr lfs.Pointer, entry gitstore.Entry) {
	h := w.Header()
	h.Set("ETag", `"`+ptr.OID+`"`)
	h.Set("X-Linked-Etag", `"`+ptr.OID+`"`)
	h.Set("X-Linked-Size", fmt.Sprint(ptr.Size))
	s.setXetHeaders(w, r, repo, h.Get("X-Repo-Commit"), ptr.OID)
	if u := s.redirectURL(r, ptr.OID); u != "" {
		s.countDownload(r, repo, p)
		h.Set("Location", u)
		w.WriteHeader(http.StatusFound)
		return
	}
	f, size, err := s.openObject(r.Context(), ptr.OID)
	if err != nil {
		if errorsIsNotFound(err) {
			err = haven.Errorf(haven.EEntryNotFound, "The content of %s (LFS object %s) is not stored on this server", p, ptr.OID)
		}
		s.writeError(w, r, err)
		return
	}
	defer f.Close()
	s.countDownload(r, repo, p)
	hubhttp.ServeContent(w, r, f, size)
}

func contentDisposition(name string) string {
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`inline; filename*=UTF-8''%s; filename="%s";`, url.PathEscape(name), ascii)
}

// redirectTTL is how long a redirected download's URL works; a download
// that starts in time finishes however long it takes.
const redirectTTL = time.Hour

// redirectURL returns where a GET of LFS object oid is redirected, or "" to
// serve it here: with redirects off, for HEAD (clients read the metadata
// from the answer itself), and for objects stored through Xet only.
func (s *Server) redirectURL(r *http.Request, oid string) string {
	if s.redirect == nil || r.Method != http.MethodGet {
		return ""
	}
	key := blob.LFSKey(oid)
	if _, err := s.blobs.Stat(r.Context(), key); err != nil {
		return ""
	}
	u, err := s.redirect.RedirectURL(r.Context(), key, redirectTTL, "")
	if err != nil {
		s.log.WarnContext(r.Context(), "making a download URL; serving the file instead", "oid", oid, "err", err)
		return ""
	}
	return u
}
