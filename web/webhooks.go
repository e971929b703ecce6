package web

import (
	"context"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// WebhookPages is what the webhook settings pages need; the webhooks
// package serves it. Changes go through its JSON API from the pages'
// script.
type WebhookPages interface {
	List(ctx context.Context, a *auth.Actor) ([]*haven.Webhook, error)
	// Get returns a webhook of the actor; others' are not found.
	Get(ctx context.Context, a *auth.Actor, id string) (*haven.Webhook, error)
	Deliveries(ctx context.Context, w *haven.Webhook, limit int) ([]*haven.WebhookDelivery, error)
}

type webhooksData struct {
	Hooks []*haven.Webhook
}

type webhookData struct {
	Hook       *haven.Webhook
	Deliveries []*haven.WebhookDelivery
}

// deliveriesShown is how much of a webhook's log its page shows.
const deliveriesShown = 50

// webhooks answers GET /settings/webhooks: the signed-in user's webhooks
// and the form for a new one.
func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if h.Webhooks == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		h.notFound(w, r)
		return
	}
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to manage your webhooks."))
		return
	}
	hooks, err := h.Webhooks.List(r.Context(), a)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "webhooks", "Webhooks", webhooksData{Hooks: hooks})
}

// webhook answers GET /settings/webhooks/{id}: its settings and its
// delivery log with a replay button per entry.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request, id string) {
	a := actorOf(r)
	if h.Webhooks == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		h.notFound(w, r)
		return
	}
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to manage your webhooks."))
		return
	}
	hook, err := h.Webhooks.Get(r.Context(), a, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ds, err := h.Webhooks.Deliveries(r.Context(), hook, deliveriesShown)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "webhook", "Webhook", webhookData{Hook: hook, Deliveries: ds})
}
