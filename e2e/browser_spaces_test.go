package e2e

import (
	"testing"
	"time"
)

// TestBrowserSpaces drives the pages of a static Space in headless
// Chromium (e2e/browser/spaces.test.mjs): the app in its frame, the stage
// badge, the listing, and variables and secrets set from the settings page.
func TestBrowserSpaces(t *testing.T) {
	b := needBrowser(t)
	s := startServer(t, serverOpts{})
	s.createUser("alice", "Alice Liddell")
	token := s.createToken("alice", "write")
	cmd := b.command([]string{
		"HAVEN_URL=" + s.URL,
		"HAVEN_USER=alice",
		"HAVEN_PASSWORD=pw-alice-e2e-secret", // as createUser sets it
		"HAVEN_TOKEN=" + token,
	}, "spaces.test.mjs")
	runLogged(t, 3*time.Minute, cmd)
}
