package buckets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet"
)

// RepoAction serves nothing under repositories.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/buckets and everything under it.
func (s *Service) API(first string) http.Handler {
	if first != "buckets" {
		return nil
	}
	return http.HandlerFunc(s.serveAPI)
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// serveAPI routes /api/buckets/{ns}[/{name}[/{action}[/…]]].
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) == 0 {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	a := hubhttp.Actor(r)
	ns := segs[0]
	if ns == "me" {
		// The client's name for the caller's own namespace.
		if a.Anonymous() {
			s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be authenticated to do this. Please log in or pass a token."))
			return
		}
		ns = a.Name()
	}
	m := r.Method
	get := m == http.MethodGet || m == http.MethodHead
	if len(segs) == 1 {
		if !get {
			s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
			return
		}
		s.handleList(w, r, ns)
		return
	}
	id := ns + "/" + segs[1]
	action, rest := "", segs[2:]
	if len(rest) > 0 {
		action, rest = rest[0], rest[1:]
	}
	switch {
	case action == "" && m == http.MethodPost:
		s.handleCreate(w, r, ns, segs[1])
	case action == "" && get:
		s.handleInfo(w, r, id)
	case action == "" && m == http.MethodDelete:
		s.handleDelete(w, r, id)
	case action == "settings" && m == http.MethodPut:
		s.handleSettings(w, r, id)
	case action == "tree" && get:
		s.handleTree(w, r, id, strings.Join(rest, "/"))
	case action == "paths-info" && m == http.MethodPost:
		s.handlePathsInfo(w, r, id)
	case action == "batch" && m == http.MethodPost:
		s.handleBatch(w, r, id)
	case (action == "xet-read-token" || action == "xet-write-token") && get:
		// A trailing revision, which buckets do not have, is ignored.
		s.handleXetToken(w, r, id, action == "xet-write-token")
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

// timeJSON writes times as the Hub does, which the Python client parses.
func timeJSON(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (s *Service) bucketURL(b *haven.Bucket) string {
	return s.base + "/buckets/" + url.PathEscape(b.Namespace) + "/" + url.PathEscape(b.Name)
}

func bucketJSON(b *haven.Bucket) map[string]any {
	return map[string]any{
		"id":         b.FullName(),
		"name":       b.Name,
		"author":     b.Namespace,
		"private":    b.Private,
		"createdAt":  timeJSON(b.CreatedAt),
		"updatedAt":  timeJSON(b.UpdatedAt),
		"size":       b.Size,
		"totalFiles": b.Files,
	}
}

func fileJSON(f *haven.BucketFile) map[string]any {
	return map[string]any{
		"type":       "file",
		"path":       f.Path,
		"size":       f.Size,
		"xetHash":    f.XetHash,
		"mtime":      timeJSON(f.MTime),
		"uploadedAt": timeJSON(f.UploadedAt),
	}
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, ns string) {
	bs, err := s.List(r.Context(), hubhttp.Actor(r), ns, r.URL.Query().Get("search"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(bs))
	for _, b := range bs {
		out = append(out, bucketJSON(b))
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, ns, name string) {
	var body struct {
		Visibility string `json:"visibility"`
		Private    *bool  `json:"private"`
	}
	if r.ContentLength != 0 {
		if err := hubhttp.DecodeJSON(r, &body); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	private := body.Private
	switch body.Visibility {
	case "":
	case "private", "public":
		p := body.Visibility == "private"
		private = &p
	default:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid visibility %q: expected public or private", body.Visibility))
		return
	}
	b, err := s.Create(r.Context(), hubhttp.Actor(r), ns, name, private)
	if haven.IsCode(err, haven.EConflict) {
		// The client's exist_ok reads the URL from the body of the 409.
		msg := haven.ErrorMessage(err)
		w.Header().Set("X-Error-Message", msg)
		hubhttp.WriteJSON(w, http.StatusConflict, map[string]any{"error": msg, "url": s.bucketURL(&haven.Bucket{Namespace: ns, Name: name})})
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"url": s.bucketURL(b), "id": b.FullName(), "name": b.Name})
}

func (s *Service) handleInfo(w http.ResponseWriter, r *http.Request, id string) {
	b, err := s.Info(r.Context(), hubhttp.Actor(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, bucketJSON(b))
}

func (s *Service) handleDelete(w http.ResponseWriter, r *http.Request, id string) {
	if err := s.Delete(r.Context(), hubhttp.Actor(r), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
}

func (s *Service) handleSettings(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Private    *bool  `json:"private"`
		Visibility string `json:"visibility"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.Visibility == "private" || body.Visibility == "public" {
		p := body.Visibility == "private"
		body.Private = &p
	}
	if body.Private == nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Nothing to change: expected private"))
		return
	}
	if err := s.SetPrivate(r.Context(), hubhttp.Actor(r), id, *body.Private); err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
}

// treePage is how many entries one page of a recursive tree listing holds;
// the next page is linked with a cursor.
const treePage = 1000

func flag(v string) bool {
	b, _ := strconv.ParseBool(strings.ToLower(v))
	return b
}

// handleTree lists the files whose path starts with prefix (recursive), or
// the files and folders right inside the folder prefix, and a file whose
// path is prefix.
func (s *Service) handleTree(w http.ResponseWriter, r *http.Request, id, prefix string) {
	ctx := r.Context()
	b, err := s.find(ctx, hubhttp.Actor(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	if flag(q.Get("recursive")) {
		after := ""
		if c, err := base64.RawURLEncoding.DecodeString(q.Get("cursor")); err == nil {
			after = string(c)
		}
		fs, err := s.meta.BucketFiles(ctx, b.ID, prefix, after, treePage)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out := make([]map[string]any, 0, len(fs))
		for _, f := range fs {
			out = append(out, fileJSON(f))
		}
		if len(fs) == treePage {
			q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(fs[len(fs)-1].Path)))
			w.Header().Set("Link", "<"+s.base+r.URL.EscapedPath()+"?"+q.Encode()+`>; rel="next"`)
		}
		hubhttp.WriteJSON(w, http.StatusOK, out)
		return
	}
	entries, err := s.listFolder(ctx, b.ID, prefix)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hubhttp.WriteJSON(w, http.StatusOK, entries)
}

// listFolder lists what lies right inside the folder dir (and the file
// named dir, if any): files, then folders with the newest upload below.
func (s *Service) listFolder(ctx context.Context, bucketID int64, dir string) ([]map[string]any, error) {
	base := dir
	if base != "" && !strings.HasSuffix(base, "/") {
		base += "/"
	}
	fs, err := s.meta.BucketFiles(ctx, bucketID, dir, "", 0)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	folders := map[string]map[string]any{}
	for _, f := range fs {
		if f.Path == dir {
			out = append(out, fileJSON(f))
			continue
		}
		rest, ok := strings.CutPrefix(f.Path, base)
		if !ok {
			continue // "ab/c" under the string prefix "a"
		}
		sub, _, isDir := strings.Cut(rest, "/")
		if !isDir {
			out = append(out, fileJSON(f))
			continue
		}
		up := timeJSON(f.UploadedAt)
		if d, ok := folders[sub]; ok {
			if up > d["uploadedAt"].(string) {
				d["uploadedAt"] = up
			}
			continue
		}
		d := map[string]any{"type": "directory", "path": base + sub, "uploadedAt": up}
		folders[sub] = d
		out = append(out, d)
	}
	return out, nil
}

// maxPathsInfo bounds the paths of one paths-info request (the client sends
// 1000 at most).
const maxPathsInfo = 10000

func (s *Service) handlePathsInfo(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	b, err := s.find(ctx, hubhttp.Actor(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body struct {
		Paths []string `json:"paths"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(body.Paths) > maxPathsInfo {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Too many paths: at most %d per request", maxPathsInfo))
		return
	}
	fs, err := s.meta.BucketFilesAt(ctx, b.ID, body.Paths)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(fs))
	for _, f := range fs {
		out = append(out, fileJSON(f))
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// batchOp is one line of a batch: addFile, copyFile or deleteFile.
type batchOp struct {
	Type           string `json:"type"`
	Path           string `json:"path"`
	XetHash        string `json:"xetHash"`
	MTime          *int64 `json:"mtime"` // milliseconds since the epoch
	SourceRepoType string `json:"sourceRepoType"`
	SourceRepoID   string `json:"sourceRepoId"`
}

// Limits of one batch request.
const (
	maxBatchBody = 64 << 20
	maxBatchOps  = 100000
)

// BatchFailure is an operation of a batch that was not applied.
type BatchFailure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

func (s *Service) handleBatch(w http.ResponseWriter, r *http.Request, id string) {
	var ops []batchOp
	sc := bufio.NewScanner(http.MaxBytesReader(w, r.Body, maxBatchBody))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var op batchOp
		if err := json.Unmarshal(line, &op); err != nil {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid batch line %d: %v", len(ops)+1, err))
			return
		}
		if ops = append(ops, op); len(ops) > maxBatchOps {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Too many operations: at most %d per batch", maxBatchOps))
			return
		}
	}
	if err := sc.Err(); err != nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid batch body: %v", err))
		return
	}
	failed, err := s.batch(r.Context(), hubhttp.Actor(r), id, ops)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if len(failed) > 0 && len(failed) == len(ops) {
		status = http.StatusUnprocessableEntity
	}
	hubhttp.WriteJSON(w, status, map[string]any{"success": len(failed) == 0, "processed": len(ops) - len(failed), "failed": failed})
}

// batch applies the operations of one batch request in their order: each
// is checked on its own (failures are returned, the others applied), and
// what passes is written in one transaction.
func (s *Service) batch(ctx context.Context, a *auth.Actor, id string, ops []batchOp) ([]BatchFailure, error) {
	b, err := s.find(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := auth.CanWriteBucket(a, b); err != nil {
		return nil, err
	}
	failed := []BatchFailure{}
	final := map[string]*haven.BucketFile{} // path → file, nil: deleted
	var order []string
	set := func(p string, f *haven.BucketFile) {
		if _, ok := final[p]; !ok {
			order = append(order, p)
		}
		final[p] = f
	}
	now := time.Now()
	for _, op := range ops {
		f, err := s.check(ctx, a, b, op, now)
		if err != nil {
			failed = append(failed, BatchFailure{Path: op.Path, Error: haven.ErrorMessage(err)})
			if haven.ErrorCode(err) == haven.EInternal {
				s.log.Error("bucket batch", "bucket", b.FullName(), "path", op.Path, "err", err)
			}
			continue
		}
		set(op.Path, f)
	}
	var ch meta.BucketChange
	for _, p := range order {
		if f := final[p]; f != nil {
			ch.Put = append(ch.Put, f)
		} else {
			ch.Delete = append(ch.Delete, p)
		}
	}
	if len(order) > 0 {
		if err := s.meta.ChangeBucketFiles(ctx, b.ID, ch); err != nil {
			return nil, err
		}
	}
	return failed, nil
}

// check validates one operation and returns the file it writes (nil for a
// deletion).
func (s *Service) check(ctx context.Context, a *auth.Actor, b *haven.Bucket, op batchOp, now time.Time) (*haven.BucketFile, error) {
	if !haven.ValidBucketPath(op.Path) {
		return nil, haven.Errorf(haven.EInvalid, "Invalid path %q", op.Path)
	}
	mtime := now
	if op.MTime != nil {
		mtime = time.UnixMilli(*op.MTime)
	}
	switch op.Type {
	case "deleteFile":
		return nil, nil
	case "copyFile":
		if err := s.checkSource(ctx, a, op); err != nil {
			return nil, err
		}
	case "addFile":
	default:
		return nil, haven.Errorf(haven.EInvalid, "Unknown operation %q", op.Type)
	}
	size, err := s.stat(ctx, op.XetHash)
	if err != nil {
		return nil, err
	}
	return &haven.BucketFile{Path: op.Path, XetHash: strings.ToLower(op.XetHash), Size: size, MTime: mtime, UploadedAt: now}, nil
}

// checkSource checks that the actor may read the source of a copy. A
// bucket must hold the hash; a repository is only checked for read access,
// the hash being the capability as everywhere in the CAS.
func (s *Service) checkSource(ctx context.Context, a *auth.Actor, op batchOp) error {
	if op.SourceRepoType == "bucket" {
		src, err := s.find(ctx, a, op.SourceRepoID)
		if err != nil {
			return err
		}
		ok, err := s.meta.BucketHasHash(ctx, src.ID, strings.ToLower(op.XetHash))
		if err != nil {
			return err
		}
		if !ok {
			return haven.Errorf(haven.EInvalid, "Bucket %s has no file with Xet hash %s", src.FullName(), op.XetHash)
		}
		return nil
	}
	t, err := haven.ParseRepoType(op.SourceRepoType)
	if err != nil {
		return haven.Errorf(haven.EInvalid, "Invalid source type %q", op.SourceRepoType)
	}
	ns, name, err := splitID(op.SourceRepoID)
	if err != nil {
		return err
	}
	repo, err := s.meta.RepoByName(ctx, t, ns, name)
	if err != nil {
		return err
	}
	return auth.CanDownload(a, repo, s.base+"/"+t.URLPrefix()+repo.FullName())
}

func (s *Service) handleXetToken(w http.ResponseWriter, r *http.Request, id string, write bool) {
	if s.xetOff {
		// A token for a CAS nobody serves would only fail later, on the
		// first xorb, as bad credentials.
		s.writeError(w, r, haven.Errorf(haven.EUnsupported,
			"Bucket files are uploaded and read through Xet, which this server does not serve (it runs with --xet=false)"))
		return
	}
	tok, exp, err := s.XetToken(r.Context(), hubhttp.Actor(r), id, write)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("X-Xet-Cas-Url", s.base)
	h.Set("X-Xet-Access-Token", tok)
	h.Set("X-Xet-Token-Expiration", strconv.FormatInt(exp.Unix(), 10))
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"casUrl": s.base, "accessToken": tok, "exp": exp.Unix()})
}

// Files serves the downloads of bucket files,
// /buckets/{ns}/{name}/resolve/{path}, and hands every other request to
// next. It sits in front of the web pages (api.Config.Web), which get the
// paths the API does not claim with the caller already identified.
func (s *Service) Files(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs, err := hubhttp.Segments(r, 0)
		if err != nil || len(segs) < 5 || segs[0] != "buckets" || segs[3] != "resolve" ||
			(r.Method != http.MethodGet && r.Method != http.MethodHead) {
			if next == nil {
				s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		s.serveFile(w, r, segs[1]+"/"+segs[2], strings.Join(segs[4:], "/"))
	})
}

// serveFile answers a download with the Xet hints (X-Xet-Hash and the read
// token endpoint as rel="xet-auth") and the bytes, ranges included.
func (s *Service) serveFile(w http.ResponseWriter, r *http.Request, id, path string) {
	ctx := r.Context()
	b, err := s.find(ctx, hubhttp.Actor(r), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fs, err := s.meta.BucketFilesAt(ctx, b.ID, []string{path})
	if err == nil && len(fs) == 0 {
		err = haven.Errorf(haven.EEntryNotFound, "File %s not found in bucket %s", path, b.FullName())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := fs[0]
	h := w.Header()
	h.Set("X-Xet-Hash", f.XetHash)
	h.Set("X-Linked-Size", strconv.FormatInt(f.Size, 10))
	h.Set("ETag", `"`+f.XetHash+`"`)
	h.Add("Link", "<"+s.base+"/api/buckets/"+url.PathEscape(b.Namespace)+"/"+url.PathEscape(b.Name)+`/xet-read-token>; rel="xet-auth"`)
	rc, err := s.open(ctx, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	http.ServeContent(w, r, "", f.MTime, rc)
}

// open returns the content of a bucket file.
func (s *Service) open(ctx context.Context, f *haven.BucketFile) (io.ReadSeekCloser, error) {
	h, err := xet.ParseHash(f.XetHash)
	if err != nil {
		return nil, err
	}
	if h == emptyFile && f.Size == 0 {
		return nopCloser{bytes.NewReader(nil)}, nil
	}
	rc, _, err := s.cas.Open(ctx, h)
	return rc, err
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
