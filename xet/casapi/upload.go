package casapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/internal/uploadmem"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// The upload routes recent Xet clients try first: xorbs through upload
// grants, and shards with a stream of progress frames (/v2/shards). Both
// run the checks of the /v1 routes; clients fall back to those on 404.

// xorbGrantTTL is how long a grant's upload URL stays valid; a client whose
// grant expired asks for another.
const xorbGrantTTL = 30 * time.Minute

// xorbGrant is what an upload grant allows: one upload of the xorb Xorb,
// Len bytes, for the token scope Repo/Bucket, until Exp. Its signed
// encoding is the grant id.
type xorbGrant struct {
	Xorb   string `json:"x"`
	Len    int64  `json:"n"`
	Repo   int64  `json:"r"`
	Bucket int64  `json:"b,omitempty"`
	Exp    int64  `json:"e"`
}

func (s *Server) grantID(g xorbGrant) string { return signClaims(s.secret, "xet-grant", g) }

// parseGrant checks a grant id's signature; expiry is the caller's to check.
func (s *Server) parseGrant(id string) (*xorbGrant, error) {
	var g xorbGrant
	if !readClaims(s.secret, "xet-grant", id, &g) {
		return nil, haven.Errorf(haven.EForbidden, "Invalid or tampered upload grant")
	}
	return &g, nil
}

// xorbWriteRequest authenticates a request with a write token and parses
// the xorb it names under the prefix "default"; on failure it has answered
// and ok is false.
func (s *Server) xorbWriteRequest(w http.ResponseWriter, r *http.Request, prefix, hash string) (c *Claims, h xet.Hash, ok bool) {
	c, err := s.actor(r, true)
	if err == nil {
		h, err = parseHash(hash)
	}
	if err == nil && prefix != "default" {
		err = errInvalid("Unknown prefix %q", prefix)
	}
	if err != nil {
		s.writeError(w, r, err)
		return nil, h, false
	}
	return c, h, true
}

// xorbGrantRequest is the body of POST /v1/xorb-grants/{prefix}/{hash}.
// It also carries the xorb's CRC-64/NVME ("checksum"), for object stores
// that check one on write; the upload is checked against its merkle root,
// which proves more, so the CRC is not computed again (on a 2-core machine
// it cost a quarter more server CPU per upload).
type xorbGrantRequest struct {
	Length int64 `json:"length"`
}

// handleXorbGrant answers POST /v1/xorb-grants/{prefix}/{hash}: 200 when
// the xorb is stored already, else 201 with a grant: a signed URL of this
// server that takes the xorb once, without the CAS token, within
// xorbGrantTTL.
func (s *Server) handleXorbGrant(w http.ResponseWriter, r *http.Request, prefix, hash string) {
	c, h, ok := s.xorbWriteRequest(w, r, prefix, hash)
	if !ok {
		return
	}
	var req xorbGrantRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		s.writeError(w, r, errInvalid("Invalid grant request: %v", err))
		return
	}
	if req.Length <= 0 || req.Length > xet.MaxXorbSize+(1<<20) {
		s.writeError(w, r, errInvalid("Invalid xorb length %d: at most %d bytes", req.Length, xet.MaxXorbSize))
		return
	}
	if _, err := s.cas.Xorb(r.Context(), h); err == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"was_inserted": false})
		return
	}
	id := s.grantID(xorbGrant{
		Xorb: h.String(), Len: req.Length, Repo: c.Repo, Bucket: c.Bucket,
		Exp: time.Now().Add(xorbGrantTTL).Unix(),
	})
	writeJSON(w, http.StatusCreated, map[string]any{
		"id":      id,
		"method":  http.MethodPut,
		"url":     s.publicURL("/v1/xorb-uploads/" + id),
		"headers": map[string]string{"Content-Type": "application/octet-stream"},
	})
}

