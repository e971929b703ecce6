package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// browserSuite is what every browser test needs: node, Chromium and the
// e2e/browser packages; the test is skipped (or failed where the services
// are required) when one is missing.
type browserSuite struct {
	node, chromium, dir, shots string
}

func needBrowser(t *testing.T) browserSuite {
	t.Helper()
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
	return browserSuite{node: node, chromium: chromium, dir: dir, shots: filepath.Join(repoRoot, "test-output", "screenshots")}
}

// command runs node's test runner on the scripts, one at a time, with env
// added to the environment (Haven's own variables left out) besides
// HAVEN_CHROMIUM and HAVEN_SCREENSHOTS.
func (b browserSuite) command(env []string, scripts ...string) *exec.Cmd {
	cmd := exec.Command(b.node, append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, scripts...)...)
	cmd.Dir = b.dir
	cmd.Env = append(append(filterEnv(os.Environ(), "HAVEN_"), env...), "HAVEN_CHROMIUM="+b.chromium, "HAVEN_SCREENSHOTS="+b.shots)
	return cmd
}
