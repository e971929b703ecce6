// Package access serves access requests to gated repositories: the
// requester's ask-access endpoint, with the answers to the form of the
// repository's card, and the owners' endpoints that list, accept, reject
// and grant them (/api/{types}/{ns}/{name}/user-access-request/…). Who may
// download is decided by auth.CanDownload from the statuses stored here.
package access

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/meta"
)

// Config is what the service needs.
type Config struct {
	Meta      *meta.Store
	PublicURL string
	Logger    *slog.Logger
	// Changed is called after a request's status changes, so that cached
	// identities, which carry the statuses, are built afresh.
	Changed func()
	// Audit records decisions on requests; nil: nothing is recorded.
	Audit haven.Auditor
	// Notify tells owners of new requests and requesters of decisions;
	// nil: nobody is told.
	Notify haven.Notifier
}

// Service is the access-request part of the API. It implements api.Routes.
type Service struct {
	cfg Config
	log *slog.Logger
}

var _ api.Routes = (*Service)(nil)

// New returns the service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{cfg: cfg, log: cfg.Logger}
}

// maxForm bounds the body of a request for access.
const maxForm = 64 << 10

// maxReason is the Hub's limit on a rejection reason.
const maxReason = 200

// RepoAction serves ask-access and user-access-request/… on every type.
func (s *Service) RepoAction(t haven.RepoType, action, method string) api.RepoHandler {
	switch {
	case action == "ask-access" && method == http.MethodPost:
		return s.handleAsk
	case action == "user-access-request" && method == http.MethodGet:
		return s.handleList
	case action == "user-access-request" && method == http.MethodPost:
		return func(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
			switch strings.Join(rest, "/") {
			case "handle":
				s.handleDecide(w, r, repo)
			case "grant":
				s.handleGrant(w, r, repo)
			case "cancel":
				s.handleCancel(w, r, repo)
			default:
				s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
			}
		}
	}
	return nil
}

// API serves nothing outside repositories.
func (s *Service) API(string) http.Handler { return nil }

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

func (s *Service) changed() {
	if s.cfg.Changed != nil {
		s.cfg.Changed()
	}
}

// RepoURL is the page of repo, where requests are made and answered.
func (s *Service) RepoURL(repo *haven.Repo) string {
	return s.cfg.PublicURL + "/" + repo.Type.URLPrefix() + repo.FullName()
}

func errNotGated(repo *haven.Repo) error {
	return haven.Errorf(haven.EInvalid, "The %s %s is not gated", repo.Type, repo.FullName())
}

// handleAsk records the caller's request, with the answers to the card's
// form as JSON or form fields. A JSON caller gets the request's status; a
// form post is sent back to the repository's page, as on the Hub.
func (s *Service) handleAsk(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	a := hubhttp.Actor(r)
	if a.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be signed in to ask for access"))
		return
	}
	if repo.Gated == "" {
		s.writeError(w, r, errNotGated(repo))
		return
	}
	if auth.CanDownload(&auth.Actor{User: a.User, Orgs: a.Orgs, Role: a.Role}, repo, "") == nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "You already have access to %s", repo.FullName()))
		return
	}
	answers, isJSON, err := readAnswers(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	fields, err := card.ParseGateForm(repo.CardData).Answers(answers)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st := haven.AccessPending
	if repo.Gated == "auto" {
		st = haven.AccessAccepted
	}
	ar, err := s.cfg.Meta.CreateAccessRequest(r.Context(), repo.ID, a.User.ID, fields, st)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changed()
	s.log.InfoContext(r.Context(), "access requested", "repo", repo.FullName(), "type", repo.Type, "user", a.User.Name, "status", ar.Status)
	if ar.Status == haven.AccessAccepted {
		// Accepted by the repository's "auto" rule: a decision all the same.
		s.audit(r, repo, a.User, "accepted (auto)", "")
	}
	s.notifyOwners(r, repo, a.User, ar.Status)
	if isJSON {
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"status": ar.Status})
		return
	}
	http.Redirect(w, r, s.RepoURL(repo), http.StatusSeeOther)
}

// readAnswers reads the body as JSON (an object of answers) or as a form.
func readAnswers(r *http.Request) (func(string) (any, bool), bool, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForm+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > maxForm {
		return nil, false, haven.Errorf(haven.ETooLarge, "The form is too large")
	}
	if ct == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false, haven.Errorf(haven.EInvalid, "Invalid form: %v", err)
		}
		return func(k string) (any, bool) {
			v, ok := vals[k]
			if !ok || len(v) == 0 {
				return nil, false
			}
			return v[0], true
		}, false, nil
	}
	m := map[string]any{}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, false, haven.Errorf(haven.EInvalid, "Invalid JSON body: %v", err)
		}
	}
	return func(k string) (any, bool) { v, ok := m[k]; return v, ok }, true, nil
}

