package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/internal/oidctest"
)

// TestOIDCSignIn signs in to the real binary through a real OpenID Connect
// provider (zitadel's, started by the test), with a client that keeps
// cookies as a browser does.
func TestOIDCSignIn(t *testing.T) {
	needBinary(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	op := oidctest.Start(t, "haven-e2e", "e2e-client-secret", base+"/login/oidc/callback",
		oidctest.User{Subject: "7f3c", Username: "carol@example.org", Password: "pw-carol", GivenName: "Carol",
			FamilyName: "Danvers", Email: "carol@example.org", Groups: []string{"ml-team"}})
	s := startServer(t, serverOpts{Port: port,
		Args: []string{"--oidc-issuer", op.Issuer, "--oidc-client-id", "haven-e2e", "--oidc-name", "Example ID",
			"--oidc-group-role", "ml-team=acme:write"},
		Env: []string{"HAVEN_OIDC_CLIENT_SECRET=e2e-client-secret"}})
	s.createUser("root", "")
	s.createOrg("acme", "root")
	ctx := context.Background()

	page := func(c *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := c.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// whoami asks the API with the browser's session, as the pages' scripts do.
	whoami := func(c *http.Client) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/whoami-v2", nil)
		req.Header.Set("Origin", s.URL)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	newBrowser := func(stopAtCallback bool) *http.Client {
		jar, _ := cookiejar.New(nil)
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

	if code, body := page(newBrowser(false), "/login"); code != http.StatusOK || !strings.Contains(body, "Sign in with Example ID") {
		t.Fatalf("sign-in page: %d, want the provider's button:\n%s", code, body)
	}

	var firstID any
	for i, name := range []string{"first sign-in", "second sign-in"} {
		c := newBrowser(false)
		resp, err := oidctest.SignIn(ctx, c, s.URL+"/login/oidc?next=/settings/tokens", "carol@example.org", "pw-carol")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/settings/tokens" || !strings.Contains(string(body), "carol") {
			t.Fatalf("%s: ended at %s with %d, want the tokens page of carol:\n%.2000s", name, resp.Request.URL, resp.StatusCode, body)
		}
		code, me := whoami(c)
		if code != http.StatusOK || me["name"] != "carol" || me["fullname"] != "Carol Danvers" || me["email"] != "carol@example.org" {
			t.Fatalf("%s: whoami-v2 %d %v", name, code, me)
		}
		if i == 0 {
			firstID = me["id"]
		} else if me["id"] != firstID {
			t.Errorf("second sign-in is user %v, want the first one's %v", me["id"], firstID)
		}
		orgs, _ := me["orgs"].([]any)
		if len(orgs) != 1 || orgs[0].(map[string]any)["name"] != "acme" || orgs[0].(map[string]any)["roleInOrg"] != "write" {
			t.Errorf("%s: orgs %v, want acme with role write from the group", name, me["orgs"])
		}
	}

	// A provider's answer with a state this browser did not start is refused,
	// and the browser stays signed out.
	c := newBrowser(true)
	resp, err := oidctest.SignIn(ctx, c, s.URL+"/login/oidc", "carol@example.org", "pw-carol")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answer, err := resp.Location()
	if err != nil {
		t.Fatalf("provider answered %d, want a redirect to the callback", resp.StatusCode)
	}
	q := answer.Query()
	q.Set("state", "forged-"+q.Get("state"))
	answer.RawQuery = q.Encode()
	code, body := page(c, strings.TrimPrefix(answer.String(), s.URL))
	if code != http.StatusForbidden || !strings.Contains(body, "(state)") {
		t.Errorf("forged state: %d, want 403 naming the state:\n%.2000s", code, body)
	}
	if code, me := whoami(c); code != http.StatusUnauthorized {
		t.Errorf("after a refused sign-in, whoami-v2 answers %d %v, want 401", code, me)
	}
	// A callback that no sign-in in this browser started is refused too.
	if code, _ := page(newBrowser(false), "/login/oidc/callback?"+url.Values{"code": {"x"}, "state": {"y"}}.Encode()); code != http.StatusForbidden {
		t.Errorf("callback without a sign-in: %d, want 403", code)
	}
}
