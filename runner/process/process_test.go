package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven/runner"
)

func TestMain(m *testing.M) {
	Main() // the runner re-executes this test binary as its sandbox helper
	os.Exit(m.Run())
}

// syncBuffer collects a workload's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRunner(t *testing.T) *Runner {
	t.Helper()
	uv, _ := exec.LookPath("uv")
	if uv == "" {
		if p, err := filepath.Abs("../../.venv/bin/uv"); err == nil {
			if _, err := os.Stat(p); err == nil {
				uv = p
			}
		}
	}
	dir := t.TempDir()
	t.Cleanup(func() { releaseClaims(t, dir) })
	r, err := New(Config{Dir: dir, UV: uv})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start builds and starts w, stopping it when the test ends.
func start(t *testing.T, r *Runner, w *runner.Workload) (runner.Handle, *syncBuffer) {
	t.Helper()
	ctx := context.Background()
	b, err := r.Build(ctx, w, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	h, err := r.Start(ctx, w, b, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Stop(context.Background(), time.Second) })
	return h, out
}

func waitDone(t *testing.T, h runner.Handle) runner.Exit {
	t.Helper()
	select {
	case <-h.Done():
		return h.Exit()
	case <-time.After(30 * time.Second):
		t.Fatal("workload did not exit")
	}
	return runner.Exit{}
}

func TestExitAndEnvironment(t *testing.T) {
	r := newRunner(t)
	files := t.TempDir()
	os.WriteFile(filepath.Join(files, "app.txt"), []byte("from the repo"), 0o644)
	tests := []struct {
		name   string
		script string
		want   string
		code   int
		reason string
	}{
		{"exit code", "exit 3", "", 3, "Exit code: 3"},
		{"env, secrets and port", `echo "$GREETING $TOKEN $PORT_COPY"`, "hello s3cret 0", 0, "Exit code: 0"},
		{"runs in a copy of its files", "cat app.txt; pwd", "from the repo", 0, "Exit code: 0"},
		{"nothing of Haven's environment", `echo "leak=${HAVEN_LEAK:-none}"`, "leak=none", 0, "Exit code: 0"},
		{"knows its folder", `test "$WHERE" = "$(pwd)" && echo same`, "same", 0, "Exit code: 0"},
		{"unknown command", "exec no-such-command-here", "not found", 127, "Exit code: 127"},
	}
	t.Setenv("HAVEN_LEAK", "yes")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &runner.Workload{ID: "test-" + strings.ReplaceAll(tc.name, " ", "-"), Kind: runner.KindJob, Files: files,
				Command: []string{"sh", "-c", tc.script},
				Env:     map[string]string{"GREETING": "hello", "PORT_COPY": "${PORT}", "WHERE": "${APP}"},
				Secrets: map[string]string{"TOKEN": "s3cret"}}
			h, out := start(t, r, w)
			e := waitDone(t, h)
			if e.Code != tc.code || e.Reason != tc.reason {
				t.Errorf("exit = %+v, want code %d reason %q; output %q", e, tc.code, tc.reason, out)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output %q lacks %q", out, tc.want)
			}
			if strings.Contains(out.String(), filepath.Clean(files)+"\n") {
				t.Errorf("ran in the source folder itself: %q", out)
			}
		})
	}
}

func TestServeStopAndMetrics(t *testing.T) {
	r := newRunner(t)
	files := t.TempDir()
	os.WriteFile(filepath.Join(files, "index.html"), []byte("<h1>served</h1>"), 0o644)
	// A child in the background must go with the workload.
	w := &runner.Workload{ID: "serve", Kind: runner.KindSpace, Files: files, Port: 7860,
		Command: []string{"sh", "-c", "sleep 300 & exec python3 -m http.server ${PORT} --bind 127.0.0.1"}}
	h, _ := start(t, r, w)
	if h.Addr() == "" {
		t.Fatalf("addr %q", h.Addr())
	}
	var body string
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://" + h.Addr() + "/index.html")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != "<h1>served</h1>" {
		t.Fatalf("body %q", body)
	}
	m, err := h.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Pids < 2 || m.MemoryBytes <= 0 || m.MemoryMaxBytes <= 0 {
		t.Errorf("metrics %+v: want both processes and their memory", m)
	}
	pgid := h.(*handle).pgid
	if err := h.Stop(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	e := h.Exit()
	if !e.Stopped || e.Reason != "Stopped" {
		t.Errorf("exit %+v", e)
	}
	time.Sleep(100 * time.Millisecond)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgrp == pgid && !st.zombie {
			t.Errorf("process %d of the group still alive after Stop", pid)
		}
	}
}

