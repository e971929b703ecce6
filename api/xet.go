package api

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/internal/uploadmem"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// The Xet protocol: the token endpoints of the Hub API, the CAS service
// under /v1 on the same port, and the helpers through which resolve, the LFS
// batch API and commits see files stored as xorbs.

// xetTokenTTL is how long a CAS token lasts; clients refresh it through the
// token endpoint shortly before it expires.
const xetTokenTTL = time.Hour

// xetFetchTTL is how long a signed xorb range URL stays valid: long enough
// for one reconstruction to be downloaded.
const xetFetchTTL = time.Hour

// casWords are the second path segments of the CAS routes. Only these are
// taken from the repository namespaces "v1" and "v2".
var casWords = map[string]bool{
	"xorbs": true, "shards": true, "chunks": true, "reconstructions": true, "files": true, "fetch": true,
	"xorb-grants": true, "xorb-uploads": true, "xorb-commits": true,
}

// isCASPath reports whether segs address the CAS service.
func (s *Server) isCASPath(segs []string) bool {
	return s.xetOn && len(segs) >= 2 && (segs[0] == "v1" || segs[0] == "v2") && casWords[segs[1]]
}

// xetClaims is what a CAS token grants: write or read access, for one
// repository or (tokens of the buckets package) one bucket.
type xetClaims struct {
	Repo   int64 `json:"r"`
	Bucket int64 `json:"b,omitempty"`
	Write  bool  `json:"w"`
	Exp    int64 `json:"e"`
}

// signClaims encodes v as base64url JSON followed by "." and its HMAC
// under the server's secret for purpose, which keeps one kind of signed
// value from passing for another.
func (s *Server) signClaims(purpose string, v any) string {
	js, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(js)
	return payload + "." + s.claimsMAC(purpose, payload)
}

// readClaims checks a value made by signClaims for purpose and decodes it
// into v; it reports false for a bad signature or encoding.
func (s *Server) readClaims(purpose, signed string, v any) bool {
	payload, sig, ok := strings.Cut(signed, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.claimsMAC(purpose, payload))) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	return err == nil && json.Unmarshal(raw, v) == nil
}

func (s *Server) claimsMAC(purpose, payload string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(purpose + "\n" + payload))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) newXetToken(c xetClaims) string {
	return "xet_" + s.signClaims("xet-token", c)
}

// xetActor checks the CAS token of a request; write requires a write token.
func (s *Server) xetActor(r *http.Request, write bool) (*xetClaims, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, haven.Errorf(haven.EUnauthorized, "A Xet access token is required: get one from the xet-read-token or xet-write-token endpoint")
	}
	tok, ok = strings.CutPrefix(strings.TrimSpace(tok), "xet_")
	var c xetClaims
	if !ok || !s.readClaims("xet-token", tok, &c) {
		return nil, haven.Errorf(haven.EUnauthorized, "Invalid Xet access token")
	}
	if time.Now().Unix() > c.Exp {
		return nil, haven.Errorf(haven.EUnauthorized, "Xet access token expired; refresh it")
	}
	if write && !c.Write {
		return nil, haven.Errorf(haven.EForbidden, "This Xet token is read-only; request one from xet-write-token")
	}
	return &c, nil
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
	exp := time.Now().Add(xetTokenTTL).Unix()
	tok := s.newXetToken(xetClaims{Repo: repo.ID, Write: write, Exp: exp})
	cas := s.publicURL("")
	h := w.Header()
	h.Set("X-Xet-Cas-Url", cas)
	h.Set("X-Xet-Access-Token", tok)
	h.Set("X-Xet-Token-Expiration", strconv.FormatInt(exp, 10))
	writeJSON(w, http.StatusOK, map[string]any{"casUrl": cas, "accessToken": tok, "exp": exp})
}