// mayDecide checks that the caller may manage the requests of a gated repo.
func (s *Service) mayDecide(w http.ResponseWriter, r *http.Request, repo *haven.Repo) bool {
	if err := auth.CanDecideAccess(hubhttp.Actor(r), repo); err != nil {
		s.writeError(w, r, err)
		return false
	}
	if repo.Gated == "" {
		s.writeError(w, r, errNotGated(repo))
		return false
	}
	return true
}

// handleList lists the requests in one status, oldest first, with a Link
// to the next page when limit cuts the list.
func (s *Service) handleList(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	if len(rest) != 1 {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	st, err := haven.ParseAccessStatus(rest[0])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.mayDecide(w, r, repo) {
		return
	}
	q := r.URL.Query()
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.writeError(w, r, haven.Errorf(haven.EInvalid, "Invalid limit %q", v))
			return
		}
		limit = min(n, 1000)
	}
	skip := 0
	if v := q.Get("cursor"); v != "" {
		skip, _ = strconv.Atoi(v)
	}
	list, err := s.cfg.Meta.AccessRequests(r.Context(), repo.ID, st)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list = list[min(skip, len(list)):]
	if len(list) > limit {
		next := s.cfg.PublicURL + "/api/" + repo.Type.Plural() + "/" + repo.FullName() + "/user-access-request/" + string(st) +
			"?limit=" + strconv.Itoa(limit) + "&cursor=" + strconv.Itoa(skip+limit)
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next))
		list = list[:limit]
	}
	out := make([]map[string]any, 0, len(list))
	for _, ar := range list {
		out = append(out, RequestJSON(ar))
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// RequestJSON is the Hub's object of a request in a list.
func RequestJSON(ar *haven.AccessRequest) map[string]any {
	user := map[string]any{
		"_id":              ObjectID(ar.User.ID),
		"user":             ar.User.Name,
		"fullname":         ar.User.FullName,
		"avatarUrl":        haven.AvatarURL(ar.User.Name),
		"isPro":            false,
		"type":             "user",
		"verifiedOrgNames": []string{},
	}
	// Users let in by an owner did not give their address with a request.
	if !ar.Granted && ar.User.Email != "" {
		user["email"] = ar.User.Email
	}
	out := map[string]any{
		"user":      user,
		"requestId": ObjectID(ar.ID),
		"status":    ar.Status,
		"timestamp": hubTime(ar.CreatedAt),
		"grantedBy": map[string]any{},
	}
	if ar.DecidedBy != "" {
		out["grantedBy"] = map[string]any{"user": ar.DecidedBy, "type": "user"}
	}
	if !ar.DecidedAt.IsZero() {
		out["reviewedAt"] = hubTime(ar.DecidedAt)
	}
	if ar.Reason != "" {
		out["rejectionReason"] = ar.Reason
	}
	if len(ar.Fields) > 0 {
		out["fields"] = ar.Fields
	}
	return out
}

// ObjectID writes a row id as the 24 lowercase hex digits the Hub's ids have.
func ObjectID(id int64) string { return fmt.Sprintf("%024x", id) }

func parseObjectID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 16, 64)
	return id, err == nil && len(s) == 24 && id > 0
}

func hubTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// target is who a decision is about: {"user": name}, {"userId": id} or
// {"requestId": id}.
type target struct {
	User      string `json:"user"`
	UserID    string `json:"userId"`
	RequestID string `json:"requestId"`
}

// userOf finds the user a decision is about.
func (s *Service) userOf(r *http.Request, repo *haven.Repo, t target) (*haven.User, error) {
	switch {
	case t.User != "":
		u, err := s.cfg.Meta.UserByName(r.Context(), t.User)
		if err == nil && u.IsOrg {
			err = haven.Errorf(haven.ENotFound, "User %s not found", t.User)
		}
		return u, err
	case t.UserID != "":
		id, ok := parseObjectID(t.UserID)
		if !ok {
			return nil, haven.Errorf(haven.ENotFound, "User %s not found", t.UserID)
		}
		return s.cfg.Meta.UserByID(r.Context(), id)
	case t.RequestID != "":
		id, ok := parseObjectID(t.RequestID)
		if !ok {
			return nil, haven.Errorf(haven.ENotFound, "No access request found with id %s", t.RequestID)
		}
		ar, err := s.cfg.Meta.AccessRequestByID(r.Context(), repo.ID, id)
		if err != nil {
			return nil, err
		}
		return ar.User, nil
	}
	return nil, haven.Errorf(haven.EInvalid, "Expected user, userId or requestId")
}

