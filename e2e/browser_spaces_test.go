package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBrowserSpaces drives the pages of a static Space in headless
// Chromium (e2e/browser/spaces.test.mjs): the app in its frame, the stage
// badge, the listing, and variables and secrets set from the settings page.
func TestBrowserSpaces(t *testing.T) {
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
	token := s.createToken("alice", "write")
	shots := filepath.Join(repoRoot, "test-output", "screenshots")
	cmd := exec.Command(node, "--test", "--test-concurrency=1", "--test-reporter=spec", "spaces.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(filterEnv(os.Environ(), "HAVEN_"),
		"HAVEN_URL="+s.URL,
		"HAVEN_USER=alice",
		"HAVEN_PASSWORD=pw-alice-e2e-secret", // as createUser sets it
		"HAVEN_TOKEN="+token,
		"HAVEN_CHROMIUM="+chromium,
		"HAVEN_SCREENSHOTS="+shots,
	)
	runLogged(t, 3*time.Minute, cmd)
}
