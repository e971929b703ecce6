package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// spacesEnv is what a server that runs Spaces needs: uv on its PATH (from
// the test virtual environment) and one uv cache for every test server, so
// that Gradio is downloaded once per test run.
func spacesEnv(t *testing.T) []string {
	t.Helper()
	venvBin := filepath.Join(repoRoot, ".venv", "bin")
	if _, err := os.Stat(filepath.Join(venvBin, "uv")); err != nil {
		skipOrFail(t, "uv is not installed in .venv (scripts/setup-test-deps.sh installs it)")
	}
	cache := filepath.Join(os.TempDir(), "haven-e2e-uv-cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + venvBin + string(os.PathListSeparator) + os.Getenv("PATH"), "UV_CACHE_DIR=" + cache}
}

// TestPythonSpaces runs e2e/python_spaces: Space apps built and run by the
// process runner (Gradio and Streamlit installed from PyPI with uv into
// per-Space environments), driven through huggingface_hub and gradio_client.
func TestPythonSpaces(t *testing.T) {
	pytest := pytestPath(t)
	env := spacesEnv(t)
	s := startServer(t, serverOpts{Env: env})
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_spaces"), "-q", "-rfEs", "-p", "no:cacheprovider", "-x")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(append(s.clientEnv(t, f), env...), "HAVEN_DATA="+s.DataDir)
	runLogged(t, 15*time.Minute, cmd)
}

// TestSpacesSurviveRestart: after Haven crashes and starts again, a running
// Space runs again from its cached environment (nothing rebuilt), the app
// the crash left behind is gone, and a paused Space stays paused.
func TestSpacesSurviveRestart(t *testing.T) {
	s := startServer(t, serverOpts{Env: spacesEnv(t)})
	s.createUser("alice", "Alice")
	a := s.api(s.createToken("alice", "write"))
	card := "---\nsdk: gradio\nsdk_version: 6.31.0\napp_file: app.py\n---\n"
	app := "import os, gradio as gr\nprint('app pid', os.getpid(), flush=True)\ngr.Interface(fn=lambda s: s, inputs='text', outputs='text').launch()\n"
	for _, name := range []string{"kept", "paused"} {
		a.json("POST", "/api/repos/create", map[string]any{"name": name, "type": "space", "sdk": "gradio"}, http.StatusOK, nil)
		a.commit("spaces", "alice/"+name, "main", "app",
			commitLine{Key: "file", Value: map[string]any{"path": "README.md", "content": b64([]byte(card)), "encoding": "base64"}},
			commitLine{Key: "file", Value: map[string]any{"path": "app.py", "content": b64([]byte(app)), "encoding": "base64"}})
	}
	waitStage(t, a, "alice/kept", "RUNNING", 7*time.Minute)
	waitStage(t, a, "alice/paused", "RUNNING", 2*time.Minute)
	a.json("POST", "/api/spaces/alice/paused/pause", nil, http.StatusOK, nil)
	before := spaceLog(t, a, "alice/kept", "run")
	oldPid := between(before, "app pid ", "\\n")
	if oldPid == "" {
		t.Fatalf("no pid in the run log: %s", tail(before, 2000))
	}

	s.Kill()
	s.start()

	waitStage(t, a, "alice/kept", "RUNNING", 2*time.Minute)
	if got := stage(t, a, "alice/paused"); got != "PAUSED" {
		t.Errorf("paused Space is %s after the restart", got)
	}
	if build := spaceLog(t, a, "alice/kept", "build"); !strings.Contains(build, "Reusing the cached environment") {
		t.Errorf("the restart rebuilt the environment: %s", tail(build, 2000))
	}
	if _, err := os.Stat("/proc/" + oldPid); err == nil {
		t.Errorf("the app the crash left behind (pid %s) still runs", oldPid)
	}
	resp, body := a.do("GET", "/-/spaces/alice/kept/config", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the app does not answer after the restart: %d %s", resp.StatusCode, truncate(body, 500))
	}
}

func stage(t *testing.T, a *api, id string) string {
	t.Helper()
	var rt struct {
		Stage        string `json:"stage"`
		ErrorMessage string `json:"errorMessage"`
	}
	a.json("GET", "/api/spaces/"+id+"/runtime", nil, http.StatusOK, &rt)
	return rt.Stage
}

func waitStage(t *testing.T, a *api, id, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := stage(t, a, id)
		if got == want {
			return
		}
		if time.Now().After(deadline) || strings.HasSuffix(got, "_ERROR") {
			t.Fatalf("%s is %s, want %s\nbuild log: %s\nrun log: %s", id, got, want, tail(spaceLog(t, a, id, "build"), 2000), tail(spaceLog(t, a, id, "run"), 2000))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// spaceLog reads what a Space's build or run log stream has replayed within
// two seconds: the stream itself follows the log and does not end.
func spaceLog(t *testing.T, a *api, id, kind string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/api/spaces/"+id+"/logs/"+kind, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body) // ends with the deadline
	return string(b)
}

// between returns the text of s between the first before and the next after.
func between(s, before, after string) string {
	_, rest, ok := strings.Cut(s, before)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, after)
	return v
}
