package api

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/internal/uploadmem"
	"github.com/havenhub/haven/lfs"
)

const lfsMediaType = "application/vnd.git-lfs+json"

// signedURLTTL is how long upload and download links stay valid. A transfer
// only has to start before then.
const signedURLTTL = 24 * time.Hour

// MultipartThreshold is the object size from which uploads are offered in
// parts, and MultipartChunk the part size. Smaller objects go in one PUT,
// which streams straight into the blob store.
var (
	MultipartThreshold int64 = 5 << 30
	MultipartChunk     int64 = 512 << 20
)

// handleLFS serves the Git LFS API of a repository: objects/batch and verify.
func (s *Server) handleLFS(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	switch {
	case len(rest) == 2 && rest[0] == "objects" && rest[1] == "batch" && r.Method == http.MethodPost:
		s.handleBatch(w, r, repo)
	case len(rest) == 1 && rest[0] == "verify" && r.Method == http.MethodPost:
		s.handleVerify(w, r)
	default:
		s.writeError(w, r, errNotFound("Not Found: this server does not implement %s", strings.Join(rest, "/")))
	}
}

func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	var req lfs.BatchRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	actor := actorOf(r)
	switch req.Operation {
	case "upload":
		// Objects are content-addressed and only become part of a repository
		// through a commit, which checks write access (or opens a pull
		// request), so any signed-in reader may upload.
		if actor.Anonymous() {
			askForCredentials(w)
			s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be authenticated to upload"))
			return
		}
	case "download":
		if err := auth.CanDownload(actor, repo, s.repoURL(repo)); err != nil {
			if actor.Anonymous() {
				askForCredentials(w)
			}
			s.writeError(w, r, err)
			return
		}
	default:
		s.writeError(w, r, errInvalid("Invalid operation %q: expected upload or download", req.Operation))
		return
	}
	if len(req.Objects) > 1000 {
		s.writeError(w, r, haven.Errorf(haven.ETooLarge, "Too many objects: at most 1000 per batch"))
		return
	}
	multipartOK, xetOK := false, false
	for _, t := range req.Transfers {
		multipartOK = multipartOK || t == "multipart"
		xetOK = xetOK || (t == "xet" && s.xetOn)
	}
	resp := lfs.BatchResponse{Transfer: "basic", HashAlgo: "sha256", Objects: make([]lfs.ObjectResult, 0, len(req.Objects))}
	if xetOK && req.Operation == "upload" {
		resp.Transfer = "xet"
	}
	exp := time.Now().Add(signedURLTTL).Unix()
	for _, o := range req.Objects {
		res := lfs.ObjectResult{OID: o.OID, Size: o.Size}
		if !lfs.ValidOID(o.OID) || o.Size < 0 {
			res.Error = &lfs.ObjectError{Code: 422, Message: "Invalid object: oid must be 64 hex characters and size non-negative"}
			resp.Objects = append(resp.Objects, res)
			continue
		}
		size, err := s.statObject(r.Context(), o.OID)
		stored := err == nil && size == o.Size
		if err != nil && !errorsIsNotFound(err) {
			s.writeError(w, r, err)
			return
		}
		switch req.Operation {
		case "upload":
			if stored {
				break
			}
			if err == nil && size != o.Size {
				res.Error = &lfs.ObjectError{Code: 422, Message: fmt.Sprintf("Object %s is stored with size %d, not %d", o.OID, size, o.Size)}
				break
			}
			res.Authenticated = true
			if resp.Transfer == "xet" {
				res.Actions = map[string]*lfs.Action{"upload": s.xetUploadAction(repo, req.Ref)}
				break
			}
			upload := &lfs.Action{Href: s.signedObjectURL("upload", o.OID, o.Size, exp, ""), ExpiresIn: int(signedURLTTL.Seconds())}
			if multipartOK && o.Size >= MultipartThreshold {
				upload = s.multipartAction(o.OID, o.Size, exp)
			}
			res.Actions = map[string]*lfs.Action{
				"upload": upload,
				// Signed like the upload URL: git-lfs sends no credentials to
				// action URLs of an "authenticated" object.
				"verify": {Href: s.signedObjectURL("verify", o.OID, o.Size, exp, "")},
			}
		case "download":
			if !stored {
				res.Error = &lfs.ObjectError{Code: 404, Message: "Object does not exist on the server"}
				break
			}
			res.Authenticated = true
			res.Actions = map[string]*lfs.Action{
				"download": {Href: s.signedObjectURL("download", o.OID, o.Size, exp, ""), ExpiresIn: int(signedURLTTL.Seconds())},
			}
		}
		resp.Objects = append(resp.Objects, res)
	}
	w.Header().Set("Content-Type", lfsMediaType)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(resp)
}

