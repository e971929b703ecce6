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
// split 50/50 against a larger model whose latency the statistics detect;
// Haven restarts and the endpoint comes back with its split and statistics;
// it is rolled back and deleted. Engines run on Haven's ML stack through the
// process runner.
func TestPythonEndpoints(t *testing.T) {
	pytest := pytestPath(t)
	python := trainEnv(t)
	env := spacesEnv(t)
	s := startServer(t, serverOpts{Env: env})
	f := s.setupAccounts()
	models := filepath.Join(t.TempDir(), "models.json")
	run := func(marker string) {
		cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_endpoints"), "-q", "-rfEs", "-s", "-x", "-p", "no:cacheprovider", "-m", marker)
		if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
			cmd.Args = append(cmd.Args, "-k", pat)
		}
		cmd.Dir = repoRoot
		cmd.Env = append(append(s.clientEnv(t, f), env...), "HAVEN_TRAIN_PYTHON="+python, "HAVEN_ENDPOINTS_MODELS="+models)
		runLogged(t, 10*time.Minute, cmd)
	}
	run("not after_restart")
	// Haven restarts: the endpoint comes back running with its split.
	s.Stop()
	s.start()
	run("after_restart")
}
