package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
)

// RepoAction implements api.Routes; webhooks have no repository actions.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves /api/settings/webhooks and everything under it.
func (s *Service) API(first string) http.Handler {
	if first != "settings" {
		return nil
	}
	return http.HandlerFunc(s.serveAPI)
}

var _ api.Routes = (*Service)(nil)

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.cfg.Logger, w, r, err)
}

// serveAPI routes /api/settings/webhooks[/{id}[/enable|/disable|/replay/{logId}]].
func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	segs, err := hubhttp.Segments(r, 2)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) == 0 || segs[0] != "webhooks" {
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		return
	}
	segs = segs[1:]
	a := hubhttp.Actor(r)
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	if err := auth.CanManageWebhooks(a, !get); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(segs) == 0 {
		switch {
		case get:
			s.handleList(w, r, a)
		case post:
			s.handleCreate(w, r, a)
		default:
			s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
		}
		return
	}
	hook, err := s.Get(r.Context(), a, segs[0])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case len(segs) == 1 && get:
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook": s.JSON(hook)})
	case len(segs) == 1 && post:
		s.handleUpdate(w, r, hook)
	case len(segs) == 1 && r.Method == http.MethodDelete:
		if err := s.cfg.Meta.DeleteWebhook(r.Context(), hook.ID); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.audit(r, haven.AuditWebhookDelete, hook)
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
	case len(segs) == 2 && post && (segs[1] == "enable" || segs[1] == "disable"):
		hook.Disabled = segs[1] == "disable"
		if err := s.cfg.Meta.UpdateWebhook(r.Context(), hook); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.audit(r, haven.AuditWebhookUpdate, hook)
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook": s.JSON(hook)})
	case len(segs) == 2 && get && segs[1] == "deliveries":
		s.handleDeliveries(w, r, hook)
	case len(segs) == 3 && post && segs[1] == "replay":
		status, err := s.Replay(r.Context(), hook, segs[2])
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"status": status})
	default:
		s.writeError(w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

// Get returns a webhook of the actor; other people's webhooks are not
// found, as missing ones.
func (s *Service) Get(ctx context.Context, a *auth.Actor, id string) (*haven.Webhook, error) {
	w, err := s.cfg.Meta.WebhookByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Anonymous() || w.OwnerID != a.User.ID {
		return nil, haven.Errorf(haven.ENotFound, "Webhook not found")
	}
	return w, nil
}

// List returns the webhooks of the actor.
func (s *Service) List(ctx context.Context, a *auth.Actor) ([]*haven.Webhook, error) {
	if a.Anonymous() {
		return nil, nil
	}
	return s.cfg.Meta.ListWebhooks(ctx, a.User.ID)
}

// Deliveries returns the latest entries of a webhook's delivery log,
// newest first.
func (s *Service) Deliveries(ctx context.Context, w *haven.Webhook, limit int) ([]*haven.WebhookDelivery, error) {
	return s.cfg.Meta.WebhookDeliveries(ctx, w.ID, limit)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, a *auth.Actor) {
	hooks, err := s.List(r.Context(), a)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, s.JSON(h))
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// webhookRequest is the body of create and update.
type webhookRequest struct {
	URL         *string             `json:"url"`
	Watched     []haven.WatchedItem `json:"watched"`
	Domains     []string            `json:"domains"`
	Secret      *string             `json:"secret"`
	JobSourceID *string             `json:"jobSourceId"`
	Job         map[string]any      `json:"job"`
	Secrets     map[string]*string  `json:"secrets"`
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, a *auth.Actor) {
	var req webhookRequest
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	hook := &haven.Webhook{ID: newWebhookID(), OwnerID: a.User.ID}
	if err := s.apply(r.Context(), a, hook, &req, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Meta.CreateWebhook(r.Context(), hook); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, haven.AuditWebhookCreate, hook)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook": s.JSON(hook)})
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request, hook *haven.Webhook) {
	var req webhookRequest
	if err := hubhttp.DecodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.apply(r.Context(), hubhttp.Actor(r), hook, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.cfg.Meta.UpdateWebhook(r.Context(), hook); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, haven.AuditWebhookUpdate, hook)
	hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"webhook": s.JSON(hook)})
}

func (s *Service) handleDeliveries(w http.ResponseWriter, r *http.Request, hook *haven.Webhook) {
	ds, err := s.Deliveries(r.Context(), hook, 100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, map[string]any{
			"id": d.ID, "event": d.Event, "status": d.Status, "durationMs": d.Duration.Milliseconds(),
			"response": d.Response, "error": d.Error, "attempt": d.Attempt, "ok": d.OK(),
			"createdAt": d.CreatedAt.Format("2006-01-02T15:04:05.000Z"),
		})
	}
	hubhttp.WriteJSON(w, http.StatusOK, out)
}

// Limits on what a webhook holds.
const (
	maxWatched = 100
	maxURL     = 2048
	maxSecret  = 256
)

var watchTypes = map[string]bool{"user": true, "org": true, "model": true, "dataset": true, "space": true}

