package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/internal/oidctest"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/oidc"
)

// rp is a relying party for the tests: the oidc.Provider mounted at the
// paths the web pages use, answering with the signed-in user's name.
type rp struct {
	url  string
	meta *meta.Store
	op   *oidctest.Provider
}

func start(t *testing.T, roles ...string) *rp {
	t.Helper()
	st := storetest.Open(t)
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	redirect := ts.URL + "/login/oidc/callback"
	op := oidctest.Start(t, "haven", "s3cret", redirect,
		oidctest.User{Subject: "sub-alice", Username: "alice@example.org", Password: "pw-alice", GivenName: "Alice",
			FamilyName: "Liddell", Email: "alice@example.org", Groups: []string{"ml-team"}},
		oidctest.User{Subject: "sub-other-alice", Username: "Alice", Password: "pw-other", GivenName: "Other",
			FamilyName: "Alice", Email: "other@example.org"},
		oidctest.User{Subject: "sub-bob", Username: "bob smith", Password: "pw-bob", GivenName: "Bob",
			FamilyName: "Smith", Email: "bob@example.org", Groups: []string{"admins", "ml-team"}},
	)
	var grs []oidc.GroupRole
	for _, s := range roles {
		gr, err := oidc.ParseGroupRole(s)
		if err != nil {
			t.Fatal(err)
		}
		grs = append(grs, gr)
	}
	p, err := oidc.New(oidc.Config{Issuer: op.Issuer, ClientID: "haven", ClientSecret: "s3cret", RedirectURL: redirect,
		Name: "Example", GroupRoles: grs, Meta: st.Meta})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("GET /login/oidc", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Begin(w, r, "/after"); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})
	mux.HandleFunc("GET /login/oidc/callback", func(w http.ResponseWriter, r *http.Request) {
		u, next, err := p.Finish(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%s %d %s", u.Name, u.ID, next)
	})
	return &rp{url: ts.URL, meta: st.Meta, op: op}
}

// browser returns a client with its own cookies that stops at the
// relying party's callback when stop is set.
func browser(t *testing.T, stopAtCallback bool) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if stopAtCallback {
		c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
			if r.URL.Path == "/login/oidc/callback" {
				return http.ErrUseLastResponse
			}
			return nil
		}
	}
	return c
}

