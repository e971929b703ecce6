package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/havenhub/haven/internal/oidctest"
)

// TestBrowserOIDC signs in through an OpenID Connect provider in headless
// Chromium (e2e/browser/oidc.test.mjs): the button on the sign-in page,
// the provider's own form (zitadel's provider, started here), and back on
// the hub with a session and the organisation role of the person's group.
func TestBrowserOIDC(t *testing.T) {
	b := needBrowser(t)
	needBinary(t)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	op := oidctest.Start(t, "haven-browser", "browser-client-secret", base+"/login/oidc/callback",
		oidctest.User{Subject: "u-4242", Username: "erin.browser@example.org", Password: "pw-erin", GivenName: "Erin",
			FamilyName: "Browser", Email: "erin.browser@example.org", Groups: []string{"research"}})
	s := startServer(t, serverOpts{Port: port, Args: []string{"--oidc-issuer", op.Issuer, "--oidc-client-id", "haven-browser",
		"--oidc-client-secret", "browser-client-secret", "--oidc-name", "Example ID", "--oidc-group-role", "research=lab:write"}})
	s.createUser("root", "")
	s.createOrg("lab", "root")
	cmd := b.command([]string{
		"HAVEN_URL=" + s.URL,
		"HAVEN_OIDC_NAME=Example ID",
		"HAVEN_OIDC_USERNAME=erin.browser@example.org",
		"HAVEN_OIDC_PASSWORD=pw-erin",
		"HAVEN_OIDC_USER=erin.browser",
		"HAVEN_ORG=lab",
	}, "oidc.test.mjs")
	runLogged(t, 3*time.Minute, cmd)
}
