// Package api serves the Hugging Face Hub HTTP protocol: the JSON API under
// /api, file downloads (resolve, raw), the Git LFS batch API and git smart
// HTTP. It maps every error to the Hub's shape in one place (errors.go).
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet/casapi"
	"github.com/havenhub/haven/xet/casstore"
)

// Config is what the server needs to run.
type Config struct {
	Meta      *meta.Store
	Git       *gitstore.Store
	Blobs     blob.Driver
	PublicURL string // base of every URL in responses, e.g. "http://127.0.0.1:8080"
	Secret    []byte // signs upload and download URLs handed to LFS clients
	Logger    *slog.Logger

	// Web serves every path the API does not claim (the pages of the hub).
	Web http.Handler
	// Sessions identifies callers without an Authorization header, such as
	// a signed-in browser. It returns an anonymous actor when there is none.
	Sessions SessionResolver
	// Viewer serves the dataset viewer API under /datasets-server/ and for
	// requests whose Host starts with "datasets-server.".
	Viewer http.Handler

	// Routes are the domain packages' parts of the API (Spaces, discussions,
	// collections, …), asked in order for the paths the core does not serve.
	Routes []Routes

	// Spaces describes the app of a Space in repo info (host, subdomain,
	// runtime) and hears of pushes through the queue; nil: Spaces run nothing.
	Spaces SpaceDescriber

	// Inference says which models the hub serves and which are loaded
	// (expand=inference, inferenceProviderMapping); nil: it serves none.
	Inference InferenceDescriber

	// PullRequests hears of commits that open or extend pull requests; nil:
	// create_pr commits only make refs/pr/N.
	PullRequests PullRequests

	// Events hears of commits, ref changes, settings, creations, deletions
	// and moves of repositories (webhooks); nil: nobody listens.
	Events haven.EventSink

	// Audit records repository creations, deletions, moves and settings
	// changes; nil: nothing is recorded.
	Audit haven.Auditor

	// CAS, when not nil, turns on the Xet protocol: it serves the CAS routes
	// under /v1 and /v2 (see casapi.Handles), and the API the token
	// endpoints and the Xet hints in resolve, tree, repo info and LFS batch.
	// It must share Secret and PublicURL. When nil, files already stored
	// through Xet stay downloadable.
	CAS *casapi.Server
	// Redirect answers GET of large files stored as LFS objects with a
	// redirect to a short-lived URL of the blob store, which must then be a
	// blob.Redirector (S3), so that the bytes do not pass through the server.
	Redirect bool
	// XetConvert, when not nil and Xet is on, hears of every object stored
	// through the LFS API, to store it through Xet too (in the background),
	// so that Xet clients download it chunk by chunk.
	XetConvert XetConverter

	// Fallback answers reads of repositories this hub does not have (an
	// upstream hub's, through a pull-through cache); nil: RepoNotFound.
	Fallback Fallback

	// Profiles serves the profile paths of users and organisations
	// (overviews, followers, avatars, invitations); nil: the core's plain
	// overview only.
	Profiles Profiles
}

// XetConverter queues the conversion of an LFS object to a Xet file.
type XetConverter interface {
	Enqueue(ctx context.Context, oid string, size int64) error
}

// Profiles serves the profile API and the avatar images.
type Profiles interface {
	// ServeAPI answers a path under /api (segs after "api") and reports
	// whether it did.
	ServeAPI(w http.ResponseWriter, r *http.Request, segs []string) bool
	// ServeAvatar answers GET /avatars/{name}.
	ServeAvatar(w http.ResponseWriter, r *http.Request, name string)
}

// Routes is a domain package's part of the API, wired in by cmd/haven. The
// core routes come first; a Routes is asked only about paths they leave.
// Its handlers find the caller with hubhttp.Actor and answer errors with
// hubhttp.WriteError.
type Routes interface {
	// RepoAction returns the handler of /api/{types}/{ns}/{name}/{action}/…
	// for the method, or nil. It runs once the repository is found and the
	// caller may read it (auth.Can with auth.Read); rest is the path after
	// the action.
	RepoAction(t haven.RepoType, action, method string) RepoHandler
	// API returns the handler of /api/{first}/…, or nil. For the two-segment
	// paths /api/{models|datasets|spaces}/{x}, which are otherwise taken as
	// legacy repository ids, it is asked with "{types}/{x}".
	API(first string) http.Handler
}

// CardIndexer is a Routes that also hears of the card of a repository's
// default branch each time the branch moves (evaluation results, the
// documentation score). c is nil when there is no README or it does not
// parse; files holds the .eval_results/*.yaml files by path. An error is
// logged, never returned to the pusher.
type CardIndexer interface {
	IndexCard(ctx context.Context, repo *haven.Repo, c *card.Card, files map[string][]byte) error
}

// SpaceDescriber gives the fields of repo info that describe a Space's app
// and takes the Space settings of create and duplicate requests.
type SpaceDescriber interface {
	Describe(ctx context.Context, repo *haven.Repo) map[string]any
	// Configure applies set to repo, a Space just created and without its
	// first commit yet. from is the Space it duplicates, or nil: its
	// variables are copied, its secrets are not. An error is the caller's
	// (an unknown hardware flavor, a bad key).
	Configure(ctx context.Context, repo, from *haven.Repo, set *SpaceSettings) error
}

