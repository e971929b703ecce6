package web

import (
	"net/http"
	"net/url"

	"github.com/havenhub/haven"
)

// notificationPageSize is how many notifications one page shows.
const notificationPageSize = 50

type notificationsData struct {
	List   []*haven.Notification
	Unread int
	Next   string // the cursor of the next (older) page, or ""
}

// notifications answers /notifications: the visitor's notifications,
// newest first, unread ones marked; a POST marks them all read.
func (h *Handler) notifications(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		if r.Method == http.MethodPost {
			h.errorPage(w, r, http.StatusUnauthorized, "You must be signed in to do this.")
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodPost {
		if err := h.meta.MarkNotificationsRead(r.Context(), a.User.ID); err != nil {
			h.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/notifications", http.StatusSeeOther)
		return
	}
	list, err := h.meta.Notifications(r.Context(), a.User.ID, r.URL.Query().Get("cursor"), notificationPageSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := notificationsData{List: list}
	for _, n := range list {
		if !n.Read {
			d.Unread++
		}
	}
	if len(list) == notificationPageSize {
		d.Next = list[len(list)-1].ID
	}
	h.render(w, r, http.StatusOK, "notifications", "Notifications", d)
}
