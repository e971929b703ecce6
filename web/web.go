// Package web serves the pages of the hub: browsing and searching
// repositories, repository cards, files and history, user and organisation
// pages, signing in, tokens and repository management.
//
// Pages are rendered on the server with html/template; a small script
// (static/app.js) adds what needs the browser, and every change it makes
// goes through the JSON API with the session cookie, so there is one write
// path. Templates, styles and scripts are embedded in the binary.
//
// The package also resolves browser sessions for the API (Handler.Actor),
// including the same-origin check that keeps other sites from acting with
// a visitor's cookie.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/profiles"
)

// Config is what the pages need.
type Config struct {
	Meta      *meta.Store
	Git       *gitstore.Store
	PublicURL string // base URL of the hub, e.g. "https://hub.example.org"
	Logger    *slog.Logger
	// NoViewer hides the Viewer tab of datasets, for hubs that serve no
	// dataset viewer at /datasets-server/ (haven serve always does).
	NoViewer bool
	// Audit records sign-ins, tokens and member changes; nil: nothing is
	// recorded.
	Audit haven.Auditor
}

// Handler serves the pages. Create it with New.
type Handler struct {
	// TokensChanged, when set, is called after a token is revoked, so that
	// whoever caches token identities (the API) forgets them at once.
	TokensChanged func()
	// SessionEnded, when set, is called with the stored hash of a session
	// that signed out, so that other servers sharing the database forget it
	// at once.
	SessionEnded func(hash string)
	// Spaces, when set, runs the apps of Space repositories: their pages
	// show the app, its stage, logs and settings. Set it before serving.
	Spaces SpaceRuntime
	// Collections, when set, serves the collection pages. Set it before serving.
	Collections CollectionPages
	// Webhooks, when set, serves the webhook settings pages. Set it before serving.
	Webhooks WebhookPages
	// Profiles, when set, saves profiles, follows and invitations (the
	// profile settings, invitations and follow forms). Set it before serving.
	Profiles *profiles.Service
	// Jobs, when set, serves the job pages at /jobs/{ns}. Set it before serving.
	Jobs JobPages
	// Finetune, when set, serves the fine-tune form at /finetune/new and
	// the Fine-tune buttons of model and dataset pages. Set it before serving.
	Finetune FinetunePages
	// Endpoints, when set, serves the inference endpoint pages at
	// /endpoints/{ns}. Set it before serving.
	Endpoints EndpointPages
	// Evals, when set, serves the leaderboards at /leaderboards and the
	// provenance pages of models. Set it before serving.
	Evals EvalPages
	// External, when set, offers sign-in through another service beside
	// passwords. Set it before serving.
	External ExternalSignIn

	meta   *meta.Store
	git    *gitstore.Store
	base   *url.URL
	origin string // scheme://host[:port] of the public URL
	log    *slog.Logger
	pages  *pageSet
	viewer bool // the dataset viewer is served beside the pages

	sessions sync.Map // session hash → sessionEntry
	signIns  signInLimits
	audit    haven.Auditor
	facets   facetCache
	cards    cardCache
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	base, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pages, err := parsePages(templateFiles)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		meta:    cfg.Meta,
		git:     cfg.Git,
		base:    base,
		origin:  base.Scheme + "://" + base.Host,
		log:     cfg.Logger,
		pages:   pages,
		viewer:  !cfg.NoViewer,
		signIns: newSignInLimits(cfg.Meta),
		audit:   cfg.Audit,
	}
	return h, nil
}

// publicURL joins an escaped path to the public base URL.
func (h *Handler) publicURL(path string) string {
	return strings.TrimRight(h.base.String(), "/") + path
}

// secureCookies reports whether cookies should carry the Secure flag.
func (h *Handler) secureCookies() bool { return h.base.Scheme == "https" }

