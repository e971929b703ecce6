package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonSpaces runs e2e/python_spaces: Space apps built and run by the
// process runner (Gradio and Streamlit installed from PyPI with uv into
// per-Space environments), driven through huggingface_hub and gradio_client.
func TestPythonSpaces(t *testing.T) {
	pytest := pytestPath(t)
	venvBin := filepath.Join(repoRoot, ".venv", "bin")
	if _, err := os.Stat(filepath.Join(venvBin, "uv")); err != nil {
		skipOrFail(t, "uv is not installed in .venv (scripts/setup-test-deps.sh installs it)")
	}
	path := "PATH=" + venvBin + string(os.PathListSeparator) + os.Getenv("PATH")
	s := startServer(t, serverOpts{Env: []string{path}})
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_spaces"), "-q", "-rfEs", "-p", "no:cacheprovider", "-x")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(s.clientEnv(t, f), path, "HAVEN_DATA="+s.DataDir)
	runLogged(t, 15*time.Minute, cmd)
}