// apply checks a create or update request and sets its fields on hook.
// On update, missing or empty watched and domains leave them as they are
// (the Python client sends "watched": [] when only the URL changes).
func (s *Service) apply(ctx context.Context, a *auth.Actor, hook *haven.Webhook, req *webhookRequest, create bool) error {
	if req.Job != nil {
		return haven.Errorf(haven.EInvalid, "Give the job a webhook runs as jobSourceId, the id of a job to run again")
	}
	if req.URL != nil && req.JobSourceID != nil {
		return haven.Errorf(haven.EInvalid, "A webhook has a url or a jobSourceId, not both")
	}
	if req.Secrets != nil && req.JobSourceID == nil && hook.JobSourceID == "" {
		return haven.Errorf(haven.EInvalid, "secrets are for webhooks that run a job (jobSourceId)")
	}
	if req.JobSourceID != nil {
		if s.cfg.Jobs == nil {
			return haven.Errorf(haven.EInvalid, "This hub runs no jobs: give the webhook a url")
		}
		if _, err := s.cfg.Jobs.JobSource(ctx, a, *req.JobSourceID); err != nil {
			return err
		}
		hook.JobSourceID, hook.URL = *req.JobSourceID, ""
	}
	if req.Secrets != nil {
		secrets := map[string]string{}
		for k, v := range req.Secrets {
			if v != nil {
				secrets[k] = *v
			}
		}
		sealed, err := s.cfg.Jobs.SealWebhookSecrets(hook.ID, secrets)
		if err != nil {
			return err
		}
		hook.JobSecrets = sealed
	}
	if req.URL != nil {
		u := strings.TrimSpace(*req.URL)
		if len(u) > maxURL {
			return haven.Errorf(haven.EInvalid, "The webhook URL is longer than %d characters", maxURL)
		}
		if err := CheckURL(ctx, s.cfg.Resolver, u, s.cfg.AllowPrivate); err != nil {
			return err
		}
		hook.URL, hook.JobSourceID, hook.JobSecrets = u, "", ""
	} else if create && hook.JobSourceID == "" {
		return haven.Errorf(haven.EInvalid, "A webhook needs a url, or a jobSourceId to run a job")
	}
	if len(req.Watched) > 0 || create {
		if len(req.Watched) == 0 {
			return haven.Errorf(haven.EInvalid, "A webhook must watch at least one user, organization or repository")
		}
		if len(req.Watched) > maxWatched {
			return haven.Errorf(haven.EInvalid, "A webhook watches at most %d items", maxWatched)
		}
		var watched []haven.WatchedItem
		for _, it := range req.Watched {
			if !watchTypes[it.Type] {
				return haven.Errorf(haven.EInvalid, "Invalid watched type %q: expected user, org, model, dataset or space", it.Type)
			}
			ok := haven.ValidName(it.Name)
			if it.Type != "user" && it.Type != "org" {
				_, err := haven.ParseRepoID(it.Name)
				ok = err == nil
			}
			if !ok {
				return haven.Errorf(haven.EInvalid, "Invalid watched %s name %q", it.Type, it.Name)
			}
			watched = append(watched, haven.WatchedItem{Type: it.Type, Name: it.Name})
		}
		hook.Watched = watched
	}
	if len(req.Domains) > 0 || create {
		if len(req.Domains) == 0 {
			return haven.Errorf(haven.EInvalid, "A webhook needs at least one domain: repo or discussion")
		}
		var domains []string
		seen := map[string]bool{}
		for _, d := range req.Domains {
			switch d {
			case "repo":
			case "discussion", "discussions":
				d = haven.DomainDiscussion
			default:
				return haven.Errorf(haven.EInvalid, "Invalid domain %q: expected repo or discussion", d)
			}
			if !seen[d] {
				seen[d] = true
				domains = append(domains, d)
			}
		}
		hook.Domains = domains
	}
	if req.Secret != nil {
		if len(*req.Secret) > maxSecret {
			return haven.Errorf(haven.EInvalid, "The secret is longer than %d characters", maxSecret)
		}
		for _, c := range *req.Secret {
			if c < 0x20 || c > 0x7e {
				return haven.Errorf(haven.EInvalid, "The secret must be printable ASCII: it is sent in a header")
			}
		}
		hook.Secret = *req.Secret
	}
	return nil
}

// newWebhookID is a webhook's id, 24 hex digits as the Hub's; set before it
// is stored so that its jobs' secrets are sealed to it.
func newWebhookID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// JSON is the Hub's webhook object. The secret is given back to its owner,
// the only one who sees the webhook, since the Python client reads it.
func (s *Service) JSON(w *haven.Webhook) map[string]any {
	watched := make([]map[string]any, 0, len(w.Watched))
	for _, it := range w.Watched {
		watched = append(watched, map[string]any{"type": it.Type, "name": it.Name})
	}
	out := map[string]any{
		"id": w.ID, "url": w.URL, "watched": watched, "domains": w.Domains, "disabled": w.Disabled,
		"hasSecret": w.Secret != "",
	}
	if w.JobSourceID != "" {
		out["url"], out["jobSourceId"] = nil, w.JobSourceID
		if s.cfg.Jobs != nil {
			if spec := s.cfg.Jobs.SourceSpec(context.Background(), w.JobSourceID); spec != nil {
				out["job"] = spec
			}
		}
	}
	if w.Secret != "" {
		out["secret"] = w.Secret
	}
	if !w.LastTriggerAt.IsZero() {
		out["lastTriggerAt"] = w.LastTriggerAt.Format("2006-01-02T15:04:05.000Z")
	}
	return out
}

// audit records a change of hook in its owner's log. The secret stays out
// of it; whether there is one is enough.
func (s *Service) audit(r *http.Request, action string, hook *haven.Webhook) {
	if s.cfg.Audit == nil {
		return
	}
	watched := make([]string, 0, len(hook.Watched))
	for _, it := range hook.Watched {
		watched = append(watched, it.Type+":"+it.Name)
	}
	hubhttp.Audit(s.cfg.Audit, r, haven.AuditEntry{Action: action, Namespace: hook.Owner, TargetType: haven.AuditTargetWebhook,
		Target: hook.ID, Details: map[string]any{"url": hook.URL, "watched": watched, "domains": hook.Domains,
			"disabled": hook.Disabled, "hasSecret": hook.Secret != ""}})
}
