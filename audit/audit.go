// Package audit is the audit log: it records the security-relevant actions
// the other packages tell it through haven.Auditor (sign-ins, tokens,
// repository creation, settings, moves and deletions, roles, gating
// decisions, webhooks, merges) and serves a namespace's log to its admins
// at /api/organizations/{org}/audit-log and /api/users/{name}/audit-log, as
// JSON or JSON Lines.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// Config is what the audit log needs.
type Config struct {
	Meta      *meta.Store
	PublicURL string
	Logger    *slog.Logger
}

// Service records and serves the audit log. It implements haven.Auditor and
// api.Routes.
type Service struct {
	cfg Config
}

// New returns the audit log service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Service{cfg: cfg}
}

var _ haven.Auditor = (*Service)(nil)

// Record appends e to the log. The action it records has happened already,
// so a failure is logged rather than returned.
func (s *Service) Record(ctx context.Context, e haven.AuditEntry) {
	if err := s.cfg.Meta.AddAuditEntry(ctx, &e); err != nil {
		s.cfg.Logger.Error("audit: cannot record", "action", e.Action, "target", e.Target, "err", err)
	}
}

// Message says in words what an entry records, for people.
func Message(e *haven.AuditEntry) string {
	who := e.ActorName
	if who == "" {
		who = "the administrator"
	}
	var what string
	switch e.Action {
	case haven.AuditSignIn:
		what = "signed in"
		if m, _ := e.Details["method"].(string); m != "" {
			what += " with " + m
		}
	case haven.AuditSignInFailed:
		what = "failed to sign in as " + e.Target
	case haven.AuditTokenCreate:
		what = "created token " + tokenName(e)
	case haven.AuditTokenRevoke:
		what = "revoked token " + tokenName(e)
	case haven.AuditRepoCreate:
		what = "created " + e.Target
	case haven.AuditRepoDelete:
		what = "deleted " + e.Target
	case haven.AuditRepoMove:
		what = fmt.Sprintf("moved %s to %v", e.Target, e.Details["to"])
	case haven.AuditRepoSettings:
		what = "updated the settings of " + e.Target
	case haven.AuditOrgAddUser:
		what = fmt.Sprintf("added %s to %s as %v", e.Target, e.Namespace, e.Details["role"])
	case haven.AuditOrgRemoveUser:
		what = fmt.Sprintf("removed %s from %s", e.Target, e.Namespace)
	case haven.AuditOrgChangeRole:
		what = fmt.Sprintf("changed the role of %s in %s to %v", e.Target, e.Namespace, e.Details["role"])
	case haven.AuditAccessDecision:
		what = fmt.Sprintf("set the access request of %v to %s to %v", e.Details["user"], e.Target, e.Details["status"])
	case haven.AuditWebhookCreate:
		what = "created webhook " + e.Target
	case haven.AuditWebhookUpdate:
		what = "updated webhook " + e.Target
	case haven.AuditWebhookDelete:
		what = "deleted webhook " + e.Target
	case haven.AuditDiscussionMerge:
		what = "merged " + e.Target
	case haven.AuditLogExport:
		what = "exported the audit log of " + e.Namespace
	case haven.AuditOrgInvite:
		what = fmt.Sprintf("invited %s to %s as %v", e.Target, e.Namespace, e.Details["role"])
	case haven.AuditOrgInviteAccept:
		what = fmt.Sprintf("joined %s as %v", e.Namespace, e.Details["role"])
	case haven.AuditOrgInviteDecline:
		what = "declined the invitation to " + e.Namespace
	case haven.AuditOrgInviteCancel:
		what = fmt.Sprintf("withdrew the invitation of %s to %s", e.Target, e.Namespace)
	default:
		what = e.Action + " " + e.Target
	}
	return who + " " + strings.TrimSpace(what)
}

func tokenName(e *haven.AuditEntry) string {
	if n, _ := e.Details["name"].(string); n != "" {
		return fmt.Sprintf("%q", n)
	}
	return e.Target
}

// JSON is an entry as the API gives it: the Hub's audit event keys (_id,
// createdAt, type, message, author, data, ip, userAgent, token) with the
// namespace and target it concerns.
func JSON(e *haven.AuditEntry) map[string]any {
	author := map[string]any{"type": e.ActorType, "user": e.ActorName}
	if e.ActorID != 0 {
		author["_id"] = fmt.Sprintf("%024x", e.ActorID)
	}
	out := map[string]any{
		"_id":       e.ID,
		"createdAt": e.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		"type":      e.Action,
		"message":   Message(e),
		"author":    author,
		"namespace": e.Namespace,
		"target":    map[string]any{"type": e.TargetType, "name": e.Target},
		"data":      orEmpty(e.Details),
		"ip":        e.IP,
		"userAgent": e.UserAgent,
	}
	if e.TokenID != 0 {
		out["token"] = map[string]any{"type": "access_token", "id": fmt.Sprint(e.TokenID)}
	}
	return out
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ParseTime reads a from or to filter: RFC 3339, or a date (the day's
// start for from; for to, the end of that day, so "to=2026-06-20"
// includes the 20th).
func ParseTime(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, haven.Errorf(haven.EInvalid, "Invalid time %q: use RFC 3339 (2026-06-20T09:00:00Z) or a date (2026-06-20)", v)
	}
	if end {
		t = t.Add(24*time.Hour - time.Microsecond)
	}
	return t, nil
}

// TokenDetails are the details of a token's creation: its name, role,
// expiry and scopes, never its value.
func TokenDetails(t *haven.Token) map[string]any {
	d := map[string]any{"name": t.DisplayName, "role": string(t.Role)}
	if !t.ExpiresAt.IsZero() {
		d["expiresAt"] = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if t.FineGrained != nil {
		var scopes []string
		for _, sc := range t.FineGrained.Scoped {
			scopes = append(scopes, sc.Entity.Type+":"+sc.Entity.Name+"="+strings.Join(sc.Permissions, ","))
		}
		d["scopes"] = scopes
		d["global"] = t.FineGrained.Global
	}
	return d
}
