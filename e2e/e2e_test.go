package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pytestPath returns the pytest of the project's virtual environment, or
// skips (fails when required) if it is not installed.
func pytestPath(t *testing.T) string {
	t.Helper()
	p := filepath.Join(repoRoot, ".venv", "bin", "pytest")
	if _, err := os.Stat(p); err != nil {
		skipOrFail(t, "the Python test environment .venv is missing")
	}
	return p
}

// runPytest runs the Python suite (optionally only the tests with a marker) against s.
func runPytest(t *testing.T, s *server, marker string) {
	t.Helper()
	pytest := pytestPath(t)
	f := s.setupAccounts()
	args := []string{filepath.Join(repoRoot, "e2e", "python"), "-q", "-rfEs", "-p", "no:cacheprovider"}
	if marker != "" {
		args = append(args, "-m", marker)
	}
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		args = append(args, "-k", pat)
	}
	cmd := exec.Command(pytest, args...)
	cmd.Dir = repoRoot
	cmd.Env = s.clientEnv(t, f)
	cmd.Env = append(cmd.Env, "PATH="+filepath.Join(repoRoot, ".venv", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	runLogged(t, 12*time.Minute, cmd)
}

// TestPython runs e2e/python (huggingface_hub, HfFileSystem and the hf CLI)
// against a server with the embedded defaults (SQLite and local disk).
func TestPython(t *testing.T) {
	pytestPath(t)
	// The webhook tests' receivers listen on loopback.
	s := startServer(t, serverOpts{Args: []string{"--webhooks-allow-private"}})
	runPytest(t, s, "")
}

// TestPythonServices runs the tests marked "backends" against a server that
// keeps metadata in PostgreSQL and large files in S3.
func TestPythonServices(t *testing.T) {
	if !servicesAvailable() {
		if requireOK {
			t.Fatal("HAVEN_TEST_POSTGRES_DSN and HAVEN_TEST_S3_URL must be set when HAVEN_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("HAVEN_TEST_POSTGRES_DSN and HAVEN_TEST_S3_URL are not set")
	}
	pytestPath(t)
	s := startServer(t, serverOpts{Postgres: true, S3: true})
	runPytest(t, s, "backends")

	// The suite uploads a 50 MB file: it must have gone to S3, not to the data folder.
	filepath.WalkDir(s.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if info, err := d.Info(); err == nil && info.Size() >= 10<<20 {
			t.Errorf("with --blob-store s3://… a large file was written to the data folder: %s (%d bytes)", path, info.Size())
		}
		return nil
	})
	// And the metadata must be in PostgreSQL.
	out, err := exec.Command("psql", "-At", "-d", s.databaseURL(), "-c",
		"SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "0" {
		t.Errorf("the server's PostgreSQL database has no tables (%v): %s", err, out)
	}
}

// TestJS runs e2e/js (@huggingface/hub) with node's test runner.
func TestJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "e2e", "js", "node_modules", "@huggingface", "hub")); err != nil {
		skipOrFail(t, "e2e/js/node_modules is missing")
	}
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	cmd := exec.Command(node, "--test", "--test-reporter=spec", "hub.test.mjs")
	cmd.Dir = filepath.Join(repoRoot, "e2e", "js")
	cmd.Env = s.clientEnv(t, f)
	runLogged(t, 8*time.Minute, cmd)
}