// multipartAction offers an upload in parts: one signed PUT URL per part,
// named by part number in the header, and the completion URL as href.
func (s *Server) multipartAction(oid string, size, exp int64) *lfs.Action {
	uploadID := newRequestID()
	parts := (size + MultipartChunk - 1) / MultipartChunk
	header := map[string]string{"chunk_size": strconv.FormatInt(MultipartChunk, 10)}
	for n := int64(1); n <= parts; n++ {
		header[strconv.FormatInt(n, 10)] = s.signedObjectURL("part", oid, size, exp, uploadID+"."+strconv.FormatInt(n, 10))
	}
	return &lfs.Action{
		Href:      s.signedObjectURL("complete", oid, size, exp, uploadID),
		Header:    header,
		ExpiresIn: int(signedURLTTL.Seconds()),
	}
}

// signedObjectURL builds a self-authorising URL for one object operation.
// LFS clients call these URLs without credentials.
func (s *Server) signedObjectURL(op, oid string, size, exp int64, extra string) string {
	q := url.Values{}
	q.Set("op", op)
	q.Set("size", strconv.FormatInt(size, 10))
	q.Set("exp", strconv.FormatInt(exp, 10))
	if extra != "" {
		q.Set("x", extra)
	}
	q.Set("sig", s.sign(op, oid, size, exp, extra))
	return s.publicURL("/lfs/objects/" + oid + "?" + q.Encode())
}

func (s *Server) sign(op, oid string, size, exp int64, extra string) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%d\n%d\n%s", op, oid, size, exp, extra)
	return hex.EncodeToString(m.Sum(nil))
}