// signIn signs in at the relying party and returns its answer.
func (p *rp) signIn(t *testing.T, c *http.Client, user, password string) (int, string) {
	t.Helper()
	resp, err := oidctest.SignIn(context.Background(), c, p.url+"/login/oidc", user, password)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func TestSignIn(t *testing.T) {
	p := start(t)
	// First sign-in: the user is created, named after preferred_username.
	code, body := p.signIn(t, browser(t, false), "alice@example.org", "pw-alice")
	if code != http.StatusOK || !strings.HasPrefix(body, "alice ") || !strings.HasSuffix(body, " /after") {
		t.Fatalf("first sign-in: %d %q", code, body)
	}
	u, err := p.meta.UserByName(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "alice@example.org" || u.FullName != "Alice Liddell" {
		t.Errorf("created user: %+v", u)
	}
	// Second sign-in, in another browser: the same user.
	_, again := p.signIn(t, browser(t, false), "alice@example.org", "pw-alice")
	if again != body {
		t.Errorf("second sign-in: %q, want %q", again, body)
	}
	// Another account whose name is taken gets a name of its own.
	_, other := p.signIn(t, browser(t, false), "Alice", "pw-other")
	if !strings.HasPrefix(other, "Alice-2 ") {
		t.Errorf("colliding name: %q, want Alice-2", other)
	}
	// Characters a hub name cannot have are replaced.
	_, bob := p.signIn(t, browser(t, false), "bob smith", "pw-bob")
	if !strings.HasPrefix(bob, "bob-smith ") {
		t.Errorf("sanitised name: %q, want bob-smith", bob)
	}
}

// flowCookie decodes and re-encodes the sign-in cookie of a client.
func editFlow(t *testing.T, c *http.Client, callback string, edit func(map[string]string)) {
	t.Helper()
	u, _ := url.Parse(callback)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name != "haven_oidc" {
			continue
		}
		js, err := base64.RawURLEncoding.DecodeString(ck.Value)
		if err != nil {
			t.Fatal(err)
		}
		f := map[string]string{}
		if err := json.Unmarshal(js, &f); err != nil {
			t.Fatal(err)
		}
		edit(f)
		js, _ = json.Marshal(f)
		c.Jar.SetCookies(u, []*http.Cookie{{Name: "haven_oidc", Value: base64.RawURLEncoding.EncodeToString(js), Path: u.Path}})
		return
	}
	t.Fatal("no sign-in cookie")
}

func TestSignInRefused(t *testing.T) {
	p := start(t)
	callback := p.url + "/login/oidc/callback"
	cases := []struct {
		name string
		// tamper changes the flow between the provider's answer and the
		// callback: the answer's URL, or the browser's cookie.
		tamper func(c *http.Client, answer *url.URL)
		want   string
	}{
		{"wrong state", func(_ *http.Client, a *url.URL) {
			q := a.Query()
			q.Set("state", "forged")
			a.RawQuery = q.Encode()
		}, "(state)"},
		{"wrong nonce", func(c *http.Client, _ *url.URL) {
			editFlow(t, c, callback, func(f map[string]string) { f["n"] = "another-nonce" })
		}, "(nonce)"},
		{"wrong verifier", func(c *http.Client, _ *url.URL) {
			editFlow(t, c, callback, func(f map[string]string) { f["v"] = strings.Repeat("x", 43) })
		}, "did not accept the sign-in code"},
		{"no sign-in cookie", func(c *http.Client, _ *url.URL) {
			u, _ := url.Parse(callback)
			c.Jar.SetCookies(u, []*http.Cookie{{Name: "haven_oidc", Value: "", Path: u.Path, MaxAge: -1}})
		}, "no sign-in was started"},
		{"provider error", func(_ *http.Client, a *url.URL) {
			q := a.Query()
			q.Del("code")
			q.Set("error", "access_denied")
			a.RawQuery = q.Encode()
		}, "access_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := browser(t, true)
			resp, err := oidctest.SignIn(context.Background(), c, p.url+"/login/oidc", "alice@example.org", "pw-alice")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			answer, err := resp.Location()
			if err != nil || answer.Path != "/login/oidc/callback" {
				t.Fatalf("provider answered %d %v, want a redirect to the callback", resp.StatusCode, answer)
			}
			tc.tamper(c, answer)
			resp, err = c.Get(answer.String())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), tc.want) {
				t.Fatalf("got %d %q, want 403 with %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	if _, err := p.meta.UserByName(context.Background(), "alice"); !haven.IsCode(err, haven.ENotFound) {
		t.Errorf("a refused sign-in created a user: %v", err)
	}
	// The same code cannot be used twice: replaying a callback fails.
	c := browser(t, true)
	resp, err := oidctest.SignIn(context.Background(), c, p.url+"/login/oidc", "alice@example.org", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answer, _ := resp.Location()
	if r, err := c.Get(answer.String()); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %v %v", r, err)
	}
	if r, err := c.Get(answer.String()); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("replayed callback: %v %v, want 403", r, err)
	}
}

func TestGroupRoles(t *testing.T) {
	p := start(t, "ml-team=acme:write", "admins=acme:admin", "ml-team=labs:read", "nobody=acme:read", "ml-team=missing:read")
	ctx := context.Background()
	for _, org := range []string{"acme", "labs"} {
		if err := p.meta.CreateUser(ctx, &haven.User{Name: org, IsOrg: true}, ""); err != nil {
			t.Fatal(err)
		}
	}
	p.signIn(t, browser(t, false), "alice@example.org", "pw-alice")
	p.signIn(t, browser(t, false), "bob smith", "pw-bob")
	p.signIn(t, browser(t, false), "Alice", "pw-other")
	cases := []struct {
		user string
		want map[string]string
	}{
		{"alice", map[string]string{"acme": "write", "labs": "read"}},
		{"bob-smith", map[string]string{"acme": "admin", "labs": "read"}}, // the strongest role wins
		{"Alice-2", map[string]string{}},                                  // no groups
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			u, err := p.meta.UserByName(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := p.meta.Memberships(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, m := range ms {
				got[m.Org.Name] = m.Role
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("memberships %v, want %v", got, tc.want)
			}
		})
	}
	// Joining a group later gives the role at the next sign-in.
	p.op.SetGroups("sub-other-alice", "admins")
	p.signIn(t, browser(t, false), "Alice", "pw-other")
	u, _ := p.meta.UserByName(ctx, "Alice-2")
	ms, _ := p.meta.Memberships(ctx, u.ID)
	if len(ms) != 1 || ms[0].Org.Name != "acme" || ms[0].Role != "admin" {
		t.Errorf("after joining admins: %+v", ms)
	}
}

func TestParseGroupRole(t *testing.T) {
	cases := []struct {
		in   string
		want oidc.GroupRole
		ok   bool
	}{
		{"ml=acme:write", oidc.GroupRole{Group: "ml", Org: "acme", Role: "write"}, true},
		{"cn=admins,dc=x=acme:admin", oidc.GroupRole{Group: "cn=admins,dc=x", Org: "acme", Role: "admin"}, true},
		{"ml=acme:owner", oidc.GroupRole{}, false},
		{"ml=acme", oidc.GroupRole{}, false},
		{"=acme:read", oidc.GroupRole{}, false},
		{"ml=:read", oidc.GroupRole{}, false},
	}
	for _, tc := range cases {
		got, err := oidc.ParseGroupRole(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseGroupRole(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// TestEmailInvitationClaimed: an invitation kept for an address without
// an account becomes the invitation of whoever first signs in with that
// address verified; other addresses keep theirs.
func TestEmailInvitationClaimed(t *testing.T) {
	p := start(t)
	ctx := context.Background()
	acme := &haven.User{Name: "acme", IsOrg: true}
	if err := p.meta.CreateUser(ctx, acme, ""); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"Alice@Example.org", "someone@example.org"} {
		if err := p.meta.InviteEmail(ctx, &haven.Invitation{Org: *acme, Email: email, Role: "write", Inviter: "root"}); err != nil {
			t.Fatal(err)
		}
	}
	if code, body := p.signIn(t, browser(t, false), "alice@example.org", "pw-alice"); code != http.StatusOK {
		t.Fatalf("sign-in: %d %s", code, body)
	}
	u, err := p.meta.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	invs, err := p.meta.InvitationsOfUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 1 || invs[0].Org.Name != "acme" || invs[0].Role != "write" || invs[0].Inviter != "root" {
		t.Fatalf("alice's invitations: %+v", invs)
	}
	left, err := p.meta.EmailInvitationsOfOrg(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Email != "someone@example.org" {
		t.Fatalf("kept: %+v", left)
	}
}
