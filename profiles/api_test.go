package profiles_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/profiles"
)

type hub struct {
	t      *testing.T
	url    string
	meta   *meta.Store
	tokens map[string]string
}

// newHub serves the API with the profiles service on fresh stores, with
// users alice (admin of acme), bob and carol, each with a write token.
func newHub(t *testing.T) *hub {
	t.Helper()
	return newHubWith(t, nil)
}

// newHubWith is newHub with the profiles service's configuration changed
// by edit.
func newHubWith(t *testing.T, edit func(*profiles.Config)) *hub {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	var srv *api.Server
	log := audit.New(audit.Config{Meta: st.Meta, PublicURL: ts.URL})
	cfg := profiles.Config{Meta: st.Meta, Blobs: st.Blobs, PublicURL: ts.URL, Audit: log,
		Changed: func() { srv.ForgetTokens() }}
	if edit != nil {
		edit(&cfg)
	}
	people := profiles.New(cfg)
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL, Secret: []byte("secret-secret-secret-secret-secret"),
		Routes: []api.Routes{log}, Audit: log, Profiles: people})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv
	h := &hub{t: t, url: ts.URL, meta: st.Meta, tokens: map[string]string{}}
	for _, name := range []string{"alice", "bob", "carol"} {
		u := &haven.User{Name: name, Email: name + "@example.org"}
		if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		plain, hash := auth.NewToken()
		if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "t", Role: haven.RoleWrite}, hash); err != nil {
			t.Fatal(err)
		}
		h.tokens[name] = plain
	}
	org := &haven.User{Name: "acme", IsOrg: true}
	if err := st.Meta.CreateUser(ctx, org, ""); err != nil {
		t.Fatal(err)
	}
	alice, _ := st.Meta.UserByName(ctx, "alice")
	if err := st.Meta.AddMember(ctx, org.ID, alice.ID, meta.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return h
}

// do calls the API as user ("" for anonymous) and decodes a JSON answer
// into out when it is not nil.
func (h *hub) do(method, path, user string, body any, out any) (int, http.Header) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+h.tokens[user])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
	return res.StatusCode, res.Header
}

func TestInvitationAPI(t *testing.T) {
	h := newHub(t)
	var inv map[string]any
	if st, _ := h.do("POST", "/api/organizations/acme/invitations", "bob", map[string]any{"user": "bob", "role": "admin"}, nil); st != 403 {
		t.Errorf("bob inviting himself: %d", st)
	}
	if st, _ := h.do("POST", "/api/organizations/acme/invitations", "alice", map[string]any{"email": "BOB@example.org", "role": "contributor"}, &inv); st != 201 {
		t.Fatalf("invite: %d", st)
	}
	id := inv["id"].(string)
	if st, _ := h.do("POST", "/api/invitations/"+id+"/accept", "carol", nil, nil); st != 404 {
		t.Errorf("carol accepting bob's invitation: %d", st)
	}
	var mine []map[string]any
	h.do("GET", "/api/invitations", "bob", nil, &mine)
	if len(mine) != 1 || mine[0]["role"] != "contributor" {
		t.Fatalf("bob's invitations: %v", mine)
	}
	// whoami before and after: the cached identity learns the membership.
	var who struct {
		Orgs []struct{ Name, RoleInOrg string }
	}
	h.do("GET", "/api/whoami-v2", "bob", nil, &who)
	if len(who.Orgs) != 0 {
		t.Fatalf("bob is in %v before accepting", who.Orgs)
	}
	if st, _ := h.do("POST", "/api/invitations/"+id+"/accept", "bob", nil, nil); st != 200 {
		t.Fatalf("accept: %d", st)
	}
	h.do("GET", "/api/whoami-v2", "bob", nil, &who)
	if len(who.Orgs) != 1 || who.Orgs[0].Name != "acme" || who.Orgs[0].RoleInOrg != "contributor" {
		t.Errorf("whoami after accepting: %+v", who.Orgs)
	}
	var entries []map[string]any
	h.do("GET", "/api/organizations/acme/audit-log", "alice", nil, &entries)
	var types []string
	for _, e := range entries {
		types = append(types, e["type"].(string))
	}
	if got := strings.Join(types, ","); !strings.Contains(got, "org.invite.accept") || !strings.Contains(got, "org.invite_user") {
		t.Errorf("audit log: %s", got)
	}
}

