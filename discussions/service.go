// Package discussions serves the discussions and pull requests of
// repositories: the Hub's discussion API (list, details with events, comment,
// edit, hide, rename, status, merge, diff), the pull requests that create_pr
// commits open (it implements api.PullRequests), and the merge of refs/pr/N
// into its target branch; pins, locks, deletes discussions and keeps the
// reactions to comments. Rights are decided by auth.CanDiscuss and
// auth.CanComment; merges, pins, locks and deletions are written to the
// audit log in the transaction that makes them.
package discussions

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
)

// Config is what the service needs.
type Config struct {
	Meta      *meta.Store
	Git       *gitstore.Store
	PublicURL string // base of the URLs in responses
	// Render turns a comment's Markdown into HTML that is safe to show (the
	// sanitiser of the cards); nil shows comments as escaped text.
	Render func(markdown string) string
	// Changed, when set, is called after a merge moved a branch, so that
	// caches and derived metadata (card, tags, head) follow it.
	Changed func(ctx context.Context, repo *haven.Repo)
	// Events hears of discussions opened, commented, renamed, closed and
	// merged (webhooks); nil: nobody listens.
	Events haven.EventSink
	// Notify tells the users named with @name in a new discussion or
	// comment; nil: nobody is told.
	Notify haven.Notifier
	Logger *slog.Logger
}

// Service serves discussions. Create it with New.
type Service struct {
	cfg  Config
	base string
	log  *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Render == nil {
		cfg.Render = func(md string) string { return "<p>" + escapeHTML(md) + "</p>" }
	}
	return &Service{cfg: cfg, base: strings.TrimRight(cfg.PublicURL, "/"), log: cfg.Logger}
}

func escapeHTML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// Limits of titles and bodies, as on the Hub.
const (
	minTitle   = 3
	maxTitle   = 200
	maxComment = 65536
	pageSize   = 50
)

// URL is the page of discussion num of repo.
func (s *Service) URL(repo *haven.Repo, num int) string {
	return s.base + "/" + repo.Type.URLPrefix() + url.PathEscape(repo.Namespace) + "/" + url.PathEscape(repo.Name) +
		"/discussions/" + itoa(num)
}

// signature is the git identity of the actor.
func signature(a *auth.Actor) gitstore.Signature {
	name := a.Name()
	email := name + "@users.noreply.haven"
	if a.User != nil && a.User.Email != "" {
		email = a.User.Email
	}
	return gitstore.Signature{Name: name, Email: email, When: time.Now().UTC()}
}

// checkTitle trims a title and checks its length.
func checkTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if n := len([]rune(title)); n < minTitle || n > maxTitle {
		return "", haven.Errorf(haven.EInvalid, "The title must be between %d and %d characters long", minTitle, maxTitle)
	}
	return title, nil
}

func checkComment(body string, allowEmpty bool) error {
	if len(body) > maxComment {
		return haven.Errorf(haven.ETooLarge, "A comment is at most %d bytes long", maxComment)
	}
	if !allowEmpty && strings.TrimSpace(body) == "" {
		return haven.Errorf(haven.EInvalid, "The comment is empty")
	}
	return nil
}

// openFor opens discussion num of repo and checks it with allow, answering
// the error itself; ok is false when it did.
func (s *Service) openFor(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string, allow func(*haven.Discussion) error) (d *haven.Discussion, ok bool) {
	d, err := s.open(r.Context(), repo, num)
	if err == nil {
		err = allow(d)
	}
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return d, true
}

// open finds discussion num of repo.
func (s *Service) open(ctx context.Context, repo *haven.Repo, num string) (*haven.Discussion, error) {
	n := atoi(num)
	if n <= 0 {
		return nil, haven.Errorf(haven.ENotFound, "Discussion not found")
	}
	return s.cfg.Meta.Discussion(ctx, repo.ID, n)
}

func itoa(n int) string { return strconv.Itoa(n) }

// atoi parses a positive decimal number, else -1.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || strings.TrimLeft(s, "0123456789") != "" {
		return -1
	}
	return n
}
