package e2e

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/url"
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
	// The servers of a test run share their Python environments: each is
	// built once (the training stack of fine-tunes among them).
	envs := filepath.Join(os.TempDir(), "haven-e2e-envs")
	return []string{"PATH=" + venvBin + string(os.PathListSeparator) + os.Getenv("PATH"), "UV_CACHE_DIR=" + cache, "HAVEN_RUNNER_ENVS=" + envs}
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

// TestPrivateSpaceOnItsOwnDomain: with --spaces-domain, a private Space is
// served at its own host name, where the hub's session does not reach. Its
// page frames it with a signed link, which the proxy trades for a cookie of
// that Space's domain; the cookie opens that Space and no other.
func TestPrivateSpaceOnItsOwnDomain(t *testing.T) {
	s := startServer(t, serverOpts{Args: []string{"--spaces-domain", "spaces.test", "--runner", "none"}})
	s.createUser("alice", "Alice")
	owner := s.api(s.createToken("alice", "write"))
	for _, name := range []string{"hidden", "other"} {
		owner.json("POST", "/api/repos/create", map[string]any{"name": name, "type": "space", "sdk": "static", "private": true}, http.StatusOK, nil)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(host, path string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Host = host
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const host = "alice-hidden.static.spaces.test"
	if resp := get(host, "/", nil); resp.StatusCode == http.StatusOK {
		t.Fatalf("a private Space answered an anonymous browser: %d", resp.StatusCode)
	}

	// The owner's page (signed in: pages go by session) carries the signed link.
	form := url.Values{"username": {"alice"}, "password": {"pw-alice-e2e-secret"}}
	loginReq, _ := http.NewRequest("POST", s.URL+"/login", strings.NewReader(form.Encode()))
	loginReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	loginReq.Header.Set("Origin", s.URL)
	login, err := noRedirect.Do(loginReq)
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	var session *http.Cookie
	for _, c := range login.Cookies() {
		if c.Name == "haven_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("signing in: %d, no session cookie", login.StatusCode)
	}
	req, _ := http.NewRequest("GET", s.URL+"/spaces/alice/hidden", nil)
	req.AddCookie(session)
	pageResp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(pageResp.Body)
	pageResp.Body.Close()
	link := between(string(page), `data-src="`, `"`)
	if !strings.Contains(link, "__sign=") {
		t.Fatalf("the page frames %q, not a signed link", link)
	}
	u, err := url.Parse(html.UnescapeString(link))
	if err != nil || u.Hostname() != host {
		t.Fatalf("signed link %q: %v", link, err)
	}
	resp := get(host, u.RequestURI(), nil)
	if resp.StatusCode != http.StatusFound || strings.Contains(resp.Header.Get("Location"), "__sign") {
		t.Fatalf("trading the signature: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "haven_space_access" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly {
		t.Fatalf("no access cookie in %v", resp.Header.Values("Set-Cookie"))
	}
	if resp := get(host, "/", cookie); resp.StatusCode != http.StatusOK {
		t.Errorf("the cookie does not open the Space: %d", resp.StatusCode)
	}
	if resp := get("alice-other.static.spaces.test", "/", cookie); resp.StatusCode == http.StatusOK {
		t.Error("the cookie of one Space opened another")
	}
	if resp := get(host, "/?__sign=1.2.forged", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a forged signature: %d", resp.StatusCode)
	}
}
