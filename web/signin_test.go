package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/internal/oidctest"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/oidc"
	"github.com/havenhub/haven/web"
)

// TestExternalSignIn mounts a real OpenID Connect sign-in (the oidc
// package against zitadel's provider) and checks what the pages add: the
// button, the session, the way back, and refusals shown as pages.
func TestExternalSignIn(t *testing.T) {
	st := storetest.Open(t)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	op := oidctest.Start(t, "haven", "secret", ts.URL+web.SignInCallbackPath,
		oidctest.User{Subject: "s1", Username: "dana", Password: "pw", GivenName: "Dana", FamilyName: "Scully", Email: "dana@example.org"})
	pages, err := web.New(web.Config{Meta: st.Meta, Git: st.Git, PublicURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = pages
	get := func(c *http.Client, path string) (int, string, string) {
		t.Helper()
		resp, err := c.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Request.URL.RequestURI(), string(b)
	}
	newClient := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 30 * time.Second}
	}

	// Without a provider: no button, no paths.
	if _, _, body := get(newClient(), "/login"); strings.Contains(body, "Sign in with") {
		t.Error("the sign-in page offers a provider when none is configured")
	}
	if code, _, _ := get(newClient(), "/login/oidc"); code != http.StatusNotFound {
		t.Errorf("/login/oidc without a provider: %d, want 404", code)
	}

	p, err := oidc.New(oidc.Config{Issuer: op.Issuer, ClientID: "haven", ClientSecret: "secret",
		RedirectURL: ts.URL + web.SignInCallbackPath, Name: "Acme <ID>", Meta: st.Meta})
	if err != nil {
		t.Fatal(err)
	}
	pages.External = p

	cases := []struct {
		name, next, wantPath string
	}{
		{"back to the page", "/settings/tokens", "/settings/tokens"},
		{"no next", "", "/"},
		{"another site", "//evil.example/x", "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient()
			_, _, login := get(c, "/login?next="+tc.next)
			if !strings.Contains(login, "Sign in with Acme &lt;ID&gt;") {
				t.Fatalf("sign-in page without the provider's button:\n%s", login)
			}
			resp, err := oidctest.SignIn(context.Background(), c, ts.URL+"/login/oidc?next="+tc.next, "dana", "pw")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Host != strings.TrimPrefix(ts.URL, "http://") ||
				resp.Request.URL.Path != tc.wantPath {
				t.Fatalf("ended at %s with %d, want %s", resp.Request.URL, resp.StatusCode, tc.wantPath)
			}
			if !strings.Contains(string(body), "dana") {
				t.Errorf("the page after signing in does not show dana:\n%.3000s", body)
			}
			// The session is an ordinary one: signed in on every page.
			if code, at, _ := get(c, "/login"); code != http.StatusOK || at != "/" {
				t.Errorf("/login when signed in: %d at %s, want a redirect home", code, at)
			}
		})
	}

	// A refused callback is a page that says why, not a loop to /login.
	code, at, body := get(newClient(), web.SignInCallbackPath+"?code=x&state=y")
	if code != http.StatusForbidden || at != web.SignInCallbackPath+"?code=x&state=y" || !strings.Contains(body, "Start the sign-in again") {
		t.Errorf("callback without a sign-in: %d at %s:\n%.2000s", code, at, body)
	}
}