// serveLFSObject handles the signed object URLs: PUT uploads, part uploads,
// completion of multipart uploads, and GET downloads.
func (s *Server) serveLFSObject(w http.ResponseWriter, r *http.Request, segs []string) {
	q := r.URL.Query()
	if len(segs) != 1 || !lfs.ValidOID(segs[0]) {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	oid, op, extra := segs[0], q.Get("op"), q.Get("x")
	size, err1 := strconv.ParseInt(q.Get("size"), 10, 64)
	exp, err2 := strconv.ParseInt(q.Get("exp"), 10, 64)
	want := s.sign(op, oid, size, exp, extra)
	if err1 != nil || err2 != nil || !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		s.writeError(w, r, haven.Errorf(haven.EForbidden, "Invalid or tampered signature on this URL"))
		return
	}
	if time.Now().Unix() > exp {
		s.writeError(w, r, haven.Errorf(haven.EForbidden, "This URL has expired; ask the batch API for a new one"))
		return
	}
	ctx := r.Context()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		defer uploadmem.Track()()
	}
	switch {
	case op == "upload" && r.Method == http.MethodPut:
		if r.ContentLength >= 0 && r.ContentLength != size {
			s.writeError(w, r, errInvalid("Content-Length %d does not match the object size %d", r.ContentLength, size))
			return
		}
		if err := blob.PutVerified(ctx, s.blobs, blob.LFSKey(oid), r.Body, oid, size); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.convertToXet(ctx, oid, size)
		w.WriteHeader(http.StatusOK)
	case op == "part" && r.Method == http.MethodPut:
		s.putPart(w, r, extra, size)
	case op == "complete" && r.Method == http.MethodPost:
		s.completeMultipart(w, r, oid, size, extra)
	case op == "verify" && r.Method == http.MethodPost:
		s.verifyObject(w, r, oid, size)
	case op == "download" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		f, size, err := s.openObject(ctx, oid)
		if err != nil {
			if errorsIsNotFound(err) {
				err = errNotFound("Object not found")
			}
			s.writeError(w, r, err)
			return
		}
		defer f.Close()
		w.Header().Set("ETag", `"`+oid+`"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		hubhttp.ServeContent(w, r, f, size)
	default:
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Method %s not allowed for this URL", r.Method))
	}
}

// putPart stores one part of a multipart upload under uploads/.
func (s *Server) putPart(w http.ResponseWriter, r *http.Request, extra string, size int64) {
	uploadID, num, ok := strings.Cut(extra, ".")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || int64(n-1)*MultipartChunk >= size {
		s.writeError(w, r, errInvalid("Invalid part"))
		return
	}
	want := min(MultipartChunk, size-int64(n-1)*MultipartChunk)
	h := md5.New()
	body := io.TeeReader(http.MaxBytesReader(w, r.Body, want), h)
	key := fmt.Sprintf("uploads/%s/%05d", uploadID, n)
	if err := s.blobs.Put(r.Context(), key, &exactReader{r: body, n: want}, want); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
	w.WriteHeader(http.StatusOK)
}

// exactReader fails unless exactly n bytes arrive, so that a short part is
// never stored.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	k, err := e.r.Read(p)
	e.n -= int64(k)
	if e.n < 0 {
		return k, errInvalid("part is larger than announced")
	}
	if err == io.EOF && e.n != 0 {
		return k, errInvalid("part is %d bytes short", e.n)
	}
	return k, err
}

// completeMultipart joins the parts in order into the object, verifying its
// hash as it streams, then removes the parts.
func (s *Server) completeMultipart(w http.ResponseWriter, r *http.Request, oid string, size int64, uploadID string) {
	var req struct {
		OID   string `json:"oid"`
		Parts []struct {
			PartNumber int    `json:"partNumber"`
			ETag       string `json:"etag"`
		} `json:"parts"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	parts := int((size + MultipartChunk - 1) / MultipartChunk)
	if req.OID != oid || len(req.Parts) != parts {
		s.writeError(w, r, errInvalid("Completion must name the object and all %d parts", parts))
		return
	}
	sort.Slice(req.Parts, func(i, j int) bool { return req.Parts[i].PartNumber < req.Parts[j].PartNumber })
	ctx := r.Context()
	readers := make([]io.Reader, 0, parts)
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for i, p := range req.Parts {
		if p.PartNumber != i+1 {
			s.writeError(w, r, errInvalid("Missing part %d", i+1))
			return
		}
		f, _, err := s.blobs.Open(ctx, fmt.Sprintf("uploads/%s/%05d", uploadID, p.PartNumber))
		if err != nil {
			if errorsIsNotFound(err) {
				err = errInvalid("Part %d was not uploaded", p.PartNumber)
			}
			s.writeError(w, r, err)
			return
		}
		closers = append(closers, f)
		readers = append(readers, f)
	}
	err := blob.PutVerified(ctx, s.blobs, blob.LFSKey(oid), io.MultiReader(readers...), oid, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.deleteParts(context.WithoutCancel(ctx), uploadID)
	s.convertToXet(ctx, oid, size)
	w.Header().Set("Content-Type", lfsMediaType)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "{}\n")
}

func (s *Server) deleteParts(ctx context.Context, uploadID string) {
	var keys []string
	s.blobs.List(ctx, "uploads/"+uploadID+"/", func(i blob.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	for _, k := range keys {
		s.blobs.Delete(ctx, k)
	}
}

// handleVerify answers the LFS verify call of older links, addressed to
// the repository with the caller's credentials.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	if actorOf(r).Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be authenticated to verify an upload"))
		return
	}
	s.verifyObject(w, r, "", -1)
}

// verifyObject checks that the object named in the body is stored with the
// announced size; oid and size, when given, come from a signed URL and must
// match the body.
func (s *Server) verifyObject(w http.ResponseWriter, r *http.Request, oid string, size int64) {
	var req lfs.ObjectSpec
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !lfs.ValidOID(req.OID) || (oid != "" && (req.OID != oid || req.Size != size)) {
		s.writeError(w, r, errInvalid("Invalid oid or size"))
		return
	}
	info, err := s.blobs.Stat(r.Context(), blob.LFSKey(req.OID))
	if err != nil {
		if errorsIsNotFound(err) {
			err = errNotFound("Object %s was not uploaded", req.OID)
		}
		s.writeError(w, r, err)
		return
	}
	if info.Size != req.Size {
		s.writeError(w, r, errInvalid("Object %s has size %d, not %d", req.OID, info.Size, req.Size))
		return
	}
	w.Header().Set("Content-Type", lfsMediaType)
	io.WriteString(w, "{}\n")
}