// handleDecide moves a request to another status: accepted, rejected (with
// an optional reason for the requester) or back to pending.
func (s *Service) handleDecide(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	if !s.mayDecide(w, r, repo) {
		return
	}
	var body struct {
		target
		Status          string `json:"status"`
		RejectionReason string `json:"rejectionReason"`
	}
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := haven.ParseAccessStatus(body.Status)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len([]rune(body.RejectionReason)) > maxReason {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "The rejection reason is too long (at most %d characters)", maxReason))
		return
	}
	if body.RejectionReason != "" && st != haven.AccessRejected {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "A rejection reason goes only with status rejected"))
		return
	}
	u, err := s.userOf(r, repo, body.target)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ar, err := s.cfg.Meta.DecideAccess(s.audited(r, repo, u, string(st), body.RejectionReason), repo.ID, u.ID, st, body.RejectionReason, hubhttp.Actor(r).User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changed()
	s.log.InfoContext(r.Context(), "access request decided", "repo", repo.FullName(), "type", repo.Type, "user", u.Name, "status", st, "by", hubhttp.Actor(r).Name())
	s.notifyRequester(r, repo, u, string(st), body.RejectionReason)
	hubhttp.WriteJSON(w, http.StatusOK, RequestJSON(ar))
}

// handleGrant lets a user in without a request of theirs. The Python
// client reads the answer as JSON.
func (s *Service) handleGrant(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	if !s.mayDecide(w, r, repo) {
		return
	}
	var body target
	if err := hubhttp.DecodeJSON(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.RequestID != "" {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "Expected user or userId"))
		return
	}
	u, err := s.userOf(r, repo, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if auth.CanDownload(&auth.Actor{User: u}, repo, "") == nil {
		s.writeError(w, r, haven.Errorf(haven.EInvalid, "The user %s already has access to %s", u.Name, repo.FullName()))
		return
	}
	ar, err := s.cfg.Meta.GrantAccess(s.audited(r, repo, u, "granted", ""), repo.ID, u.ID, hubhttp.Actor(r).User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changed()
	s.log.InfoContext(r.Context(), "access granted", "repo", repo.FullName(), "type", repo.Type, "user", u.Name, "by", hubhttp.Actor(r).Name())
	s.notifyRequester(r, repo, u, "granted", "")
	hubhttp.WriteJSON(w, http.StatusOK, RequestJSON(ar))
}

// handleCancel withdraws the caller's own request, so that they may ask
// again. A rejected request stays: rejected users cannot ask again.
func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	a := hubhttp.Actor(r)
	if a.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be signed in to cancel a request"))
		return
	}
	ar, err := s.cfg.Meta.AccessRequestOf(r.Context(), repo.ID, a.User.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ar.Status == haven.AccessRejected {
		s.writeError(w, r, haven.Errorf(haven.EForbidden, "Your request was rejected by the repo's authors"))
		return
	}
	if err := s.cfg.Meta.DeleteAccessRequest(r.Context(), repo.ID, a.User.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changed()
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
}

// audit records a gating decision about user's access to repo.
func (s *Service) audit(r *http.Request, repo *haven.Repo, user *haven.User, status, reason string) {
	hubhttp.Audit(s.cfg.Audit, r, decisionEntry(repo, user, status, reason))
}

// audited returns the request's context carrying the audit entry of a
// gating decision, which the store writes in the transaction that makes
// it; without an audit log, the context as it is.
func (s *Service) audited(r *http.Request, repo *haven.Repo, user *haven.User, status, reason string) context.Context {
	if s.cfg.Audit == nil {
		return r.Context()
	}
	return haven.WithAudit(r.Context(), hubhttp.AuditEntry(r, decisionEntry(repo, user, status, reason)))
}

func decisionEntry(repo *haven.Repo, user *haven.User, status, reason string) haven.AuditEntry {
	details := map[string]any{"user": user.Name, "status": status, "repoType": string(repo.Type)}
	if reason != "" {
		details["reason"] = reason
	}
	return haven.AuditEntry{Action: haven.AuditAccessDecision, Namespace: repo.Namespace,
		TargetType: haven.AuditTargetRepo, Target: repo.FullName(), Details: details}
}
