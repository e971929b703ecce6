package casapi

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/internal/uploadmem"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// fetchTTL is how long a signed xorb range URL stays valid: long enough
// for one reconstruction to be downloaded.
const fetchTTL = time.Hour

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
	done, ok := s.startXorbUpload(w, r, body)
	if !ok {
		return
	}
	defer done()
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

// startXorbUpload takes an upload slot for a xorb whose body is still
// arriving, or answers 503 with Retry-After once it has read the body, so
// that the client, still sending, gets the answer rather than a reset
// connection. The caller calls done when the upload ends.
func (s *Server) startXorbUpload(w http.ResponseWriter, r *http.Request, body io.Reader) (done func(), ok bool) {
	if !s.acquireXorbSlot(r.Context()) {
		io.Copy(io.Discard, body)
		w.Header().Set("Retry-After", xorbRetryAfter)
		s.writeError(w, r, haven.Errorf(haven.EUnavailable, "Too many xorb uploads at once; retry in %s seconds", xorbRetryAfter))
		return nil, false
	}
	untrack := uploadmem.Track()
	return func() {
		untrack()
		s.releaseXorbSlot()
	}, true
}

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

func (s *Server) handlePutShard(w http.ResponseWriter, r *http.Request) {
	if _, err := s.actor(r, true); err != nil {
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
	exp := time.Now().Add(fetchTTL).Unix()
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
	h, err := parseHash(xorb)
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
