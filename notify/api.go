package notify

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/hubhttp"
)

var _ api.Routes = (*Service)(nil)

// RepoAction implements api.Routes; notifications have no repository
// actions.
func (s *Service) RepoAction(haven.RepoType, string, string) api.RepoHandler { return nil }

// API serves GET /api/notifications (the caller's notifications, newest
// first, with limit and cursor) and POST /api/notifications/read (mark
// them all read).
func (s *Service) API(first string) http.Handler {
	if first != "notifications" {
		return nil
	}
	return http.HandlerFunc(s.serveAPI)
}

func (s *Service) serveAPI(w http.ResponseWriter, r *http.Request) {
	a := hubhttp.Actor(r)
	if a.Anonymous() {
		hubhttp.WriteError(s.cfg.Logger, w, r, haven.Errorf(haven.EUnauthorized, "You must be signed in to read your notifications"))
		return
	}
	rest := strings.Trim(strings.TrimPrefix(strings.Trim(r.URL.Path, "/"), "api/notifications"), "/")
	switch {
	case rest == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.list(w, r, a.User.ID)
	case rest == "read" && r.Method == http.MethodPost:
		if err := s.cfg.Meta.MarkNotificationsRead(r.Context(), a.User.ID); err != nil {
			hubhttp.WriteError(s.cfg.Logger, w, r, err)
			return
		}
		hubhttp.WriteJSON(w, http.StatusOK, map[string]any{})
	default:
		hubhttp.WriteError(s.cfg.Logger, w, r, haven.Errorf(haven.ENotFound, "Not Found"))
	}
}

func (s *Service) list(w http.ResponseWriter, r *http.Request, userID int64) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			hubhttp.WriteError(s.cfg.Logger, w, r, haven.Errorf(haven.EInvalid, "Invalid limit %q", v))
			return
		}
		limit = n
	}
	list, err := s.cfg.Meta.Notifications(r.Context(), userID, q.Get("cursor"), limit)
	if err == nil {
		var unread int
		unread, err = s.cfg.Meta.UnreadNotifications(r.Context(), userID)
		if err == nil {
			out := make([]map[string]any, 0, len(list))
			for _, n := range list {
				out = append(out, JSON(n))
			}
			hubhttp.WriteJSON(w, http.StatusOK, map[string]any{"notifications": out, "unread": unread})
			return
		}
	}
	hubhttp.WriteError(s.cfg.Logger, w, r, err)
}

// JSON is a notification as the API gives it.
func JSON(n *haven.Notification) map[string]any {
	return map[string]any{
		"id":        n.ID,
		"createdAt": n.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		"type":      n.Kind,
		"actor":     n.Actor,
		"subject":   n.Subject,
		"body":      n.Body,
		"url":       n.URL,
		"read":      n.Read,
	}
}