// routeCAS serves the CAS API. Its callers authenticate with CAS tokens,
// except for the signed xorb range URLs handed out in reconstructions.
func (s *Server) routeCAS(w http.ResponseWriter, r *http.Request, segs []string) {
	m := r.Method
	switch {
	case len(segs) == 3 && segs[1] == "reconstructions" && m == "GET":
		s.handleReconstruction(w, r, segs[0], segs[2])
	case segs[0] == "v2" && len(segs) == 2 && segs[1] == "shards" && m == "POST":
		s.handlePutShardV2(w, r)
	case segs[0] != "v1":
		s.writeError(w, r, errNotFound("Not Found"))
	case len(segs) == 4 && segs[1] == "xorb-grants" && m == "POST":
		s.handleXorbGrant(w, r, segs[2], segs[3])
	case len(segs) == 3 && segs[1] == "xorb-uploads" && m == "PUT":
		s.handleGrantUpload(w, r, segs[2])
	case len(segs) == 6 && segs[1] == "xorb-commits" && segs[4] == "grant" && m == "POST":
		s.handleGrantCommit(w, r, segs[2], segs[3], segs[5])
	case len(segs) == 3 && segs[1] == "fetch" && (m == "GET" || m == "HEAD"):
		s.serveXorbRange(w, r, segs[2])
	case len(segs) == 4 && segs[1] == "xorbs" && m == "POST":
		s.handlePutXorb(w, r, segs[2], segs[3])
	case len(segs) == 4 && segs[1] == "xorbs" && m == "HEAD":
		s.handleHeadXorb(w, r, segs[2], segs[3])
	case len(segs) == 2 && segs[1] == "shards" && m == "POST":
		s.handlePutShard(w, r)
	case len(segs) == 4 && segs[1] == "chunks" && m == "GET":
		s.handleDedupQuery(w, r, segs[2], segs[3])
	case len(segs) == 3 && segs[1] == "files" && m == "HEAD":
		s.handleHeadFile(w, r, segs[2])
	default:
		s.writeError(w, r, errNotFound("Not Found"))
	}
}

func parseXetHash(s string) (xet.Hash, error) {
	h, err := xet.ParseHash(strings.ToLower(s))
	if err != nil {
		return h, errInvalid("Invalid hash %q: expected 64 hex digits", s)
	}
	return h, nil
}

// casRequest authenticates a CAS request (write: with a write token) and
// parses the hash it addresses; prefix, when not empty, is the one route
// prefix the hash may be under. On failure it has answered and ok is false.
func (s *Server) casRequest(w http.ResponseWriter, r *http.Request, write bool, prefix, want, hash string) (h xet.Hash, ok bool) {
	_, err := s.xetActor(r, write)
	if err == nil {
		h, err = parseXetHash(hash)
	}
	if err == nil && prefix != want {
		err = errInvalid("Unknown prefix %q", prefix)
	}
	if err != nil {
		s.writeError(w, r, err)
		return h, false
	}
	return h, true
}

// DefaultXetMaxUploads is how many xorb uploads run at once by default.
// Each holds one chunk (at most 128 KiB, and its stored form), a read buffer
// and the blob store's copy buffer in memory: about 1.5 MB.
const DefaultXetMaxUploads = 16

// xorbSlotWait is how long a xorb upload waits for a free slot before it is
// refused; Xet clients retry a 503 after a backoff, but send the whole xorb
// again, so waiting for a slot costs less. The client's body waits unread
// meanwhile, within its read timeout (300 s for hf_xet).
var xorbSlotWait = 30 * time.Second

// xorbRetryAfter is the Retry-After of a refused xorb upload, in seconds.
const xorbRetryAfter = "10"

func (s *Server) handlePutXorb(w http.ResponseWriter, r *http.Request, prefix, hash string) {
	h, ok := s.casRequest(w, r, true, prefix, "default", hash)
	if !ok {
		return
	}
	if r.ContentLength > xet.MaxXorbSize+(1<<20) {
		s.writeError(w, r, haven.Errorf(haven.ETooLarge, "Xorb larger than %d bytes", xet.MaxXorbSize))
		return
	}
	body := http.MaxBytesReader(w, r.Body, xet.MaxXorbSize+(1<<20)+1)
	if !s.acquireXorbSlot(r.Context()) {
		// Read the body first, so that the client, still sending, gets
		// the answer rather than a reset connection.
		io.Copy(io.Discard, body)
		w.Header().Set("Retry-After", xorbRetryAfter)
		s.writeError(w, r, haven.Errorf(haven.EUnavailable, "Too many xorb uploads at once; retry in %s seconds", xorbRetryAfter))
		return
	}
	defer s.releaseXorbSlot()
	defer uploadmem.Track()()
	inserted, err := s.cas.PutXorb(r.Context(), h, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"was_inserted": inserted})
}

// acquireXorbSlot takes one of the xorb upload slots, waiting up to
// xorbSlotWait; it reports false when none came free.
func (s *Server) acquireXorbSlot(ctx context.Context) bool {
	select {
	case s.xorbSlots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(xorbSlotWait)
	defer t.Stop()
	select {
	case s.xorbSlots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (s *Server) releaseXorbSlot() { <-s.xorbSlots }

func (s *Server) handleHeadXorb(w http.ResponseWriter, r *http.Request, prefix, hash string) {
	h, ok := s.casRequest(w, r, false, prefix, prefix, hash)
	if !ok {
		return
	}
	x, err := s.cas.Xorb(r.Context(), h)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "Xorb not found"))
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(x.DataLen))
	w.WriteHeader(http.StatusOK)
}