func TestWallClock(t *testing.T) {
	r := newRunner(t)
	w := &runner.Workload{ID: "slow", Kind: runner.KindJob, Command: []string{"sleep", "60"},
		Limits: runner.Limits{WallClock: 300 * time.Millisecond}}
	h, _ := start(t, r, w)
	if e := waitDone(t, h); !e.TimedOut || !strings.HasPrefix(e.Reason, "Timed out") {
		t.Errorf("exit %+v", e)
	}
}

func TestExec(t *testing.T) {
	r := newRunner(t)
	w := &runner.Workload{ID: "exec", Kind: runner.KindSpace, Command: []string{"sleep", "60"}, Env: map[string]string{"WHO": "beside"}}
	h, _ := start(t, r, w)
	var out bytes.Buffer
	code, err := h.Exec(context.Background(), []string{"sh", "-c", "read x; echo $x $WHO; exit 4"}, strings.NewReader("typed\n"), &out, &out)
	if err != nil || code != 4 || strings.TrimSpace(out.String()) != "typed beside" {
		t.Errorf("exec = %d, %v, %q", code, err, out.String())
	}
}

func TestConfinement(t *testing.T) {
	if landlockABI() < 1 {
		t.Skip("this kernel has no Landlock")
	}
	r := newRunner(t)
	outside := filepath.Join(t.TempDir(), "haven-secret")
	if err := os.WriteFile(outside, []byte("private"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		name   string
		script string
		ok     bool
	}{
		{"reads the system", "cat /etc/hostname >/dev/null", true},
		{"writes its folder", "echo x > written && cat written", true},
		{"writes its data folder", "echo x > $HAVEN_DATA_DIR/kept", true},
		{"writes its TMPDIR", "echo x > $TMPDIR/x", true},
		{"cannot write the shared /tmp", "echo x > /tmp/haven-runner-test-$$", false},
		{"cannot read Haven's files", "cat " + outside, false},
		{"cannot write the system", "touch /etc/haven-runner-test", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &runner.Workload{ID: "confined", Kind: runner.KindJob, Data: data, Command: []string{"sh", "-c", tc.script}}
			h, out := start(t, r, w)
			e := waitDone(t, h)
			if (e.Code == 0) != tc.ok {
				t.Errorf("exit %+v, want success %v; output %q", e, tc.ok, out)
			}
		})
	}
	os.Remove("/etc/haven-runner-test")
}

func TestOwnUserWhenRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("workloads run as Haven's own user when Haven is not root")
	}
	r := newRunner(t)
	w := &runner.Workload{ID: "whoami", Kind: runner.KindJob, Command: []string{"id", "-u"}}
	h, out := start(t, r, w)
	waitDone(t, h)
	if got := strings.TrimSpace(out.String()); got == "0" || got == "" {
		t.Errorf("workload ran as uid %q", got)
	}
}

func TestOnlyItsPort(t *testing.T) {
	if landlockABI() < 4 {
		t.Skip("this kernel cannot confine TCP binds")
	}
	r := newRunner(t)
	other, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`import os, socket
s = socket.socket(); s.bind(("127.0.0.1", int(os.environ["PORT"]))); print("own port ok")
try:
    socket.socket().bind(("127.0.0.1", %d)); print("other port bound")
except OSError as e:
    print("other port refused")`, other)
	w := &runner.Workload{ID: "ports", Kind: runner.KindSpace, Port: 8000, Env: map[string]string{"PORT": "${PORT}"}, Command: []string{"python3", "-c", script}}
	h, out := start(t, r, w)
	waitDone(t, h)
	if got := out.String(); !strings.Contains(got, "own port ok") || !strings.Contains(got, "other port refused") {
		t.Errorf("output %q", got)
	}
}

func TestNeedsEngine(t *testing.T) {
	r := newRunner(t)
	for _, rec := range []runner.Recipe{{Image: "python:3.12"}, {Dockerfile: "Dockerfile"}} {
		_, err := r.Build(context.Background(), &runner.Workload{ID: "x", Recipe: rec}, false, io.Discard)
		var re *runner.Error
		if !errors.As(err, &re) || re.Message != runner.ErrNeedsEngine {
			t.Errorf("%+v: err %v", rec, err)
		}
	}
}