// ServeHTTP routes a page request on its escaped path, so that "%2F" in a
// revision or file name stays inside its segment.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		h.notFound(w, r)
		return
	}
	if len(segs) > 0 && segs[0] == "static" {
		serveStatic(w, r, strings.Join(segs[1:], "/"))
		return
	}
	unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead
	if unsafe && !h.sameOrigin(r) {
		h.errorPage(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused.")
		return
	}
	actor, err := h.Actor(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx := context.WithValue(r.Context(), actorKey{}, actor)
	r = r.WithContext(ctx)
	h.route(w, r, segs)
}

type actorKey struct{}

// actorOf returns the visitor, resolved once in ServeHTTP; never nil.
func actorOf(r *http.Request) *auth.Actor {
	if a, ok := r.Context().Value(actorKey{}).(*auth.Actor); ok {
		return a
	}
	return &auth.Actor{}
}

func (h *Handler) route(w http.ResponseWriter, r *http.Request, segs []string) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch {
	case len(segs) == 0 && get:
		h.home(w, r)
		return
	case len(segs) == 1 && get && (segs[0] == "models" || segs[0] == "datasets" || segs[0] == "spaces"):
		t, _ := haven.ParseRepoType(segs[0])
		h.listing(w, r, t)
		return
	case len(segs) == 1 && segs[0] == "login" && (get || post):
		h.login(w, r)
		return
	case len(segs) == 2 && segs[0] == "login" && segs[1] == "oidc" && get && h.External != nil:
		h.externalBegin(w, r)
		return
	case len(segs) == 3 && segs[0] == "login" && segs[1] == "oidc" && segs[2] == "callback" && get && h.External != nil:
		h.externalFinish(w, r)
		return
	case len(segs) == 1 && segs[0] == "logout" && post:
		h.logout(w, r)
		return
	case len(segs) == 1 && segs[0] == "new" && get:
		h.newRepo(w, r)
		return
	case len(segs) == 1 && segs[0] == "notifications" && (get || post):
		h.notifications(w, r)
		return
	case len(segs) >= 2 && segs[0] == "settings":
		h.routeSettings(w, r, segs[1:])
		return
	case len(segs) == 3 && segs[0] == "organizations" && segs[2] == "audit-log" && get:
		h.auditLog(w, r, segs[1])
		return
	case len(segs) == 3 && segs[0] == "organizations" && segs[2] == "members" && (get || post):
		h.members(w, r, segs[1])
		return
	case len(segs) == 3 && segs[0] == "organizations" && segs[2] == "settings" && (get || post):
		h.orgProfileSettings(w, r, segs[1])
		return
	case len(segs) == 2 && segs[0] == "collections" && get:
		h.collectionList(w, r, segs[1])
		return
	case len(segs) == 3 && segs[0] == "collections" && get:
		h.collection(w, r, segs[1]+"/"+segs[2])
		return
	case len(segs) >= 2 && segs[0] == "jobs" && h.Jobs != nil:
		h.routeJobs(w, r, segs[1:])
		return
	case len(segs) >= 2 && segs[0] == "endpoints" && h.Endpoints != nil:
		h.routeEndpoints(w, r, segs[1:])
		return
	case len(segs) >= 2 && segs[0] == "finetune" && h.Finetune != nil:
		h.routeFinetune(w, r, segs[1:])
		return
	case len(segs) >= 1 && segs[0] == "leaderboards" && get && h.Evals != nil:
		h.leaderboards(w, r, segs[1:])
		return
	case len(segs) == 2 && segs[0] == "organizations" && get:
		h.profile(w, r, segs[1])
		return
	case len(segs) == 1 && get:
		h.profile(w, r, segs[0])
		return
	}
	t := haven.Model
	if len(segs) > 0 && (segs[0] == "datasets" || segs[0] == "spaces") {
		t, _ = haven.ParseRepoType(segs[0])
		segs = segs[1:]
	}
	if len(segs) >= 2 {
		h.routeRepo(w, r, t, segs[0], segs[1], segs[2:])
		return
	}
	h.notFound(w, r)
}

func (h *Handler) routeSettings(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) == 1 && segs[0] == "tokens":
		h.tokens(w, r)
	case len(segs) == 3 && segs[0] == "tokens" && segs[2] == "delete" && r.Method == http.MethodPost:
		h.deleteToken(w, r, segs[1])
	case len(segs) == 1 && segs[0] == "password":
		h.password(w, r)
	case len(segs) == 1 && segs[0] == "profile":
		h.userProfileSettings(w, r)
	case len(segs) == 1 && segs[0] == "invitations":
		h.invitations(w, r)
	case len(segs) == 1 && segs[0] == "follow":
		h.follow(w, r)
	case len(segs) == 1 && segs[0] == "webhooks":
		h.webhooks(w, r)
	case len(segs) == 2 && segs[0] == "webhooks":
		h.webhook(w, r, segs[1])
	default:
		h.notFound(w, r)
	}
}

// splitPath splits an escaped URL path on "/" and unescapes each segment.
func splitPath(escaped string) ([]string, error) {
	escaped = strings.Trim(escaped, "/")
	if escaped == "" {
		return nil, nil
	}
	parts := strings.Split(escaped, "/")
	out := make([]string, len(parts))
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}

// fail answers with the page for err: not found for missing or hidden
// things, a sign-in prompt for anonymous visitors who need one, and a
// generic message for internal errors, which are logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch haven.ErrorCode(err) {
	case haven.ERepoNotFound, haven.ERevisionNotFound, haven.EEntryNotFound, haven.ENotFound:
		h.notFound(w, r)
	case haven.EUnauthorized:
		if r.Method == http.MethodGet && actorOf(r).Anonymous() {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.errorPage(w, r, http.StatusUnauthorized, haven.ErrorMessage(err))
	case haven.EForbidden, haven.EGatedRepo:
		if haven.IsCode(err, haven.EGatedRepo) && r.Method == http.MethodGet && actorOf(r).Anonymous() {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h.errorPage(w, r, http.StatusForbidden, haven.ErrorMessage(err))
	case haven.EInvalid, haven.EConflict:
		h.errorPage(w, r, http.StatusBadRequest, haven.ErrorMessage(err))
	default:
		h.log.ErrorContext(r.Context(), "web page", "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on our side.")
	}
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "This page does not exist, or you do not have access to it.")
}

type errorData struct {
	Status  int
	Message string
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, r, status, "error", http.StatusText(status), errorData{status, msg})
}

// sessionEntry is a resolved session, remembered briefly so that a page and
// the API calls its script makes do not each query the database.
type sessionEntry struct {
	actor   *auth.Actor
	expires time.Time
}
