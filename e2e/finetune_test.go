package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trainEnv returns the python of the fine-tuning training environment: a
// virtual environment built with uv from mlstack/requirements.txt into
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
	req := filepath.Join(repoRoot, "mlstack", "requirements.txt")
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

// TestFinetuneResumesAfterRestart: a fine-tune running when Haven crashes is
// queued again when Haven starts, resumes from its last checkpoint (not from
// the start), and pushes its model.
func TestFinetuneResumesAfterRestart(t *testing.T) {
	python := trainEnv(t)
	s := startServer(t, serverOpts{Env: spacesEnv(t)})
	s.createUser("alice", "Alice")
	tok := s.createToken("alice", "write")
	a := s.api(tok)
	fixtures := exec.Command(python, filepath.Join(repoRoot, "e2e", "pyshared", "tiny_models.py"), "alice", "rs")
	fixtures.Env = append(filterEnv(os.Environ(), "HF_"), "HF_ENDPOINT="+s.URL, "HF_TOKEN="+tok, "HF_HUB_DISABLE_PROGRESS_BARS=1")
	runLogged(t, 5*time.Minute, fixtures)

	req := map[string]any{"task": "text-classification", "base_model": "alice/rs-bert", "dataset": "alice/rs-sentiment",
		"columns": map[string]string{"text": "text", "label": "label"}, "output_repo": "rs-resumed",
		"hyperparameters": map[string]any{"max_steps": 300, "eval_steps": 10, "learning_rate": 3e-3}}
	var j jobInfo
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, body := a.do("POST", "/api/finetune", req, nil)
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &j); err != nil {
				t.Fatal(err)
			}
			break
		}
		// The dataset viewer reads new datasets in the background.
		if !strings.Contains(string(body), "has not read") || time.Now().After(deadline) {
			t.Fatalf("POST /api/finetune: %d %s", resp.StatusCode, body)
		}
		time.Sleep(time.Second)
	}

	// Crash as soon as the first checkpoint is written.
	if !followUntil(t, a, "alice", j.ID, "checkpoint ", 10*time.Minute) {
		st := inspectJob(t, a, "alice", j.ID)
		t.Fatalf("the fine-tune ended %s before its first checkpoint:\n%s", st.Status.Stage, strings.Join(jobLog(t, a, "alice", j.ID), "\n"))
	}
	s.Kill()
	s.start()

	done := waitJob(t, a, "alice", j.ID, 5*time.Minute, jobTerminal)
	lines := jobLog(t, a, "alice", j.ID)
	if done.Status.Stage != "COMPLETED" {
		t.Fatalf("the fine-tune ended %s (%q) after the restart:\n%s", done.Status.Stage, done.message(), strings.Join(lines, "\n"))
	}
	if !containsPrefix(lines, "checkpoint step=") || !containsPrefix(lines, "===== Haven restarted") {
		t.Errorf("the log lost what came before the restart:\n%s", strings.Join(lines, "\n"))
	}
	if !containsPrefix(lines, "resume checkpoint=checkpoint-") {
		t.Errorf("the fine-tune did not resume from its checkpoint:\n%s", strings.Join(lines, "\n"))
	}
	if !containsPrefix(lines, "pushed repo=alice/rs-resumed") {
		t.Errorf("no model pushed:\n%s", strings.Join(lines, "\n"))
	}
	a.json("GET", "/api/models/alice/rs-resumed", nil, http.StatusOK, nil)
}

// followUntil follows a job's log stream until a line starts with prefix
// (true), or the stream ends or the time is up (false).
func followUntil(t *testing.T, a *api, ns, id, prefix string, within time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/api/jobs/"+ns+"/"+id+"/logs", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("logs of %s: %v", id, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Data string `json:"data"`
		}
		if json.Unmarshal([]byte(data), &ev) == nil && strings.HasPrefix(ev.Data, prefix) {
			return true
		}
	}
	return false
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
