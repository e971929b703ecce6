package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
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
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	chromium := os.Getenv("HAVEN_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		skipOrFail(t, "chromium is not installed at "+chromium)
	}
	dir := filepath.Join(repoRoot, "e2e", "browser")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		skipOrFail(t, "e2e/browser/node_modules is missing")
	}
	s := startServer(t, serverOpts{})
	s.createUser("alice", "Alice Liddell")
	s.createUser("bob", "Bob Builder")
	s.createOrg("acme", "alice")
	token := s.createToken("alice", "write")
	shots := filepath.Join(repoRoot, "test-output", "screenshots")
	cmd := exec.Command(node, "--test", "--test-concurrency=1", "--test-reporter=spec", "web.test.mjs", "gated.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(filterEnv(os.Environ(), "HAVEN_"),
		"HAVEN_URL="+s.URL,
		"HAVEN_USER=alice",
		"HAVEN_ORG=acme",                     // alice is its admin
		"HAVEN_OTHER=bob",                    // another user, not in it
		"HAVEN_PASSWORD=pw-alice-e2e-secret", // as createUser sets it
		"HAVEN_TOKEN="+token,
		"HAVEN_CHROMIUM="+chromium,
		"HAVEN_SCREENSHOTS="+shots,
	)
	runLogged(t, 5*time.Minute, cmd)
}