func TestPythonEnvironment(t *testing.T) {
	r := newRunner(t)
	if r.uv == "" {
		t.Skip("uv is not installed (scripts/setup-test-deps.sh installs it)")
	}
	ctx := context.Background()
	// Python 3.0 is on no machine: the build warns and uses python3.
	w := &runner.Workload{ID: "py", Kind: runner.KindSpace, Recipe: runner.Recipe{Python: "3.0", Requirements: []string{"six==1.17.0"}},
		Command: []string{"python", "-c", "import six, sys; print(six.__version__, sys.prefix)"}}
	var log bytes.Buffer
	b, err := r.Build(ctx, w, false, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if b.Reused() || !strings.Contains(log.String(), "WARNING: Python 3.0 is not installed") {
		t.Errorf("first build reused=%v, log:\n%s", b.Reused(), log.String())
	}
	out := &syncBuffer{}
	h, err := r.Start(ctx, w, b, out)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, h)
	if got := out.String(); !strings.HasPrefix(got, "1.17.0 "+filepath.Join(r.dir, "envs")) {
		t.Errorf("output %q", got)
	}

	again, err := r.Build(ctx, w, false, io.Discard)
	if err != nil || !again.Reused() || again.Key() != b.Key() {
		t.Errorf("second build: %v reused=%v", err, again != nil && again.Reused())
	}
	fresh, err := r.Build(ctx, w, true, io.Discard)
	if err != nil || fresh.Reused() {
		t.Errorf("fresh build: %v reused=%v", err, fresh != nil && fresh.Reused())
	}

	bad := &runner.Workload{ID: "bad", Recipe: runner.Recipe{Python: "3", Requirements: []string{"no-such-package-haven-test==0.0.1"}}}
	log.Reset()
	_, err = r.Build(ctx, bad, false, &log)
	var re *runner.Error
	if !errors.As(err, &re) || !strings.Contains(log.String(), "no-such-package-haven-test") {
		t.Errorf("bad requirement: %v\n%s", err, log.String())
	}
	if _, err := os.Stat(filepath.Join(r.dir, "envs", recipeKey(bad.Recipe))); !os.IsNotExist(err) {
		t.Errorf("a failed build left its folder: %v", err)
	}
}

func TestLimits(t *testing.T) {
	r := newRunner(t)
	tests := []struct {
		name     string
		limits   runner.Limits
		script   string
		rootOnly bool // RLIMIT_NPROC bounds a user of the workload's own
		want     string
	}{
		{"a memory hog fails", runner.Limits{MemoryMB: 64}, `python3 -c "b = bytearray(512 << 20)" && echo allocated`, false, "MemoryError"},
		{"a fork bomb fails", runner.Limits{Pids: 20}, `for i in $(seq 100); do sleep 5 & done; wait`, true, "fork"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rootOnly && os.Geteuid() != 0 {
				t.Skip("process limits apply to a workload's own user, which needs root")
			}
			w := &runner.Workload{ID: "limited", Kind: runner.KindJob, Limits: tc.limits, Command: []string{"sh", "-c", tc.script}}
			h, out := start(t, r, w)
			e := waitDone(t, h)
			if e.Code == 0 || !strings.Contains(out.String(), tc.want) {
				t.Errorf("exit %+v, output %q: want a failure mentioning %q", e, out, tc.want)
			}
		})
	}
}

func TestWorkloadsCannotReadEachOther(t *testing.T) {
	if landlockABI() < 1 {
		t.Skip("this kernel has no Landlock")
	}
	r := newRunner(t)
	files := t.TempDir()
	os.WriteFile(filepath.Join(files, "weights.txt"), []byte("mine"), 0o644)
	a := &runner.Workload{ID: "space-a", Kind: runner.KindSpace, Files: files, Command: []string{"sh", "-c", "echo secret > $HOME/notes; echo ready; sleep 60"}}
	start(t, r, a)
	var homes []string
	for deadline := time.Now().Add(10 * time.Second); len(homes) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		homes, _ = filepath.Glob(filepath.Join(r.dir, "work", "space-a.*", "home", "notes"))
	}
	if len(homes) == 0 {
		t.Fatal("workload a never wrote its notes")
	}
	app := filepath.Join(filepath.Dir(filepath.Dir(homes[0])), "app", "weights.txt")
	b := &runner.Workload{ID: "space-b", Kind: runner.KindSpace, Command: []string{"sh", "-c", fmt.Sprintf("cat %s; cat %s; echo done", homes[0], app)}}
	h, out := start(t, r, b)
	waitDone(t, h)
	if got := out.String(); strings.Contains(got, "secret") || strings.Contains(got, "mine") || !strings.Contains(got, "done") {
		t.Errorf("workload b read workload a's files: %q", got)
	}
}

