package access_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/access"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
)

type hub struct {
	t      *testing.T
	url    string
	meta   *meta.Store
	tokens map[string]string // user → write token
}

func newHub(t *testing.T) *hub {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	h := &hub{t: t, meta: st.Meta, tokens: map[string]string{}}
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	var srv *api.Server
	gates := access.New(access.Config{Meta: st.Meta, PublicURL: ts.URL, Changed: func() { srv.ForgetTokens() }})
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL,
		Secret: []byte("test-secret-test-secret-test-secret"), Routes: []api.Routes{gates}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv
	h.url = ts.URL
	for _, name := range []string{"alice", "bob", "carol"} {
		u := &haven.User{Name: name, Email: name + "@example.com"}
		if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		plain, hash := auth.NewToken()
		if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "t", Role: haven.RoleWrite}, hash); err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = plain
	}
	return h
}

// gatedRepo creates alice's repository name, gated as gated, whose card
// asks for a company and a country.
func (h *hub) gatedRepo(name, gated string) {
	h.t.Helper()
	ctx := context.Background()
	r := &haven.Repo{Type: haven.Model, Namespace: "alice", Name: name, Gated: gated}
	if err := h.meta.CreateRepo(ctx, r); err != nil {
		h.t.Fatal(err)
	}
	err := h.meta.UpdateRepoContent(ctx, r.ID, meta.RepoContent{CardData: map[string]any{
		"extra_gated_fields": map[string]any{"Company": "text", "Country": "country"},
	}})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *hub) do(method, path, user, contentType, body string) (int, http.Header, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

const js = "application/json"

func TestAccessRequests(t *testing.T) {
	h := newHub(t)
	h.gatedRepo("manual", "manual")
	h.gatedRepo("auto", "auto")
	if err := h.meta.CreateRepo(context.Background(), &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "open"}); err != nil {
		t.Fatal(err)
	}
	const base = "/api/models/alice/manual"
	answers := `{"Company":"ACME","Country":"fr","Other":"dropped"}`

	steps := []struct {
		name                       string
		method, path, user, ct, in string
		status                     int
		want                       string // in the body or X-Error-Message
	}{
		{"anonymous cannot ask", "POST", base + "/ask-access", "", js, answers, 401, "signed in"},
		{"open repo cannot be asked", "POST", "/api/models/alice/open/ask-access", "bob", js, answers, 400, "not gated"},
		{"fields are required", "POST", base + "/ask-access", "bob", js, `{"Company":"ACME"}`, 400, "Country"},
		{"owner has access", "POST", base + "/ask-access", "alice", js, answers, 400, "already have access"},
		{"bob is refused before", "GET", base + "/auth-check", "bob", "", "", 403, "not in the authorized list"},
		{"bob asks", "POST", base + "/ask-access", "bob", js, answers, 200, `"pending"`},
		{"bob asks twice", "POST", base + "/ask-access", "bob", js, answers, 409, "already requested"},
		{"pending is refused", "GET", base + "/auth-check", "bob", "", "", 403, "awaiting a review"},
		{"bob cannot list", "GET", base + "/user-access-request/pending", "bob", "", "", 403, ""},
		{"owner lists pending", "GET", base + "/user-access-request/pending", "alice", "", "", 200, `"fields":{"Company":"ACME","Country":"FR"}`},
		{"the email is there", "GET", base + "/user-access-request/pending", "alice", "", "", 200, `"email":"bob@example.com"`},
		{"not a status", "GET", base + "/user-access-request/maybe", "alice", "", "", 400, ""},
		{"open repo has no requests", "GET", "/api/models/alice/open/user-access-request/pending", "alice", "", "", 400, "not gated"},
		{"reject", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"bob","status":"rejected","rejectionReason":"no"}`, 200, `"rejected"`},
		{"reject twice", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"bob","status":"rejected"}`, 404, "already rejected"},
		{"rejected is refused", "GET", base + "/auth-check", "bob", "", "", 403, "rejected"},
		{"rejected cannot cancel", "POST", base + "/user-access-request/cancel", "bob", "", "", 403, ""},
		{"reason only with rejected", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"bob","status":"accepted","rejectionReason":"x"}`, 400, ""},
		{"accept", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"bob","status":"accepted"}`, 200, `"accepted"`},
		{"accepted downloads", "GET", base + "/auth-check", "bob", "", "", 200, ""},
		{"accepted list", "GET", base + "/user-access-request/accepted", "alice", "", "", 200, `"user":"bob"`},
		{"back to pending", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"bob","status":"pending"}`, 200, `"pending"`},
		{"pending again is refused", "GET", base + "/auth-check", "bob", "", "", 403, "awaiting"},
		{"unknown user", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"nobody","status":"accepted"}`, 404, ""},
		{"no request of carol", "POST", base + "/user-access-request/handle", "alice", js, `{"user":"carol","status":"accepted"}`, 404, ""},
		{"grant carol", "POST", base + "/user-access-request/grant", "alice", js, `{"user":"carol"}`, 200, `"accepted"`},
		{"granted has no email", "GET", base + "/user-access-request/accepted", "alice", "", "", 200, `"user":"carol","verifiedOrgNames":[]}`},
		{"grant twice", "POST", base + "/user-access-request/grant", "alice", js, `{"user":"carol"}`, 400, "already has access"},
		{"grant the owner", "POST", base + "/user-access-request/grant", "alice", js, `{"user":"alice"}`, 400, "already has access"},
		{"carol downloads", "GET", base + "/auth-check", "carol", "", "", 200, ""},
		{"bob cancels his own", "POST", base + "/user-access-request/cancel", "bob", "", "", 200, "{}"},
		{"bob asks by form", "POST", base + "/ask-access", "bob", "application/x-www-form-urlencoded", "Company=ACME&Country=de", 303, ""},
		{"auto accepts", "POST", "/api/models/alice/auto/ask-access", "bob", js, answers, 200, `"accepted"`},
		{"auto downloads", "GET", "/api/models/alice/auto/auth-check", "bob", "", "", 200, ""},
	}
	for _, st := range steps {
		status, hdr, body := h.do(st.method, st.path, st.user, st.ct, st.in)
		if status != st.status {
			t.Fatalf("%s: status %d, want %d: %s", st.name, status, st.status, body)
		}
		if st.want != "" && !strings.Contains(body, st.want) && !strings.Contains(hdr.Get("X-Error-Message"), st.want) {
			t.Fatalf("%s: %q lacks %q", st.name, body, st.want)
		}
		if st.status == 303 && hdr.Get("Location") != h.url+"/alice/manual" {
			t.Fatalf("%s: Location %q", st.name, hdr.Get("Location"))
		}
	}

	// The Python client's listing reads requestId, user.user, status, timestamp.
	_, _, body := h.do("GET", base+"/user-access-request/pending", "alice", "", "")
	var list []map[string]any
	if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || len(list[0]["requestId"].(string)) != 24 || !strings.HasSuffix(list[0]["timestamp"].(string), "Z") {
		t.Fatalf("pending = %s", body)
	}
	// A decision by request id, as the client sends when usernames are hidden.
	in := `{"requestId":"` + list[0]["requestId"].(string) + `","status":"accepted"}`
	if status, _, body := h.do("POST", base+"/user-access-request/handle", "alice", js, in); status != 200 {
		t.Fatalf("by request id: %d %s", status, body)
	}
}
