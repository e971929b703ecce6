package e2e

import (
	"testing"
	"time"
)

// TestBrowser drives the web pages in headless Chromium (e2e/browser, with
// playwright-core): sign in, create a repository, write its card, upload
// files, browse a tag, read a diff, search and filter, like, create and
// revoke a token, browse a dataset in the viewer, manage branches, tags and
// an organisation's members, make a collection and add to it. Screenshots go
// to test-output/screenshots.
func TestBrowser(t *testing.T) {
	b := needBrowser(t)
	s := startServer(t, serverOpts{})
	s.createUser("alice", "Alice Liddell")
	s.createUser("bob", "Bob Builder")
	s.createOrg("acme", "alice")
	token := s.createToken("alice", "write")
	cmd := b.command([]string{
		"HAVEN_URL=" + s.URL,
		"HAVEN_USER=alice",
		"HAVEN_ORG=acme",                     // alice is its admin
		"HAVEN_OTHER=bob",                    // another user, not in it
		"HAVEN_PASSWORD=pw-alice-e2e-secret", // as createUser sets it
		"HAVEN_TOKEN=" + token,
	}, "web.test.mjs", "gated.test.mjs")
	runLogged(t, 5*time.Minute, cmd)
}
