package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/xet/casapi"
)

// The repository side of the Xet protocol: the token endpoints of the Hub
// API, and the helpers through which resolve, the LFS batch API and commits
// see files stored as xorbs. The CAS service itself is xet/casapi, served on
// the same port.

// newXetToken returns a CAS token for repo: a write token if write.
func (s *Server) newXetToken(repo *haven.Repo, write bool) (tok string, exp int64) {
	exp = time.Now().Add(casapi.TokenTTL).Unix()
	return casapi.Token(s.secret, casapi.Claims{Repo: repo.ID, Write: write, Exp: exp}), exp
}

// handleXetToken answers GET /api/{types}/{id}/xet-{read|write}-token/{rev}
// with {casUrl, accessToken, exp}, also as the X-Xet-* headers that the
// Python client reads. A write token needs write access, or read access
// with ?create_pr=1 (the Python client then sends "None" as revision).
func (s *Server) handleXetToken(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string, write bool) {
	rev := strings.Join(segs, "/")
	createPR := flag(r.URL.Query().Get("create_pr"))
	if write {
		if err := s.canCommit(r.Context(), actorOf(r), repo, rev, createPR); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else if err := auth.CanDownload(actorOf(r), repo, s.repoURL(repo)); err != nil {
		s.writeError(w, r, err)
		return
	}
	if rev != "" && rev != "None" && !createPR {
		if _, _, err := s.openRev(r.Context(), repo, rev); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	tok, exp := s.newXetToken(repo, write)
	cas := s.publicURL("")
	h := w.Header()
	h.Set("X-Xet-Cas-Url", cas)
	h.Set("X-Xet-Access-Token", tok)
	h.Set("X-Xet-Token-Expiration", strconv.FormatInt(exp, 10))
	writeJSON(w, http.StatusOK, map[string]any{"casUrl": cas, "accessToken": tok, "exp": exp})
}

// OpenObject returns the bytes of an LFS object by its SHA-256, stored
// either as a plain LFS object or through Xet.
func (s *Server) OpenObject(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
	return s.openObject(ctx, oid)
}

func (s *Server) openObject(ctx context.Context, oid string) (io.ReadSeekCloser, int64, error) {
	f, info, err := s.blobs.Open(ctx, blob.LFSKey(oid))
	if err == nil {
		return f, info.Size, nil
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return nil, 0, err
	}
	return s.cas.OpenSHA256(ctx, oid)
}

// statObject returns the size of an LFS object stored either way, or an
// error wrapping blob.ErrNotFound.
func (s *Server) statObject(ctx context.Context, oid string) (int64, error) {
	info, err := s.blobs.Stat(ctx, blob.LFSKey(oid))
	if err == nil {
		return info.Size, nil
	}
	if !errors.Is(err, blob.ErrNotFound) {
		return 0, err
	}
	f, err := s.cas.FileBySHA256(ctx, oid)
	if err != nil {
		return 0, err
	}
	return f.Size, nil
}

// xetHashOf returns the Xet file hash of an LFS object stored through Xet,
// or "" (also when Xet is off: then no Xet signal may leave the server).
// Objects stored as plain LFS objects are served as such and not advertised
// to Xet clients.
func (s *Server) xetHashOf(ctx context.Context, oid string) string {
	if !s.xetOn {
		return ""
	}
	if s.xetMisses.recent(oid) {
		return ""
	}
	f, err := s.cas.FileBySHA256(ctx, oid)
	if err != nil {
		s.xetMisses.add(oid)
		return ""
	}
	return f.Hash.String()
}

// convertToXet queues the conversion of an LFS object just stored, when Xet
// is on. The upload has succeeded whatever happens here: a failure to queue
// only leaves the object to plain LFS downloads.
func (s *Server) convertToXet(ctx context.Context, oid string, size int64) {
	if !s.xetOn || s.convert == nil || size == 0 {
		return
	}
	if err := s.convert.Enqueue(context.WithoutCancel(ctx), oid, size); err != nil {
		s.log.Warn("xet: queueing the conversion of an LFS object", "oid", oid, "err", err)
	}
}

// setXetHeaders advertises a Xet-stored file on a resolve answer: its file
// hash and where to get a read token for the commit.
func (s *Server) setXetHeaders(w http.ResponseWriter, r *http.Request, repo *haven.Repo, commit, oid string) {
	xh := s.xetHashOf(r.Context(), oid)
	if xh == "" {
		return
	}
	tokenURL := s.publicURL("/api/" + repo.Type.Plural() + "/" + escapeRepoID(repo) + "/xet-read-token/" + commit)
	w.Header().Set("X-Xet-Hash", xh)
	w.Header().Add("Link", "<"+tokenURL+`>; rel="xet-auth"`)
}

// missCache remembers for a few seconds which oids are not Xet files, so
// that tree listings do not look every plain LFS object up each time.
type missCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const missTTL = 5 * time.Second

func (c *missCache) recent(oid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[oid]
	return ok && time.Since(t) < missTTL
}

func (c *missCache) add(oid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 100_000 {
		c.m = map[string]time.Time{}
	}
	c.m[oid] = time.Now()
}

// xetUploadAction is the upload action of the LFS batch answer when the
// transfer is "xet": the CAS URL and a write token in the header, and the
// token endpoint (to refresh it) as href.
func (s *Server) xetUploadAction(repo *haven.Repo, ref *lfs.Ref) *lfs.Action {
	rev := repo.DefaultBranch()
	if ref != nil && ref.Name != "" {
		rev = ref.Name
	}
	tok, exp := s.newXetToken(repo, true)
	return &lfs.Action{
		Href: s.publicURL("/api/" + repo.Type.Plural() + "/" + escapeRepoID(repo) + "/xet-write-token/" + url.PathEscape(rev)),
		Header: map[string]string{
			"X-Xet-Cas-Url":          s.publicURL(""),
			"X-Xet-Access-Token":     tok,
			"X-Xet-Token-Expiration": strconv.FormatInt(exp, 10),
		},
		ExpiresIn: int(casapi.TokenTTL.Seconds()),
	}
}
