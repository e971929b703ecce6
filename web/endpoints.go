package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/endpoints"
)

// EndpointPages is what the inference endpoint pages need of the
// endpoints service.
type EndpointPages interface {
	Views(a *auth.Actor, ns string) ([]endpoints.View, error)
	View(a *auth.Actor, ns, name string) (endpoints.View, error)
	Rollback(ctx context.Context, a *auth.Actor, ns, name string) error
}

// routeEndpoints serves /endpoints/{ns}, /endpoints/{ns}/{name} and the
// rollback form.
func (h *Handler) routeEndpoints(w http.ResponseWriter, r *http.Request, segs []string) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case len(segs) == 1 && get:
		list, err := h.Endpoints.Views(actorOf(r), segs[0])
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, r, http.StatusOK, "endpoints", "Inference endpoints of "+segs[0], endpointsData{Namespace: segs[0], Endpoints: list})
	case len(segs) == 2 && get:
		v, err := h.Endpoints.View(actorOf(r), segs[0], segs[1])
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d := endpointData{View: v, CanManage: auth.CanManageEndpoints(actorOf(r), segs[0], true) == nil}
		h.render(w, r, http.StatusOK, "endpoint", v.Name+" · inference endpoint", d)
	case len(segs) == 3 && segs[2] == "rollback" && r.Method == http.MethodPost:
		if err := h.Endpoints.Rollback(r.Context(), actorOf(r), segs[0], segs[1]); err != nil {
			h.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/endpoints/"+url.PathEscape(segs[0])+"/"+url.PathEscape(segs[1]), http.StatusSeeOther)
	default:
		h.notFound(w, r)
	}
}

type endpointsData struct {
	Namespace string
	Endpoints []endpoints.View
}

type endpointData struct {
	endpoints.View
	CanManage bool
}
