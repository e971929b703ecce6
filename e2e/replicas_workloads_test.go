package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startWorkloadReplica is startReplica with the runner's environment, so
// that the replica runs jobs and Space apps, and a data folder that
// survives its restarts.
func startWorkloadReplica(t *testing.T, shared []string, keyFile, publicURL string, env []string) *server {
	t.Helper()
	needBinary(t)
	s := &server{t: t, DataDir: t.TempDir(), Port: freePort(t)}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
	if publicURL == "" {
		publicURL = s.URL
	}
	s.extra = shared
	s.opts = serverOpts{Env: env, Args: []string{"--public-url", publicURL, "--secret-key-file", keyFile, "--jobs-concurrency", "4"}}
	s.start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("replica log (%s):\n%s", s.URL, tail(s.log.String(), 32<<10))
		}
	})
	return s
}

// TestReplicasWorkloads runs jobs and a Space on two replicas of one
// PostgreSQL database, S3 bucket and git folder: jobs that A runs keep
// running while B starts and restarts, their logs and metrics read through
// B, a cancel through B stops the job on A, and a Space runs on one replica
// and answers through both.
func TestReplicasWorkloads(t *testing.T) {
	if !servicesAvailable() {
		skipOrFail(t, "PostgreSQL and S3 are not configured (HAVEN_TEST_POSTGRES_DSN, HAVEN_TEST_S3_URL)")
	}
	env := spacesEnv(t)
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("7a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := []string{
		"--database", freshDatabase(t),
		"--blob-store", freshS3Store(t),
		"--repos-dir", filepath.Join(t.TempDir(), "repos"),
	}
	a := startWorkloadReplica(t, shared, keyFile, "", env)
	a.createUser("alice", "Alice")
	tok := a.createToken("alice", "write")
	onA := a.api(tok)

	// Both jobs start on A, the only replica so far.
	finishing := runJob(t, onA, "alice", "sh", "-c", "echo first line; sleep 12; echo last line")
	canceled := runJob(t, onA, "alice", "sh", "-c", "echo pid $$; sleep 300")
	for _, id := range []string{finishing.ID, canceled.ID} {
		waitJob(t, onA, "alice", id, 30*time.Second, func(st string) bool { return st == "RUNNING" || jobTerminal(st) })
	}

	// B starts, and starts again: A's jobs run on.
	b := startWorkloadReplica(t, shared, keyFile, a.URL, env)
	b.Stop()
	b.start()
	onB := b.api(tok)
	for _, id := range []string{finishing.ID, canceled.ID} {
		if j := inspectJob(t, onB, "alice", id); j.Status.Stage != "RUNNING" {
			t.Fatalf("job %s is %s (%q) after B restarted", id, j.Status.Stage, j.message())
		}
	}

	// B passes log and metric requests to A.
	var pid string
	deadline := time.Now().Add(20 * time.Second)
	for pid == "" {
		for _, l := range jobLog(t, onB, "alice", canceled.ID) {
			if p, ok := strings.CutPrefix(l, "pid "); ok {
				pid = p
			}
		}
		if pid == "" && time.Now().After(deadline) {
			t.Fatalf("the log read through B has no pid: %q", jobLog(t, onB, "alice", canceled.ID))
		}
	}
	if lines := jobLog(t, onB, "alice", finishing.ID); !containsLine(lines, "first line") {
		t.Errorf("the running job's log through B: %q", lines)
	}
	if ev := firstEvent(t, onB, "/api/jobs/alice/"+finishing.ID+"/metrics"); !strings.Contains(ev, "cpu") {
		t.Errorf("metrics through B: %q", ev)
	}

	// Canceled through B, the job stops on A.
	onB.json("POST", "/api/jobs/alice/"+canceled.ID+"/cancel", nil, http.StatusOK, nil)
	if j := waitJob(t, onA, "alice", canceled.ID, 15*time.Second, jobTerminal); j.Status.Stage != "CANCELED" {
		t.Errorf("the job canceled through B is %s (%q)", j.Status.Stage, j.message())
	}
	if msg := within(10*time.Second, func() string {
		if b, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && strings.Contains(string(b), "sleep") {
			return "the process of the job canceled through B still runs on A (pid " + pid + ")"
		}
		return ""
	}); msg != "" {
		t.Error(msg)
	}

	// The other job finishes on A, and its whole log reads through B.
	if j := waitJob(t, onB, "alice", finishing.ID, 60*time.Second, jobTerminal); j.Status.Stage != "COMPLETED" {
		t.Errorf("the job that ran while B restarted ended %s (%q)", j.Status.Stage, j.message())
	}
	if lines := jobLog(t, onB, "alice", finishing.ID); !containsLine(lines, "first line") || !containsLine(lines, "last line") {
		t.Errorf("the finished job's log through B: %q", lines)
	}

	t.Run("Space", func(t *testing.T) {
		onA.t, onB.t = t, t
		card := "---\nsdk: gradio\nsdk_version: 6.31.0\napp_file: app.py\n---\n"
		app := "import gradio as gr\ngr.Interface(fn=lambda s: s, inputs='text', outputs='text').launch()\n"
		onA.json("POST", "/api/repos/create", map[string]any{"name": "shared-app", "type": "space", "sdk": "gradio"}, http.StatusOK, nil)
		onA.commit("spaces", "alice/shared-app", "main", "app",
			commitLine{Key: "file", Value: map[string]any{"path": "README.md", "content": b64([]byte(card)), "encoding": "base64"}},
			commitLine{Key: "file", Value: map[string]any{"path": "app.py", "content": b64([]byte(app)), "encoding": "base64"}})
		waitStage(t, onB, "alice/shared-app", "RUNNING", 7*time.Minute)
		for _, c := range []*api{onA, onB} {
			if stage(t, c, "alice/shared-app") != "RUNNING" {
				t.Errorf("runtime through %s is not RUNNING", c.base)
			}
			resp, body := c.do("GET", "/-/spaces/alice/shared-app/config", nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the app through %s: %d %s", c.base, resp.StatusCode, truncate(body, 300))
			}
		}
		if !strings.Contains(spaceLog(t, onA, "alice/shared-app", "build"), "=====") || !strings.Contains(spaceLog(t, onB, "alice/shared-app", "build"), "=====") {
			t.Errorf("the build log does not read through both replicas")
		}
		// One replica built and runs it: the checkout is in one data folder.
		var holders []string
		for _, r := range []*server{a, b} {
			if m, _ := filepath.Glob(filepath.Join(r.DataDir, "spaces", "*", "src")); len(m) > 0 {
				holders = append(holders, r.URL)
			}
		}
		if len(holders) != 1 {
			t.Errorf("the Space was checked out on %d replicas (%v), want one", len(holders), holders)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("Takeover", func(t *testing.T) {
		onA.t, onB.t = t, t
		// The replica that runs the Space dies; so does the job it runs, if
		// it runs one.
		held, onOther := a, onB
		if m, _ := filepath.Glob(filepath.Join(b.DataDir, "spaces", "*", "src")); len(m) > 0 {
			held, onOther = b, onA
		}
		j := runJob(t, onOther, "alice", "sh", "-c", "sleep 300")
		waitJob(t, onOther, "alice", j.ID, 30*time.Second, func(st string) bool { return st == "RUNNING" || jobTerminal(st) })
		_, err := os.Stat(filepath.Join(held.DataDir, "jobs", "logs", j.ID+".log"))
		jobOnHeld := err == nil
		held.Kill()
		start := time.Now()
		for {
			resp, body := onOther.do("GET", "/-/spaces/alice/shared-app/config", nil, nil)
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Since(start) > 3*time.Minute {
				t.Fatalf("the app through the surviving replica: %d %s", resp.StatusCode, truncate(body, 300))
			}
			time.Sleep(time.Second)
		}
		t.Logf("the surviving replica runs the Space %s after the other died", time.Since(start).Round(time.Second))
		if jobOnHeld {
			got := waitJob(t, onOther, "alice", j.ID, time.Minute, jobTerminal)
			if got.Status.Stage != "ERROR" || !strings.Contains(got.message(), "replica") {
				t.Errorf("the job of the dead replica is %s (%q)", got.Status.Stage, got.message())
			}
		} else if got := inspectJob(t, onOther, "alice", j.ID); got.Status.Stage != "RUNNING" {
			t.Errorf("the job of the surviving replica is %s (%q)", got.Status.Stage, got.message())
		}

		// The dead replica comes back: the Space stays where it is now, and
		// answers through both.
		held.start()
		onHeld := held.api(tok)
		onHeld.t = t
		if resp, body := onHeld.do("GET", "/-/spaces/alice/shared-app/config", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the app through the replica that came back: %d %s", resp.StatusCode, truncate(body, 300))
		}
		if m, _ := filepath.Glob(filepath.Join(held.DataDir, "spaces", "*", "logs", "run-*")); len(m) > 1 {
			t.Errorf("the replica that came back started the app again: %v", m)
		}
		if !jobOnHeld {
			onOther.json("POST", "/api/jobs/alice/"+j.ID+"/cancel", nil, http.StatusOK, nil)
		}
	})
}

// firstEvent returns the first data event of a stream, read within ten
// seconds.
func firstEvent(t *testing.T, a *api, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", path, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			return data
		}
	}
	return ""
}