func TestNewStartBesideTheOld(t *testing.T) {
	r := newRunner(t)
	w := &runner.Workload{ID: "space-rolling", Kind: runner.KindSpace, Command: []string{"sleep", "60"}}
	old, _ := start(t, r, w)
	next, _ := start(t, r, w)
	select {
	case <-old.Done():
		t.Fatalf("starting the new revision ended the old one: %+v", old.Exit())
	case <-time.After(500 * time.Millisecond):
	}
	if err := old.Stop(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-next.Done():
		t.Fatalf("stopping the old revision ended the new one: %+v", next.Exit())
	default:
	}
}

func TestCarve(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"opt/conda", "opt/haven/data", "opt/haven/etc", "srv"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	got := carve([]string{filepath.Join(root, "opt"), filepath.Join(root, "srv")}, filepath.Join(root, "opt/haven/data"))
	want := []string{filepath.Join(root, "opt/conda"), filepath.Join(root, "opt/haven/etc"), filepath.Join(root, "srv")}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("carve = %v, want %v", got, want)
	}
	if got := carve([]string{filepath.Join(root, "srv")}, filepath.Join(root, "srv")); len(got) != 0 {
		t.Errorf("a hidden folder stays readable: %v", got)
	}
}

func TestHiddenFolder(t *testing.T) {
	if landlockABI() < 1 {
		t.Skip("this kernel has no Landlock")
	}
	shared := t.TempDir()
	os.MkdirAll(filepath.Join(shared, "data"), 0o755)
	os.WriteFile(filepath.Join(shared, "data", "haven.db"), []byte("private"), 0o644)
	os.WriteFile(filepath.Join(shared, "tool.txt"), []byte("public"), 0o644)
	dir := t.TempDir()
	t.Cleanup(func() { releaseClaims(t, dir) })
	r, err := New(Config{Dir: dir, Read: []string{shared}, Hide: []string{filepath.Join(shared, "data")}})
	if err != nil {
		t.Fatal(err)
	}
	w := &runner.Workload{ID: "hidden", Kind: runner.KindJob, Command: []string{"sh", "-c",
		fmt.Sprintf("cat %s/tool.txt; cat %s/data/haven.db; echo end", shared, shared)}}
	h, out := start(t, r, w)
	waitDone(t, h)
	if got := out.String(); !strings.Contains(got, "public") || strings.Contains(got, "private") || !strings.Contains(got, "end") {
		t.Errorf("output %q: want the readable file and not the hidden one", got)
	}
}