func TestFollowsAndOverview(t *testing.T) {
	h := newHub(t)
	h.do("POST", "/api/users/alice/follow", "bob", nil, nil)
	h.do("POST", "/api/organizations/acme/follow", "bob", nil, nil)
	h.do("POST", "/api/users/alice/follow", "carol", nil, nil)
	var alice map[string]any
	h.do("GET", "/api/users/alice/overview", "bob", nil, &alice)
	if alice["numFollowers"] != 2.0 || alice["isFollowing"] != true || alice["avatarUrl"] != "/avatars/alice" || alice["user"] != "alice" {
		t.Errorf("alice's overview: %v", alice)
	}
	var org map[string]any
	h.do("GET", "/api/organizations/acme/overview", "", nil, &org)
	if org["numFollowers"] != 1.0 || org["numUsers"] != 1.0 || org["name"] != "acme" || org["type"] != "org" {
		t.Errorf("acme's overview: %v", org)
	}
	if _, ok := org["isFollowing"]; ok {
		t.Error("an anonymous caller is told isFollowing")
	}
	var page []map[string]any
	_, hdr := h.do("GET", "/api/users/alice/followers?limit=10", "", nil, &page)
	if len(page) != 2 || hdr.Get("Link") != "" {
		t.Errorf("followers: %v, Link %q", page, hdr.Get("Link"))
	}
	if st, _ := h.do("GET", "/api/users/alice/followers?limit=5", "", nil, nil); st != 400 {
		t.Errorf("limit 5: %d", st)
	}
	if st, _ := h.do("GET", "/api/organizations/alice/overview", "", nil, nil); st != 404 {
		t.Errorf("a user as an organisation: %d", st)
	}
}

func TestAvatarUpload(t *testing.T) {
	h := newHub(t)
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 16)))
	if st, _ := h.do("PUT", "/api/organizations/acme/avatar", "bob", b.Bytes(), nil); st != 403 {
		t.Errorf("bob uploading acme's avatar: %d", st)
	}
	if st, _ := h.do("PUT", "/api/organizations/acme/avatar", "alice", b.Bytes(), nil); st != 200 {
		t.Fatalf("upload: %d", st)
	}
	// bob uses the same image: removing acme's keeps his.
	h.do("PUT", "/api/users/bob/avatar", "bob", b.Bytes(), nil)
	h.do("DELETE", "/api/organizations/acme/avatar", "alice", nil, nil)
	res, err := http.Get(h.url + "/avatars/bob")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(data, b.Bytes()) {
		t.Errorf("bob's avatar: %s, %d bytes", res.Header.Get("Content-Type"), len(data))
	}
	res, _ = http.Get(h.url + "/avatars/acme.svg")
	data, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Type") != "image/svg+xml" || !bytes.Equal(data, profiles.Identicon("acme")) {
		t.Errorf("acme's avatar after removal: %s", res.Header.Get("Content-Type"))
	}
	if res, _ := http.Get(h.url + "/avatars/nobody"); res.StatusCode != 404 {
		t.Errorf("an unknown name's avatar: %d", res.StatusCode)
	}
}

// recordingMailer keeps what it is asked to send, as a mail server would.
type recordingMailer struct{ to, subject, body []string }

func (m *recordingMailer) Mail(_ context.Context, to, subject, body string) bool {
	m.to, m.subject, m.body = append(m.to, to), append(m.subject, subject), append(m.body, body)
	return true
}