// SpaceSettings are the Space keys of a create or duplicate request.
type SpaceSettings struct {
	Hardware     string          `json:"hardware"`
	SleepSeconds *int64          `json:"sleepTimeSeconds"`
	Secrets      []SpaceEnvEntry `json:"secrets"`
	Variables    []SpaceEnvEntry `json:"variables"`
}

// SpaceEnvEntry is a secret or variable given with a create or duplicate
// request.
type SpaceEnvEntry struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description"`
}

// RepoHandler handles an action on a repository the caller may read.
type RepoHandler func(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string)

// SessionResolver finds the identity behind a request that carries no token.
type SessionResolver interface {
	Actor(r *http.Request) (*auth.Actor, error)
}

// Server is the HTTP API. Create it with New.
type Server struct {
	meta     *meta.Store
	git      *gitstore.Store
	blobs    blob.Driver
	base     *url.URL
	secret   []byte
	log      *slog.Logger
	web      http.Handler
	sessions SessionResolver
	viewer   http.Handler
	routes   []Routes
	spaces   SpaceDescriber
	infer    InferenceDescriber
	pulls    PullRequests
	events   haven.EventSink
	audit    haven.Auditor
	tokens   sync.Map // token hash → actorEntry

	downloads *downloadCounter
	cache     readCache
	refresh   sync.Map // repo ID → *sync.Mutex, serialises metadata refreshes

	cas       *casstore.Store
	casAPI    *casapi.Server // nil: Xet is off
	xetOn     bool
	redirect  blob.Redirector // nil: downloads stream through the server
	xetMisses missCache
	convert   XetConverter

	fallback Fallback
	profiles Profiles

	// The hottest handlers, bound once: a method value made per request is
	// an allocation.
	repoInfo, tree RepoHandler
}

// New returns a Server. Call Close to flush counters on shutdown.
func New(cfg Config) (*Server, error) {
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		meta:     cfg.Meta,
		git:      cfg.Git,
		blobs:    cfg.Blobs,
		base:     base,
		secret:   cfg.Secret,
		log:      cfg.Logger,
		web:      cfg.Web,
		sessions: cfg.Sessions,
		casAPI:   cfg.CAS,
		xetOn:    cfg.CAS != nil,
		convert:  cfg.XetConvert,
		viewer:   cfg.Viewer,
		routes:   cfg.Routes,
		spaces:   cfg.Spaces,
		infer:    cfg.Inference,
		pulls:    cfg.PullRequests,
		events:   cfg.Events,
		audit:    cfg.Audit,
		fallback: cfg.Fallback,
		profiles: cfg.Profiles,
	}
	if cfg.Redirect {
		rd, ok := cfg.Blobs.(blob.Redirector)
		if !ok {
			return nil, fmt.Errorf("api: redirected downloads need a blob store that makes download URLs (S3)")
		}
		s.redirect = rd
	}
	// One store for both sides, so that they share its caches.
	if cfg.CAS != nil {
		s.cas = cfg.CAS.Store()
	} else {
		s.cas = casstore.New(cfg.Blobs)
	}
	s.downloads = newDownloadCounter(cfg.Meta, cfg.Logger)
	s.repoInfo, s.tree = s.handleRepoInfo, s.handleTree
	return s, nil
}

// Close flushes buffered download counts.
func (s *Server) Close() error {
	s.downloads.Close()
	return nil
}

// publicURL joins path (already escaped) to the public base URL.
func (s *Server) publicURL(path string) string {
	return strings.TrimRight(s.base.String(), "/") + path
}

// ServeHTTP routes a request. Routing is on the escaped path so that a "%2F"
// inside a revision or file name stays inside its segment.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := r.Header.Get("X-Request-Id")
	if reqID == "" {
		reqID = r.Header.Get("X-Amzn-Trace-Id")
	}
	if reqID == "" {
		reqID = newRequestID()
	}
	if h := w.Header(); hubhttp.HeaderValue(h, "X-Request-Id") != reqID {
		h.Set("X-Request-Id", reqID)
	}
	setCORS(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if hubhttp.RequestID(r.Context()) != reqID {
		r = r.WithContext(hubhttp.WithRequestID(r.Context(), reqID))
	}
	s.route(w, r)
}

func setCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Vary", "Origin")
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Range, Content-Type, X-Request-Id, Accept, User-Agent")
	h.Set("Access-Control-Expose-Headers", "ETag, Content-Range, Content-Length, Link, X-Error-Code, X-Error-Message, X-Request-Id, X-Repo-Commit, X-Linked-Size, X-Linked-ETag, X-Total-Count")
	h.Set("Access-Control-Max-Age", "86400")
}

// actorCache keeps recently seen tokens for a few seconds so that the hot
// read path does not query the database twice per request.
type actorEntry struct {
	actor   *auth.Actor
	expires time.Time
}
