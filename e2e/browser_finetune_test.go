package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestBrowserFinetune drives a no-code fine-tune in headless Chromium
// (e2e/browser/finetune.test.mjs): from a tiny base model's Fine-tune
// button, through the form (dataset columns read by the viewer), to the
// job's page (progress, COMPLETED, the final evaluation), the pushed
// model's page and the base model's count of fine-tunes. The fixtures are
// built with the training environment's python and pushed to the server;
// the job runs the training program in a uv environment of its own, which
// HAVEN_RUNNER_ENVS (set by spacesEnv) shares between test servers.
func TestBrowserFinetune(t *testing.T) {
	b := needBrowser(t)
	python := trainEnv(t)
	s := startServer(t, serverOpts{Env: spacesEnv(t)})
	s.createUser("alice", "Alice Liddell")
	token := s.createToken("alice", "write")

	// A tiny BERT (alice/tiny-bert) and a separable sentiment set
	// (alice/reviews), from e2e/pyshared/tiny_models.py.
	build := exec.Command(python, "-c", `
import os, sys, tempfile
sys.path.insert(0, sys.argv[1])
import tiny_models as tm
from huggingface_hub import HfApi

api = HfApi()
with tempfile.TemporaryDirectory() as tmp:
    bert = os.path.join(tmp, "bert")
    tm.build_bert(bert)
    tm.push_folder(api, "alice/tiny-bert", bert)
    data = tm.build_datasets(os.path.join(tmp, "datasets"))
    tm.push_folder(api, "alice/reviews", data["sentiment"], repo_type="dataset")
`, filepath.Join(repoRoot, "e2e", "pyshared"))
	build.Env = append(filterEnv(os.Environ(), "HF_", "HUGGING_FACE_", "HUGGINGFACE_"),
		"HF_ENDPOINT="+s.URL, "HF_TOKEN="+token, "HF_HUB_DISABLE_PROGRESS_BARS=1", "HF_DATASETS_DISABLE_PROGRESS_BARS=1", "OMP_NUM_THREADS=1")
	start := time.Now()
	runLogged(t, 5*time.Minute, build)
	t.Logf("fixtures built and pushed in %s", time.Since(start).Round(time.Second))

	cmd := b.command([]string{
		"HAVEN_URL=" + s.URL,
		"HAVEN_USER=alice",
		"HAVEN_PASSWORD=pw-alice-e2e-secret", // as createUser sets it
		"HAVEN_BASE_MODEL=alice/tiny-bert",
		"HAVEN_DATASET=alice/reviews",
	}, "finetune.test.mjs")
	start = time.Now()
	runLogged(t, 20*time.Minute, cmd)
	t.Logf("browser suite ran in %s", time.Since(start).Round(time.Second))
}
