// Package casapi serves the Xet CAS protocol over HTTP: the /v1 and /v2
// routes through which Xet clients upload xorbs and shards, look up chunks
// to deduplicate, and learn from reconstructions the signed URLs from which
// they download a file's bytes. Callers authenticate with the CAS tokens
// made by Token, which the Hub API and the buckets hand out.
package casapi

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// Config is what the CAS server needs to run.
type Config struct {
	// Store holds the xorbs, shards and files.
	Store *casstore.Store
	// Secret signs and checks CAS tokens, upload grants and fetch URLs; it
	// is the secret of the Hub API and the buckets, which make the tokens.
	Secret []byte
	// PublicURL is the base of every URL in answers, e.g.
	// "http://127.0.0.1:8080"; the CAS is served under it, beside the Hub
	// API.
	PublicURL string
	// MaxUploads bounds the xorb uploads that run at once; 0 or less means
	// DefaultMaxUploads.
	MaxUploads int
	Logger     *slog.Logger
}

// DefaultMaxUploads is how many xorb uploads run at once by default.
// Each holds one chunk (at most 128 KiB, and its stored form), a read buffer
// and the blob store's copy buffer in memory: about 1.5 MB.
const DefaultMaxUploads = 16

// Server is the CAS service. Create it with New.
type Server struct {
	cas       *casstore.Store
	secret    []byte
	base      string
	log       *slog.Logger
	xorbSlots chan struct{}
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxUploads <= 0 {
		cfg.MaxUploads = DefaultMaxUploads
	}
	return &Server{
		cas:       cfg.Store,
		secret:    cfg.Secret,
		base:      strings.TrimRight(base.String(), "/"),
		log:       cfg.Logger,
		xorbSlots: make(chan struct{}, cfg.MaxUploads),
	}, nil
}

// Store returns the store the server serves.
func (s *Server) Store() *casstore.Store { return s.cas }

// casWords are the second path segments of the CAS routes. Only these are
// taken from the repository namespaces "v1" and "v2".
var casWords = map[string]bool{
	"xorbs": true, "shards": true, "chunks": true, "reconstructions": true, "files": true, "fetch": true,
	"xorb-grants": true, "xorb-uploads": true, "xorb-commits": true,
}

// Handles reports whether the unescaped path segments segs address the CAS
// service; the Hub API serves every other path.
func Handles(segs []string) bool {
	return len(segs) >= 2 && (segs[0] == "v1" || segs[0] == "v2") && casWords[segs[1]]
}

// ServeHTTP serves the CAS API. Its callers authenticate with CAS tokens,
// except for the signed xorb range URLs handed out in reconstructions and
// the URLs of upload grants.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !Handles(segs) {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
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

// publicURL joins path (already escaped) to the public base URL.
func (s *Server) publicURL(path string) string { return s.base + path }

// writeError answers with the Hub's error shape.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) { hubhttp.WriteJSON(w, status, v) }

func errInvalid(format string, args ...any) error {
	return haven.Errorf(haven.EInvalid, format, args...)
}

func errNotFound(format string, args ...any) error {
	return haven.Errorf(haven.ENotFound, format, args...)
}

func notFoundAs(err error, msg string) error {
	if errors.Is(err, blob.ErrNotFound) {
		return errNotFound("%s", msg)
	}
	return err
}

func parseHash(s string) (xet.Hash, error) {
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
	_, err := s.actor(r, write)
	if err == nil {
		h, err = parseHash(hash)
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