func notFoundAs(err error, msg string) error {
	if errors.Is(err, blob.ErrNotFound) {
		return errNotFound("%s", msg)
	}
	return err
}

func (s *Server) handlePutShard(w http.ResponseWriter, r *http.Request) {
	if _, err := s.xetActor(r, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	defer uploadmem.Track()()
	added, err := s.cas.PutShard(r.Context(), r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	result := 0
	if added > 0 {
		result = 1
	}
	writeJSON(w, http.StatusOK, map[string]int{"result": result})
}

func (s *Server) handleDedupQuery(w http.ResponseWriter, r *http.Request, prefix, hash string) {
	h, ok := s.casRequest(w, r, false, prefix, "default-merkledb", hash)
	if !ok {
		return
	}
	data, ok, err := s.cas.DedupShard(r.Context(), h)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		s.writeError(w, r, errNotFound("Chunk not known"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// casFile authenticates a read of a stored file and returns its record;
// on failure it has answered and ok is false.
func (s *Server) casFile(w http.ResponseWriter, r *http.Request, hash string) (*casstore.File, bool) {
	h, ok := s.casRequest(w, r, false, "", "", hash)
	if !ok {
		return nil, false
	}
	f, err := s.cas.File(r.Context(), h)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "File not found"))
		return nil, false
	}
	return f, true
}

func (s *Server) handleHeadFile(w http.ResponseWriter, r *http.Request, hash string) {
	f, ok := s.casFile(w, r, hash)
	if !ok {
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(f.Size, 10))
	w.WriteHeader(http.StatusOK)
}

// parseByteRange reads a single "bytes=a-b" (inclusive) or "bytes=a-"
// range as [from, to), to = -1 when open.
func parseByteRange(h string) (from, to int64, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 || strings.Contains(spec, ",") {
		return 0, 0, errInvalid("Invalid Range header %q", h)
	}
	from, err1 := strconv.ParseInt(a, 10, 64)
	to = -1
	var err2 error
	if b != "" {
		to, err2 = strconv.ParseInt(b, 10, 64)
		to++
	}
	if err1 != nil || err2 != nil || from < 0 || (to >= 0 && to <= from) {
		return 0, 0, errInvalid("Invalid Range header %q", h)
	}
	return from, to, nil
}

type xetRange struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

type xetTerm struct {
	Hash           string   `json:"hash"`
	UnpackedLength uint32   `json:"unpacked_length"`
	Range          xetRange `json:"range"`
}

type xetFetchInfo struct {
	Range    xetRange `json:"range"`
	URL      string   `json:"url"`
	URLRange xetRange `json:"url_range"`
}

// xetRangeSet is one xorb's entry of a v2 reconstruction: a URL and the
// chunk ranges, with their byte ranges (inclusive end), to fetch from it.
type xetRangeSet struct {
	URL    string          `json:"url"`
	Ranges []xetRangeBytes `json:"ranges"`
}

type xetRangeBytes struct {
	Chunks xetRange `json:"chunks"`
	Bytes  xetRange `json:"bytes"`
}

// handleReconstruction answers GET /v{1,2}/reconstructions/{file_id}: the
// terms of the file (or of the requested Range) and, per xorb, signed URLs
// with the byte ranges to fetch. A range that starts at or past the end is
// 416. Version 1 lists one URL per distinct chunk range; version 2 one URL
// per xorb with all its ranges, which clients fetch as separate ranged GETs
// or as one multi-range GET.
func (s *Server) handleReconstruction(w http.ResponseWriter, r *http.Request, version, hash string) {
	f, ok := s.casFile(w, r, hash)
	if !ok {
		return
	}
	var err error
	from, to := int64(0), f.Size
	if rh := r.Header.Get("Range"); rh != "" {
		if from, to, err = parseByteRange(rh); err != nil {
			s.writeError(w, r, err)
			return
		}
		if to < 0 || to > f.Size {
			to = f.Size
		}
		if from >= f.Size {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
			s.writeError(w, r, haven.Errorf(haven.ERange, "Range starts at %d, the file has %d bytes", from, f.Size))
			return
		}
	}
	plan := &casstore.Plan{}
	if from < to {
		if plan, err = s.cas.Reconstruct(r.Context(), f, from, to); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	terms := []xetTerm{}
	for _, t := range plan.Terms {
		terms = append(terms, xetTerm{Hash: t.Xorb.String(), UnpackedLength: t.Size, Range: xetRange{int64(t.Start), int64(t.End)}})
	}
	exp := time.Now().Add(xetFetchTTL).Unix()
	if version == "v2" {
		writeJSON(w, http.StatusOK, struct {
			Offset int64                    `json:"offset_into_first_range"`
			Terms  []xetTerm                `json:"terms"`
			Xorbs  map[string][]xetRangeSet `json:"xorbs"`
		}{plan.Skip, terms, s.xorbRangeSets(plan, exp)})
		return
	}
	fetch := map[string][]xetFetchInfo{}
	for _, t := range distinctRanges(plan) {
		xh := t.Xorb.String()
		fetch[xh] = append(fetch[xh], xetFetchInfo{
			Range:    xetRange{int64(t.Start), int64(t.End)},
			URL:      s.xorbFetchURL(xh, exp),
			URLRange: xetRange{int64(t.ByteStart), int64(t.ByteEnd) - 1},
		})
	}
	writeJSON(w, http.StatusOK, struct {
		Offset    int64                     `json:"offset_into_first_range"`
		Terms     []xetTerm                 `json:"terms"`
		FetchInfo map[string][]xetFetchInfo `json:"fetch_info"`
	}{plan.Skip, terms, fetch})
}

// distinctRanges returns the plan's terms without repeats of the same chunk
// range of the same xorb, in plan order.
func distinctRanges(p *casstore.Plan) []casstore.PlanTerm {
	seen := map[casstore.PlanTerm]bool{}
	var out []casstore.PlanTerm
	for _, t := range p.Terms {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// xorbRangeSets groups the chunk ranges of a plan by xorb, sorted by first
// chunk, with overlapping ranges merged: a multi-range GET of overlapping
// ranges would be answered with the whole xorb.
func (s *Server) xorbRangeSets(p *casstore.Plan, exp int64) map[string][]xetRangeSet {
	byXorb := map[xet.Hash][]casstore.PlanTerm{}
	for _, t := range distinctRanges(p) {
		byXorb[t.Xorb] = append(byXorb[t.Xorb], t)
	}
	out := map[string][]xetRangeSet{}
	for xh, ts := range byXorb {
		slices.SortFunc(ts, func(a, b casstore.PlanTerm) int { return cmp.Compare(a.Start, b.Start) })
		merged := ts[:1]
		for _, t := range ts[1:] {
			last := &merged[len(merged)-1]
			if t.Start < last.End {
				if t.End > last.End {
					last.End, last.ByteEnd = t.End, t.ByteEnd
				}
				continue
			}
			merged = append(merged, t)
		}
		set := xetRangeSet{URL: s.xorbFetchURL(xh.String(), exp)}
		for _, t := range merged {
			set.Ranges = append(set.Ranges, xetRangeBytes{
				Chunks: xetRange{int64(t.Start), int64(t.End)},
				Bytes:  xetRange{int64(t.ByteStart), int64(t.ByteEnd) - 1},
			})
		}
		out[xh.String()] = []xetRangeSet{set}
	}
	return out
}

func (s *Server) signFetch(xorb string, exp int64) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "xet-fetch\n%s\n%d", xorb, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// xorbFetchURL is a self-authorising URL for ranged reads of one xorb; the
// client sends the Range itself.
func (s *Server) xorbFetchURL(xorb string, exp int64) string {
	q := url.Values{}
	q.Set("exp", strconv.FormatInt(exp, 10))
	q.Set("sig", s.signFetch(xorb, exp))
	return s.publicURL("/v1/fetch/" + xorb + "?" + q.Encode())
}

func (s *Server) serveXorbRange(w http.ResponseWriter, r *http.Request, xorb string) {
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(s.signFetch(xorb, exp))) {
		s.writeError(w, r, haven.Errorf(haven.EForbidden, "Invalid or tampered signature on this URL"))
		return
	}
	if time.Now().Unix() > exp {
		s.writeError(w, r, haven.Errorf(haven.EForbidden, "This URL has expired; ask for a new reconstruction"))
		return
	}
	h, err := parseXetHash(xorb)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, info, err := s.cas.OpenXorb(r.Context(), h)
	if err != nil {
		s.writeError(w, r, notFoundAs(err, "Xorb not found"))
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	hubhttp.ServeContent(w, r, f, info.Size)
}

// openObject opens the content of an LFS object: the stored object, or the
// Xet file with that SHA-256, reconstructed.
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
	exp := time.Now().Add(xetTokenTTL).Unix()
	return &lfs.Action{
		Href: s.publicURL("/api/" + repo.Type.Plural() + "/" + escapeRepoID(repo) + "/xet-write-token/" + url.PathEscape(rev)),
		Header: map[string]string{
			"X-Xet-Cas-Url":          s.publicURL(""),
			"X-Xet-Access-Token":     s.newXetToken(xetClaims{Repo: repo.ID, Write: true, Exp: exp}),
			"X-Xet-Token-Expiration": strconv.FormatInt(exp, 10),
		},
		ExpiresIn: int(xetTokenTTL.Seconds()),
	}
}
