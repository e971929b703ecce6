package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestUpstream runs e2e/python_upstream: a hub started with --upstream
// pointing at a second Haven serves that one's repositories to the official
// client (public ones from its cache, private and gated ones only with the
// caller's own upstream token), keeps serving what it cached once the
// upstream is stopped, and again after a restart with --upstream-offline.
func TestUpstream(t *testing.T) {
	pytest := pytestPath(t)
	up := startServer(t, serverOpts{})
	f := up.setupAccounts()
	up.createOrg("denied", "alice")
	args := []string{"--upstream", up.URL, "--upstream-allow-private", "--upstream-deny", "denied,nobody"}
	hub := startServer(t, serverOpts{Args: args})
	hub.createUser("alice", "Alice at the hub")
	local := hub.createToken("alice", "write")

	statePath := filepath.Join(t.TempDir(), "state.json")
	env := append(hub.clientEnv(t, f),
		"HAVEN_UPSTREAM_URL="+up.URL,
		"HAVEN_UPSTREAM_TOKEN="+f.Alice,
		"HAVEN_UPSTREAM_OTHER_TOKEN="+f.Bob,
		"HAVEN_LOCAL_TOKEN="+local,
		"HAVEN_UPSTREAM_STATE="+statePath,
		"PATH="+filepath.Join(repoRoot, ".venv", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
	)
	phase := func(marker string) {
		t.Helper()
		cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_upstream"), "-q", "-rfEs", "-p", "no:cacheprovider", "-m", marker, "--durations=5")
		if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
			cmd.Args = append(cmd.Args, "-k", pat)
		}
		cmd.Dir = repoRoot
		cmd.Env = env
		runLogged(t, 6*time.Minute, cmd)
	}
	phase("online")
	if t.Failed() {
		return
	}
	up.Stop()
	phase("offline")

	// Forced offline, after a restart: the revisions it knew come from the
	// blob store now.
	hub.Stop()
	hub.opts.Args = append(args, "--upstream-offline")
	hub.start()
	phase("offline")
}
