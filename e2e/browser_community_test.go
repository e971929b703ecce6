package e2e

import (
	"testing"
	"time"
)

// TestBrowserCommunity drives the Community tab in headless Chromium
// (e2e/browser/community.test.mjs): a user comments on a discussion and
// reacts to it, reads a pull request's diff and finds no merge button; the
// owner pins and locks the discussion and merges the pull request.
func TestBrowserCommunity(t *testing.T) {
	b := needBrowser(t)
	s := startServer(t, serverOpts{})
	s.createUser("alice", "Alice Liddell")
	s.createUser("bob", "Bob Builder")
	cmd := b.command([]string{
		"HAVEN_URL=" + s.URL,
		"HAVEN_USER=alice",
		"HAVEN_OTHER=bob",
		"HAVEN_TOKEN=" + s.createToken("alice", "write"),
		"HAVEN_OTHER_TOKEN=" + s.createToken("bob", "write"),
	}, "community.test.mjs")
	runLogged(t, 5*time.Minute, cmd)
}
