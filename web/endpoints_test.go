package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/endpoints"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/web"
)

type fakeEndpoints struct{ rolledBack string }

var fakeView = endpoints.View{Namespace: "alice", Name: "ep", Type: "public", State: "running", URL: "http://hub/e/alice/ep",
	Repository: "alice/tiny", Commit: "0123456789abcdef", Compute: "haven-local-cpu-x2", Ready: 2, Target: 2,
	Revisions: []endpoints.RevisionView{
		{ID: "r2", Commit: "0123456789abcdef", State: "ready", Percent: 50, Requests: 40, Errors: 1, P50: 31, P95: 40, P99: 44},
		{ID: "r1", Commit: "fedcba9876543210", State: "ready", Percent: 50, Requests: 38, P50: 12, P95: 15, P99: 16},
	},
	CompareA: "r1", CompareB: "r2", Verdict: "r2 is slower than r1, p<0.001", LastGood: "r1"}

func (f *fakeEndpoints) Views(a *auth.Actor, ns string) ([]endpoints.View, error) {
	return []endpoints.View{fakeView}, nil
}

func (f *fakeEndpoints) View(a *auth.Actor, ns, name string) (endpoints.View, error) {
	if name != "ep" {
		return endpoints.View{}, haven.Errorf(haven.ENotFound, "Endpoint not found")
	}
	return fakeView, nil
}

func (f *fakeEndpoints) Rollback(_ context.Context, a *auth.Actor, ns, name string) error {
	f.rolledBack = ns + "/" + name
	return nil
}

func TestEndpointPages(t *testing.T) {
	st := storetest.Open(t)
	pages, err := web.New(web.Config{Meta: st.Meta, Git: st.Git, PublicURL: "http://hub"})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeEndpoints{}
	pages.Endpoints = fake
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		pages.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	code, body := get("/endpoints/alice")
	if code != http.StatusOK || !strings.Contains(body, `href="/endpoints/alice/ep"`) || !strings.Contains(body, "running") {
		t.Errorf("list: %d\n%s", code, body)
	}
	code, body = get("/endpoints/alice/ep")
	for _, want := range []string{"http://hub/e/alice/ep", `data-revision="r2"`, "50%", "31 / 40 / 44", "r2 is slower than r1, p&lt;0.001"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if code != http.StatusOK {
		t.Errorf("page: %d", code)
	}
	if code, _ := get("/endpoints/alice/nope"); code != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", code)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "http://hub/endpoints/alice/ep/rollback", nil)
	r.Header.Set("Origin", "http://hub")
	pages.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || fake.rolledBack != "alice/ep" {
		t.Errorf("rollback: %d %q", w.Code, fake.rolledBack)
	}
}
