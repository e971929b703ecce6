package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// trainEnv returns the python of the fine-tuning training environment: a
// virtual environment built with uv from finetune/train/requirements.txt into
// $TMPDIR/haven-e2e-train-<first 16 hex digits of the file's SHA-256>, with
// the shared uv cache. It is built once per content of the requirements file
// and reused by every later test run: a marker file written after a
// successful install says the folder is complete, and a folder without it is
// built again. A file lock keeps two test processes from building it at once.
// Bytecode is compiled at install time, which makes every later start of the
// training program several times faster (the test environment sets
// PYTHONDONTWRITEBYTECODE, so nothing would cache it otherwise).
func trainEnv(t *testing.T) string {
	t.Helper()
	uv := filepath.Join(repoRoot, ".venv", "bin", "uv")
	if _, err := os.Stat(uv); err != nil {
		skipOrFail(t, "uv is not installed in .venv (scripts/setup-test-deps.sh installs it)")
	}
	req := filepath.Join(repoRoot, "finetune", "train", "requirements.txt")
	data, err := os.ReadFile(req)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	dir := filepath.Join(os.TempDir(), "haven-e2e-train-"+hex.EncodeToString(sum[:8]))
	python := filepath.Join(dir, "bin", "python")
	marker := filepath.Join(dir, ".haven-e2e-complete")

	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	if _, err := os.Stat(marker); err == nil {
		return python
	}

	cache := filepath.Join(os.TempDir(), "haven-e2e-uv-cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// uv may not download an interpreter: use the machine's Python 3.11 when
	// there is one, else python3.
	interp := "python3"
	if p, err := exec.LookPath("python3.11"); err == nil {
		interp = p
	}
	env := append(os.Environ(), "UV_CACHE_DIR="+cache, "UV_PYTHON_DOWNLOADS=never", "UV_NO_PROGRESS=1")
	start := time.Now()
	venv := exec.Command(uv, "venv", "--quiet", "--python", interp, dir)
	venv.Env = env
	runLogged(t, 2*time.Minute, venv)
	install := exec.Command(uv, "pip", "install", "--quiet", "--python", python, "--compile-bytecode", "-r", req)
	install.Env = env
	runLogged(t, 20*time.Minute, install)
	if err := os.WriteFile(marker, []byte(hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the training environment %s in %s", dir, time.Since(start).Round(time.Second))
	return python
}

// TestPythonFinetune runs e2e/python_finetune: finetune/train/train.py, run
// with the training environment's python, fine-tunes tiny models (built and
// pushed by e2e/pyshared/tiny_models.py) on tiny data sets read from Haven,
// and pushes the results back; the suite loads them again from Haven.
func TestPythonFinetune(t *testing.T) {
	pytest := pytestPath(t)
	python := trainEnv(t)
	s := startServer(t, serverOpts{Env: spacesEnv(t)})
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_finetune"), "-q", "-rfEs", "-p", "no:cacheprovider")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(s.clientEnv(t, f), "HAVEN_TRAIN_PYTHON="+python)
	runLogged(t, 15*time.Minute, cmd)
}