// TestInviteEmailWithoutAccount: an address nobody has yet keeps its
// invitation, listed for the admins with whether it was emailed, and can
// be withdrawn; bad addresses are refused.
func TestInviteEmailWithoutAccount(t *testing.T) {
	for _, mailed := range []bool{false, true} {
		t.Run(map[bool]string{false: "no mail server", true: "mail server"}[mailed], func(t *testing.T) {
			mail := &recordingMailer{}
			h := newHubWith(t, func(c *profiles.Config) {
				if mailed {
					c.Mail = mail
				}
			})
			var inv map[string]any
			if st, _ := h.do("POST", "/api/organizations/acme/invitations", "alice", map[string]any{"email": "New.Person@Example.com", "role": "write"}, &inv); st != 201 {
				t.Fatalf("invite: %d", st)
			}
			if inv["email"] != "New.Person@Example.com" || inv["user"] != nil || inv["mailed"] != mailed || inv["role"] != "write" {
				t.Fatalf("invitation: %v", inv)
			}
			if mailed && (len(mail.to) != 1 || mail.to[0] != "New.Person@Example.com" || !strings.Contains(mail.body[0], "/settings/invitations") ||
				!strings.Contains(mail.subject[0], "acme")) {
				t.Fatalf("mail: %+v", mail)
			}
			if st, _ := h.do("POST", "/api/organizations/acme/invitations", "alice", map[string]any{"email": "not an@address", "role": "write"}, nil); st != 400 {
				t.Errorf("bad address: %d", st)
			}
			var list []map[string]any
			h.do("GET", "/api/organizations/acme/invitations", "alice", nil, &list)
			if len(list) != 1 || list[0]["id"] != inv["id"] || list[0]["mailed"] != mailed {
				t.Fatalf("acme's invitations: %v", list)
			}
			if st, _ := h.do("DELETE", "/api/organizations/acme/invitations/"+inv["id"].(string), "bob", nil, nil); st != 403 {
				t.Errorf("bob withdrawing: %d", st)
			}
			if st, _ := h.do("DELETE", "/api/organizations/acme/invitations/"+inv["id"].(string), "alice", nil, nil); st != 200 {
				t.Fatalf("withdraw: %d", st)
			}
			list = nil
			h.do("GET", "/api/organizations/acme/invitations", "alice", nil, &list)
			if len(list) != 0 {
				t.Fatalf("after withdrawing: %v", list)
			}
			var entries []map[string]any
			h.do("GET", "/api/organizations/acme/audit-log?action=org.invite_user", "alice", nil, &entries)
			if len(entries) != 1 || entries[0]["data"].(map[string]any)["mailed"] != mailed {
				t.Errorf("audit: %v", entries)
			}
		})
	}
}

// TestSocials: handles set through the profile PATCH, read through the
// Hub's socials route, only by those who may edit the profile.
func TestSocials(t *testing.T) {
	h := newHub(t)
	var out map[string]any
	if st, _ := h.do("GET", "/api/users/alice/socials", "", nil, &out); st != 200 || out["user"] != "alice" ||
		len(out["socialHandles"].(map[string]any)) != 0 {
		t.Fatalf("no socials yet: %d %v", st, out)
	}
	tests := []struct {
		who, path string
		body      map[string]any
		want      int
	}{
		{"bob", "/api/users/alice/profile", map[string]any{"socialHandles": map[string]any{"github": "bob"}}, 403},
		{"alice", "/api/users/alice/profile", map[string]any{"socialHandles": map[string]any{"github": "https://github.com/alice"}}, 400},
		{"alice", "/api/users/alice/profile", map[string]any{"details": "kept?", "socialHandles": map[string]any{"twitter": "a b"}}, 400},
		{"alice", "/api/users/alice/profile", map[string]any{"socialHandles": map[string]any{"github": "@alice-gh", "twitter": "alice_tw"}}, 200},
		{"alice", "/api/users/alice/profile", map[string]any{"socialHandles": map[string]any{"twitter": "", "bluesky": "alice.bsky.social"}}, 200},
		{"alice", "/api/organizations/acme/profile", map[string]any{"socialHandles": map[string]any{"linkedin": "acme-corp"}}, 200},
		{"bob", "/api/organizations/acme/profile", map[string]any{"socialHandles": map[string]any{"linkedin": "nope"}}, 403},
	}
	for _, tc := range tests {
		if st, _ := h.do("PATCH", tc.path, tc.who, tc.body, nil); st != tc.want {
			t.Errorf("PATCH %s as %s with %v: %d, want %d", tc.path, tc.who, tc.body, st, tc.want)
		}
	}
	h.do("GET", "/api/users/alice/socials", "", nil, &out)
	want := map[string]any{"github": "alice-gh", "bluesky": "alice.bsky.social"}
	if fmt.Sprint(out["socialHandles"]) != fmt.Sprint(want) {
		t.Errorf("alice's socials: %v, want %v", out["socialHandles"], want)
	}
	var ov map[string]any
	h.do("GET", "/api/users/alice/overview", "", nil, &ov)
	if ov["details"] == "kept?" {
		t.Error("a refused PATCH changed the profile")
	}
	h.do("GET", "/api/organizations/acme/socials", "", nil, &out)
	if out["org"] != "acme" || fmt.Sprint(out["socialHandles"]) != fmt.Sprint(map[string]any{"linkedin": "acme-corp"}) {
		t.Errorf("acme's socials: %v", out)
	}
	if st, _ := h.do("GET", "/api/users/nobody/socials", "", nil, nil); st != 404 {
		t.Errorf("unknown user: %d", st)
	}
}