func TestScanListeners(t *testing.T) {
	tcp := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1F92 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	tcp6 := `  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:1F93 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000000000000:1F94 00000000000000000000000000000000:0000 0A
   2: 0000000000000000FFFF00000100007F:1F95 00000000000000000000000000000000:0000 0A
`
	tests := []struct {
		table string
		port  int
		want  string
	}{
		{tcp, 8080, ""},             // 127.0.0.1
		{tcp, 8081, "0.0.0.0:8081"}, // every address
		{tcp, 8082, ""},             // a connection, not a listener
		{tcp6, 8083, ""},            // ::1
		{tcp6, 8084, "[::]:8084"},
		{tcp6, 8085, ""}, // ::ffff:127.0.0.1
	}
	for _, tt := range tests {
		if got := scanListeners(tt.table, tt.port); got != tt.want {
			t.Errorf("port %d: got %q, want %q", tt.port, got, tt.want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	r := newRunner(t)
	script := `import os, socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(os.environ["PORT"]))); s.listen(); print("listening", flush=True); time.sleep(30)`
	w := &runner.Workload{ID: "public", Kind: runner.KindSpace, Port: 8000, Env: map[string]string{"PORT": "${PORT}"}, Command: []string{"python3", "-c", script}}
	h, out := start(t, r, w)
	e := waitDone(t, h)
	if !strings.Contains(e.Reason, "127.0.0.1 only") || !strings.Contains(out.String(), "listening") {
		t.Errorf("exit %+v, output %q", e, out)
	}
}

func TestUserIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("workloads run as Haven's own user when Haven is not root")
	}
	dir := t.TempDir()
	t.Cleanup(func() { releaseClaims(t, dir) })
	r1, _ := New(Config{Dir: filepath.Join(dir, "one")})
	r2, _ := New(Config{Dir: filepath.Join(dir, "two")})
	seen := map[int]string{}
	for _, r := range []*Runner{r1, r2} {
		for i := range 50 {
			id := fmt.Sprintf("space-%d", i)
			uid, _, dropped, err := r.identity(id)
			if err != nil || !dropped || uid == 0 {
				t.Fatalf("identity(%s) = %d, %v, %v", id, uid, dropped, err)
			}
			key := r.dir + " " + id
			if other, ok := seen[uid]; ok {
				t.Fatalf("%s and %s share user id %d", other, key, uid)
			}
			seen[uid] = key
		}
	}
	// The same workload keeps its id, also in a runner started again.
	again, _ := New(Config{Dir: r1.dir})
	want, _, _, _ := r1.identity("space-7")
	if got, _, _, _ := again.identity("space-7"); got != want {
		t.Errorf("space-7 had %d, now %d", want, got)
	}
}

func TestClaimUID(t *testing.T) {
	dir := t.TempDir()
	t.Cleanup(func() { releaseClaims(t, dir) })
	uid := uidFirst + uidSlots*uidRange + 4242 // beyond every range: no runner uses it
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	if !claimUID(uid, one) {
		t.Fatal("a folder cannot claim a free id")
	}
	if !claimUID(uid, one) {
		t.Fatal("a folder cannot claim its own id again")
	}
	if claimUID(uid, two) {
		t.Error("two folders claimed one id")
	}
}

// releaseClaims removes the machine-wide id claims of runner folders under dir.
func releaseClaims(t *testing.T, dir string) {
	entries, _ := os.ReadDir(uidClaims())
	for _, e := range entries {
		p := filepath.Join(uidClaims(), e.Name())
		if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), dir) {
			os.Remove(p)
		}
	}
}

// TestMounts: a workload reads a read-only mount and writes a writable one
// through their targets, and cannot write the read-only one. Where Haven
// is root the mounts are real, so paths inside scripts work too.
func TestMounts(t *testing.T) {
	r := newRunner(t)
	in, out, at := t.TempDir(), t.TempDir(), t.TempDir()
	tin, tout := filepath.Join(at, "in"), filepath.Join(at, "out")
	os.WriteFile(filepath.Join(in, "hello.txt"), []byte("mounted"), 0o644)
	mounts := []runner.Mount{{Source: in, Target: tin, ReadOnly: true}, {Source: out, Target: tout}}
	tests := []struct {
		name     string
		argv     []string
		code     int
		rootOnly bool
	}{
		{"reads a read-only mount", []string{"cat", tin + "/hello.txt"}, 0, false},
		{"writes a writable mount", []string{"cp", tin + "/hello.txt", tout + "/copy.txt"}, 0, false},
		{"cannot write a read-only mount", []string{"touch", tin + "/new.txt"}, 1, false},
		{"sees the target in its variables", []string{"sh", "-c", `cat "$INPUT"`}, 0, false},
		{"sees the target inside scripts", []string{"sh", "-c", "cat " + tin + "/hello.txt"}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rootOnly && os.Geteuid() != 0 {
				t.Skip("real mounts need Haven to run as root")
			}
			w := &runner.Workload{ID: "mounts-" + strings.ReplaceAll(tc.name, " ", "-"), Kind: runner.KindJob, Files: t.TempDir(),
				Command: tc.argv, Mounts: mounts, Env: map[string]string{"INPUT": tin + "/hello.txt"}}
			h, buf := start(t, r, w)
			if e := waitDone(t, h); e.Code != tc.code {
				t.Fatalf("exit = %+v, want %d; output %q", e, tc.code, buf)
			}
			if tc.code == 0 && tc.argv[0] != "cp" && !strings.Contains(buf.String(), "mounted") {
				t.Errorf("output %q", buf)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(out, "copy.txt")); err != nil || string(b) != "mounted" {
		t.Errorf("copy = %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(in, "new.txt")); err == nil {
		t.Error("wrote into a read-only mount")
	}
}
