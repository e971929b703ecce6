package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestPythonJobs runs e2e/python_jobs: jobs run as local processes (Python
// and uv images as uv environments, ubuntu as the machine itself), driven by
// the hf CLI and HfApi, two at a time.
func TestPythonJobs(t *testing.T) {
	pytest := pytestPath(t)
	env := spacesEnv(t)
	s := startServer(t, serverOpts{Env: env, Args: []string{"--jobs-concurrency", "2"}})
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_jobs"), "-q", "-rfEs", "-p", "no:cacheprovider", "--durations=10")
	if pat := os.Getenv("HAVEN_E2E_PYTEST_K"); pat != "" {
		cmd.Args = append(cmd.Args, "-k", pat)
	}
	cmd.Dir = repoRoot
	cmd.Env = append(append(s.clientEnv(t, f), env...), "HAVEN_DATA="+s.DataDir, "HF_HUB_DISABLE_EXPERIMENTAL_WARNING=1")
	runLogged(t, 8*time.Minute, cmd)
}

// jobInfo is the part of JobInfo these tests read.
type jobInfo struct {
	ID     string `json:"id"`
	Status struct {
		Stage   string  `json:"stage"`
		Message *string `json:"message"`
	} `json:"status"`
}

func (j jobInfo) message() string {
	if j.Status.Message == nil {
		return ""
	}
	return *j.Status.Message
}

func runJob(t *testing.T, a *api, ns string, command ...string) jobInfo {
	t.Helper()
	var j jobInfo
	a.json("POST", "/api/jobs/"+ns, map[string]any{"dockerImage": "ubuntu", "command": command}, http.StatusOK, &j)
	if len(j.ID) != 24 {
		t.Fatalf("job id %q", j.ID)
	}
	return j
}

func inspectJob(t *testing.T, a *api, ns, id string) jobInfo {
	t.Helper()
	var j jobInfo
	a.json("GET", "/api/jobs/"+ns+"/"+id, nil, http.StatusOK, &j)
	return j
}

func jobTerminal(stage string) bool {
	switch stage {
	case "COMPLETED", "ERROR", "CANCELED", "DELETED":
		return true
	}
	return false
}

// waitJob polls a job until done says its stage is the one awaited.
func waitJob(t *testing.T, a *api, ns, id string, within time.Duration, done func(string) bool) jobInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := inspectJob(t, a, ns, id)
		if done(j.Status.Stage) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s after %s\nlog:\n%s", id, j.Status.Stage, within, strings.Join(jobLog(t, a, ns, id), "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jobLog reads the lines a job's log stream replays within three seconds
// (the stream of a finished job ends by itself; a running one is followed).
func jobLog(t *testing.T, a *api, ns, id string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
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
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logs of %s: status %d", id, resp.StatusCode)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Data string `json:"data"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("logs of %s: event %q: %v", id, data, err)
		}
		lines = append(lines, ev.Data)
	}
	return lines
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestJobsSurviveRestart: when Haven crashes, the job it was running ends
// ERROR ("Interrupted") with its log kept and its process gone, and the job
// that waited for a slot runs once Haven is back.
func TestJobsSurviveRestart(t *testing.T) {
	s := startServer(t, serverOpts{Env: spacesEnv(t), Args: []string{"--jobs-concurrency", "1"}})
	s.createUser("alice", "Alice")
	a := s.api(s.createToken("alice", "write"))

	running := runJob(t, a, "alice", "sh", "-c", "echo pid $$; echo before the crash; sleep 300")
	waitJob(t, a, "alice", running.ID, 30*time.Second, func(st string) bool { return st == "RUNNING" || jobTerminal(st) })
	var pid string
	deadline := time.Now().Add(20 * time.Second)
	for pid == "" {
		for _, l := range jobLog(t, a, "alice", running.ID) {
			if p, ok := strings.CutPrefix(l, "pid "); ok {
				pid = p
			}
		}
		if pid == "" && time.Now().After(deadline) {
			t.Fatalf("the running job printed no pid: %q", jobLog(t, a, "alice", running.ID))
		}
	}
	queued := runJob(t, a, "alice", "sh", "-c", "echo queued job $JOB_ID ran")
	time.Sleep(500 * time.Millisecond)
	if st := inspectJob(t, a, "alice", queued.ID).Status.Stage; st != "SCHEDULING" {
		t.Fatalf("the second job is %s while the only slot is busy", st)
	}

	s.Kill()
	s.start()

	j := waitJob(t, a, "alice", running.ID, 30*time.Second, jobTerminal)
	if j.Status.Stage != "ERROR" || !strings.Contains(j.message(), "Interrupted") {
		t.Errorf("the job that ran during the crash is %s (%q), want ERROR with Interrupted", j.Status.Stage, j.message())
	}
	start := time.Now()
	lines := jobLog(t, a, "alice", running.ID)
	if !containsLine(lines, "before the crash") {
		t.Errorf("the interrupted job's log lost its lines: %q", lines)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("the log stream of the interrupted job stays open (%s): clients following it hang", time.Since(start))
	}
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "Haven stopped") {
		t.Errorf("the interrupted job's log does not end by saying why: %q", lines)
	}
	// The process the crash left running is stopped when Haven starts again.
	if b, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil && strings.Contains(string(b), "before the crash") {
		t.Errorf("the process of the interrupted job (pid %s) still runs after the restart", pid)
		if n, _ := strconv.Atoi(pid); n > 1 {
			syscall.Kill(-n, syscall.SIGKILL) // the process group this test's job started
		}
	}

	q := waitJob(t, a, "alice", queued.ID, 60*time.Second, jobTerminal)
	if q.Status.Stage != "COMPLETED" {
		t.Errorf("the queued job ended %s (%q) after the restart", q.Status.Stage, q.message())
	}
	if lines := jobLog(t, a, "alice", queued.ID); !containsLine(lines, "queued job "+queued.ID+" ran") {
		t.Errorf("the queued job's log: %q", lines)
	}
}