// handleGrantUpload answers PUT /v1/xorb-uploads/{grant}: the xorb goes
// through the checks of POST /v1/xorbs (merkle root, every chunk, nothing
// visible unless all pass), and its length must be the granted one. A xorb
// stored already is 412, which clients take as done.
func (s *Server) handleGrantUpload(w http.ResponseWriter, r *http.Request, id string) {
	g, err := s.parseGrant(id)
	if err == nil && time.Now().Unix() > g.Exp {
		err = haven.Errorf(haven.EForbidden, "This upload grant has expired; request a new one")
	}
	var h xet.Hash
	if err == nil {
		h, err = parseHash(g.Xorb)
	}
	if err == nil && r.ContentLength >= 0 && r.ContentLength != g.Len {
		err = errInvalid("The grant is for %d bytes, the request has %d", g.Len, r.ContentLength)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body := http.MaxBytesReader(w, r.Body, g.Len+1)
	if _, err := s.cas.Xorb(r.Context(), h); err == nil {
		io.Copy(io.Discard, body)
		s.writeError(w, r, haven.Errorf(haven.EPrecondition, "Xorb %s is stored already", h))
		return
	}
	done, ok := s.startXorbUpload(w, r, body)
	if !ok {
		return
	}
	defer done()
	if _, err := s.cas.PutXorb(r.Context(), h, &lengthReader{r: body, want: g.Len}); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// lengthReader passes r through and, in place of io.EOF, fails unless it
// yielded want bytes.
type lengthReader struct {
	r       io.Reader
	want, n int64
}

func (c *lengthReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if errors.Is(err, io.EOF) && c.n != c.want {
		return n, errInvalid("The grant is for %d bytes, %d were sent", c.want, c.n)
	}
	return n, err
}

// handleGrantCommit answers POST /v1/xorb-commits/{prefix}/{hash}/grant/{id}:
// 200 once the granted xorb is stored, 404 when no upload stored it (the
// client then asks for a new grant). The grant must be for this xorb and
// for the scope of the caller's token.
func (s *Server) handleGrantCommit(w http.ResponseWriter, r *http.Request, prefix, hash, id string) {
	c, h, ok := s.xorbWriteRequest(w, r, prefix, hash)
	if !ok {
		return
	}
	g, err := s.parseGrant(id)
	if err == nil && (g.Xorb != h.String() || g.Repo != c.Repo || g.Bucket != c.Bucket) {
		err = haven.Errorf(haven.EForbidden, "This upload grant is for another xorb or another token")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := s.cas.Xorb(r.Context(), h); err != nil {
		s.writeError(w, r, notFoundAs(err, "No xorb was uploaded for this grant"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"was_inserted": true})
}

// shardHeartbeat is how often /v2/shards repeats its last frame while a
// shard is checked, so that the client's read timeout does not fire during
// a long SHA-256 check.
var shardHeartbeat = 10 * time.Second

// shardEvent is one NDJSON frame of /v2/shards.
type shardEvent struct {
	Type      string `json:"type"`
	Verified  *int   `json:"verified,omitempty"`
	Total     *int   `json:"total,omitempty"`
	Stage     string `json:"stage,omitempty"`
	Message   string `json:"message,omitempty"`
	Retryable *bool  `json:"retryable,omitempty"`
}

// handlePutShardV2 answers POST /v2/shards: the checks and effect of
// /v1/shards, answered as a stream of NDJSON frames. A request that is
// refused before the checks start (authentication, a malformed shard) gets
// the usual error; once the stream has started, status is 200 and a
// failure is the terminal "error" frame (retryable unless the shard itself
// is at fault). Until then the server sends "validating" frames with the
// files checked, repeated as heartbeats, then "committing", then "result".
func (s *Server) handlePutShardV2(w http.ResponseWriter, r *http.Request) {
	if _, err := s.actor(r, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	defer uploadmem.Track()()
	sh, err := casstore.ReadShard(r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st := newShardStream(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	go st.heartbeat(ctx)
	_, err = s.cas.RegisterShard(r.Context(), sh, func(done, total int) {
		st.send(shardEvent{Type: "validating", Verified: &done, Total: &total})
		if done == total {
			st.send(shardEvent{Type: "committing", Stage: "syncing"})
		}
	})
	stop()
	if err != nil {
		retry := !isClientError(err)
		msg := haven.ErrorMessage(err)
		if retry {
			s.log.Error("xet: shard upload", "err", err)
		}
		st.send(shardEvent{Type: "error", Message: msg, Retryable: &retry})
		return
	}
	st.send(shardEvent{Type: "result"})
}

// isClientError reports whether err is the request's fault.
func isClientError(err error) bool {
	switch haven.ErrorCode(err) {
	case haven.EInvalid, haven.ETooLarge, haven.EForbidden, haven.EUnauthorized, haven.ENotFound:
		return true
	}
	return false
}

// shardStream writes the frames of one /v2/shards answer; the heartbeat
// and the checks write from two goroutines.
type shardStream struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	rc   *http.ResponseController
	last []byte
}

func newShardStream(w http.ResponseWriter) *shardStream {
	return &shardStream{w: w, rc: http.NewResponseController(w)}
}

func (st *shardStream) send(ev shardEvent) {
	b, _ := json.Marshal(ev)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.last = append(b, '\n')
	st.write()
}

// write sends the last frame; the caller holds mu.
func (st *shardStream) write() {
	st.w.Write(st.last)
	st.rc.Flush()
}

func (st *shardStream) heartbeat(ctx context.Context) {
	t := time.NewTicker(shardHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st.mu.Lock()
			if ctx.Err() == nil && st.last != nil {
				st.write()
			}
			st.mu.Unlock()
		}
	}
}
