package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/internal/storetest"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in      string
		end     bool
		want    time.Time
		wantErr bool
	}{
		{"", false, time.Time{}, false},
		{"2026-06-20T09:00:00Z", false, time.Date(2026, 6, 20, 9, 0, 0, 0, time.UTC), false},
		{"2026-06-20T11:00:00+02:00", true, time.Date(2026, 6, 20, 9, 0, 0, 0, time.UTC), false},
		{"2026-06-20", false, time.Date(2026, 6, 20, 0, 0, 0, 0, time.UTC), false},
		{"2026-06-20", true, time.Date(2026, 6, 20, 23, 59, 59, 999999000, time.UTC), false},
		{"yesterday", false, time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := audit.ParseTime(tt.in, tt.end)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q, %v) = %v, %v; want %v", tt.in, tt.end, got, err, tt.want)
		}
	}
}

// TestAPI records entries through the service and reads them back through
// its API as the callers the rule distinguishes.
func TestAPI(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	users := map[string]*haven.User{}
	for _, name := range []string{"alice", "bob", "acme"} {
		u := &haven.User{Name: name, IsOrg: name == "acme"}
		if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		users[name] = u
	}
	s := audit.New(audit.Config{Meta: st.Meta, PublicURL: "http://hub.test"})
	alice := &auth.Actor{User: users["alice"], TokenID: 7, Orgs: map[string]string{"acme": "admin"}}
	record := func(action, target string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		hubhttp.Audit(s, r.WithContext(hubhttp.WithActor(r.Context(), alice)), haven.AuditEntry{Action: action,
			Namespace: "acme", TargetType: haven.AuditTargetRepo, Target: target})
	}
	record(haven.AuditRepoCreate, "acme/one")
	record(haven.AuditRepoSettings, "acme/one")
	record(haven.AuditRepoCreate, "acme/two")
	haven.Audit(ctx, nil, haven.AuditEntry{Action: haven.AuditRepoDelete}) // no auditor: nothing happens

	get := func(a *auth.Actor, path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		s.API(strings.Split(strings.TrimPrefix(path, "/api/"), "/")[0]).ServeHTTP(w, r.WithContext(hubhttp.WithActor(r.Context(), a)))
		return w
	}
	tests := []struct {
		name    string
		actor   *auth.Actor
		path    string
		accept  string
		status  int
		targets []string
	}{
		{"admin", alice, "/api/organizations/acme/audit-log", "", 200, []string{"acme/two", "acme/one", "acme/one"}},
		{"by action", alice, "/api/organizations/acme/audit-log?action=repo.create", "", 200, []string{"acme/two", "acme/one"}},
		{"by scope", alice, "/api/organizations/acme/audit-log?action=repo", "", 200, []string{"acme/two", "acme/one", "acme/one"}},
		{"page", alice, "/api/organizations/acme/audit-log?limit=1", "", 200, []string{"acme/two"}},
		{"future", alice, "/api/organizations/acme/audit-log?from=2999-01-01", "", 200, []string{}},
		{"jsonl", alice, "/api/organizations/acme/audit-log?format=jsonl", "", 200, []string{"acme/two", "acme/one", "acme/one"}},
		{"ndjson accept", alice, "/api/organizations/acme/audit-log", "application/x-ndjson", 200, []string{"acme/two", "acme/one", "acme/one"}},
		{"bad time", alice, "/api/organizations/acme/audit-log?to=soon", "", 400, nil},
		{"not an admin", &auth.Actor{User: users["bob"], Orgs: map[string]string{"acme": "write"}}, "/api/organizations/acme/audit-log", "", 403, nil},
		{"anonymous", &auth.Actor{}, "/api/organizations/acme/audit-log", "", 401, nil},
		{"unknown org", &auth.Actor{User: &haven.User{Name: "root", IsAdmin: true}}, "/api/organizations/nope/audit-log", "", 404, nil},
		{"a user is no org", alice, "/api/organizations/alice/audit-log", "", 404, nil},
		{"own log", alice, "/api/users/alice/audit-log", "", 200, []string{}},
		{"other path", alice, "/api/organizations/acme/members", "", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(tt.actor, tt.path, tt.accept)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.targets == nil {
				return
			}
			var got []map[string]any
			if strings.HasPrefix(w.Header().Get("Content-Type"), "application/x-ndjson") {
				sc := bufio.NewScanner(w.Body)
				for sc.Scan() {
					var e map[string]any
					if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
						t.Fatal(err)
					}
					got = append(got, e)
				}
			} else if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.targets) {
				t.Fatalf("got %d entries, want %d: %s", len(got), len(tt.targets), w.Body)
			}
			for i, e := range got {
				if name := e["target"].(map[string]any)["name"]; name != tt.targets[i] {
					t.Fatalf("entry %d is about %v, want %s", i, name, tt.targets[i])
				}
				if e["ip"] != "203.0.113.9" || e["author"].(map[string]any)["user"] != "alice" || e["token"].(map[string]any)["id"] != "7" {
					t.Fatalf("entry %v", e)
				}
			}
		})
	}
	// The exports above were recorded, in alice's view of acme's log.
	exports, err := st.Meta.AuditEntries(ctx, haven.AuditFilter{Namespace: "acme", Action: haven.AuditLogExport})
	if err != nil || len(exports) != 2 {
		t.Fatalf("exports %v, %v", exports, err)
	}
	if w := get(alice, "/api/organizations/acme/audit-log?limit=2", ""); !strings.Contains(w.Header().Get("Link"), `rel="next"`) {
		t.Fatalf("no next page: %v", w.Header())
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		e    haven.AuditEntry
		want string
	}{
		{haven.AuditEntry{Action: haven.AuditRepoCreate, ActorName: "alice", Target: "acme/x"}, "alice created acme/x"},
		{haven.AuditEntry{Action: haven.AuditOrgChangeRole, Namespace: "acme", Target: "bob", Details: map[string]any{"role": "write"}},
			"the administrator changed the role of bob in acme to write"},
		{haven.AuditEntry{Action: haven.AuditSignIn, ActorName: "alice", Details: map[string]any{"method": "password"}}, "alice signed in with password"},
		{haven.AuditEntry{Action: haven.AuditTokenCreate, ActorName: "alice", Target: "3", Details: map[string]any{"name": "ci"}}, `alice created token "ci"`},
	}
	for _, tt := range tests {
		if got := audit.Message(&tt.e); got != tt.want {
			t.Errorf("Message = %q, want %q", got, tt.want)
		}
	}
}
