package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPythonEndpoints runs e2e/python_endpoints: dedicated inference
// endpoints driven through huggingface_hub's Inference Endpoints API (with
// its base URL pointed at /api/endpoints/v2) and the hf CLI: a tiny BERT
// classifier built with the training environment is created, waited for,
// called, paused, resumed, scaled to zero and woken, updated (a good commit
// rolls out, a corrupt one ends updateFailed while the old keeps serving),
// split 50/50 against a larger model whose latency the statistics detect,
// rolled back and deleted. Engines run on Haven's ML stack through the
// process runner.
func TestPythonEndpoints(t *testing.T) {
	pytest := pytestPath(t)
	python := trainEnv(t)
	env := spacesEnv(t)
	s := startServer(t, serverOpts{Env: env})
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_endpoints"), "-q", "-rfEs", "-s", "-x", "-p", "no:cacheprovider")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(append(s.clientEnv(t, f), env...), "HAVEN_TRAIN_PYTHON="+python)
	runLogged(t, 10*time.Minute, cmd)
}