// TestJobsConcurrencyLimit: 30 jobs submitted at once with
// --jobs-concurrency 2 all complete, each started once, never more than two
// running at a time.
func TestJobsConcurrencyLimit(t *testing.T) {
	s := startServer(t, serverOpts{Env: spacesEnv(t), Args: []string{"--jobs-concurrency", "2"}})
	s.createUser("alice", "Alice")
	a := s.api(s.createToken("alice", "write"))

	const n = 30
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// The short sleep lets the samples below see jobs overlap.
			ids[i] = runJob(t, a, "alice", "sh", "-c", "echo run $JOB_ID; sleep 0.3").ID
		}(i)
	}
	wg.Wait()

	maxRunning, samples := 0, 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list []jobInfo
		a.json("GET", "/api/jobs/alice?stage=RUNNING", nil, http.StatusOK, &list)
		samples++
		maxRunning = max(maxRunning, len(list))
		var all []jobInfo
		a.json("GET", "/api/jobs/alice", nil, http.StatusOK, &all)
		done, running := 0, 0
		for _, j := range all {
			if jobTerminal(j.Status.Stage) {
				done++
			}
			if j.Status.Stage == "RUNNING" {
				running++
			}
		}
		maxRunning = max(maxRunning, running)
		if len(all) != n {
			t.Fatalf("the list holds %d jobs, want %d", len(all), n)
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs finished within a minute", done, n)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if maxRunning > 2 {
		t.Errorf("%d jobs ran at once, the limit is 2", maxRunning)
	}
	if maxRunning == 0 {
		t.Errorf("no sample saw a running job (%d samples)", samples)
	}
	for _, id := range ids {
		j := inspectJob(t, a, "alice", id)
		if j.Status.Stage != "COMPLETED" {
			t.Errorf("job %s ended %s (%q)", id, j.Status.Stage, j.message())
			continue
		}
		lines := jobLog(t, a, "alice", id)
		started := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "===== Job started") {
				started++
			}
		}
		if started != 1 || !containsLine(lines, "run "+id) {
			t.Errorf("job %s: %d start lines, log %q", id, started, lines)
		}
	}
	t.Logf("at most %d running in %d samples", maxRunning, samples)
}
