package e2e

import (
	"testing"
	"time"
)

// TestBrowserMirror drives the mirror pages in headless Chromium
// (e2e/browser/mirror.test.mjs) against two servers, one the other's
// source hub.
func TestBrowserMirror(t *testing.T) {
	b := needBrowser(t)
	src := startServer(t, serverOpts{})
	sf := src.setupAccounts()
	alice := src.api(sf.Alice)
	alice.createRepo("model", "alice", "shared", false)
	xetUploadAndCommit(t, alice, "alice/shared", "weights.bin", randomBytes(5, 256<<10))

	hub := startServer(t, serverOpts{Args: []string{"--mirror-allow-private"}})
	hub.createUser("bob", "Bob Builder")
	bob := hub.api(hub.createToken("bob", "write"))
	bob.createRepo("model", "bob", "published", false)
	bob.commit("models", "bob/published", "main", "Card", commitLine{Key: "file",
		Value: map[string]any{"path": "README.md", "content": "IyBQdWJsaXNoZWQ=", "encoding": "base64"}})

	cmd := b.command([]string{
		"HAVEN_URL=" + hub.URL,
		"HAVEN_USER=bob",
		"HAVEN_PASSWORD=pw-bob-e2e-secret", // as createUser sets it
		"HAVEN_SOURCE=" + src.URL,
		"HAVEN_SOURCE_REPO=alice/shared",
		"HAVEN_SOURCE_TOKEN=" + sf.Alice,
	}, "mirror.test.mjs")
	runLogged(t, 4*time.Minute, cmd)
}
