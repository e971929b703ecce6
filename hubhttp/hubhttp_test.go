package hubhttp

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// TestActorInContext: the caller set on a request that has an id is
// recorded without copying the request; one given by WithActor further in
// wins; a request without either is anonymous.
func TestActorInContext(t *testing.T) {
	alice := &auth.Actor{User: &haven.User{Name: "alice"}}
	bob := &auth.Actor{User: &haven.User{Name: "bob"}}

	r := httptest.NewRequest("GET", "/api/whoami-v2", nil)
	if a := Actor(r); a == nil || a.User != nil {
		t.Fatalf("Actor of a bare request = %+v, want anonymous", a)
	}
	if got := SetActor(r, alice); got == r || Actor(got) != alice {
		t.Errorf("SetActor without a request id: same request %v, actor %v", got == r, Actor(got))
	}

	r = r.WithContext(WithRequestID(r.Context(), "req-1"))
	if a := Actor(r); a.User != nil {
		t.Fatalf("Actor before SetActor = %+v, want anonymous", a)
	}
	if got := SetActor(r, alice); got != r {
		t.Error("SetActor copied a request that carries a request id")
	}
	if Actor(r) != alice || RequestID(r.Context()) != "req-1" {
		t.Errorf("after SetActor: actor %v, id %q", Actor(r), RequestID(r.Context()))
	}
	inner := r.WithContext(WithActor(r.Context(), bob))
	if Actor(inner) != bob {
		t.Errorf("WithActor's caller does not win: %v", Actor(inner))
	}
	if RequestID(context.Background()) != "" {
		t.Error("RequestID of a bare context is not empty")
	}
}
