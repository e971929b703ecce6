package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven/runner"
)

func TestPythonDockerfile(t *testing.T) {
	tests := []struct {
		name    string
		recipe  runner.Recipe
		want    []string // lines that must be there, in this order
		without []string // text that must not be there
		err     string
	}{
		{name: "defaults", recipe: runner.Recipe{Requirements: []string{"gradio==5.9.1"}},
			want: []string{"FROM docker.io/library/python:3.10-slim", "RUN useradd -m -u 1000 user",
				"RUN pip install -r /tmp/haven/requirements.txt", "USER user", "WORKDIR /home/user/app",
				"COPY --chown=1000:1000 app/ /home/user/app/"},
			without: []string{"apt-get", "pre-requirements.txt\n", "gradio=="}},
		{name: "pre-requirements first", recipe: runner.Recipe{Python: "3.12.4", PreRequirements: []string{"torch"}, Requirements: []string{"x"}},
			want: []string{"FROM docker.io/library/python:3.12.4-slim", "RUN pip install -r /tmp/haven/pre-requirements.txt",
				"RUN pip install -r /tmp/haven/requirements.txt", "USER user"}},
		{name: "packages", recipe: runner.Recipe{Python: "3.11", Packages: []string{"ffmpeg", "libgl1", "g++"}},
			want:    []string{"RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg libgl1 g++ && rm -rf /var/lib/apt/lists/*", "RUN useradd"},
			without: []string{"pip install"}},
		{name: "git requirements bring git", recipe: runner.Recipe{Requirements: []string{"git+https://example.com/a.git"}},
			want: []string{"--no-install-recommends git &&"}},
		{name: "bad version", recipe: runner.Recipe{Python: "3.10\nRUN rm -rf /"}, err: "Invalid Python version"},
		{name: "bad package", recipe: runner.Recipe{Packages: []string{"vim; curl evil"}}, err: "Invalid Debian package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := pythonDockerfile(tt.recipe)
			if tt.err != "" {
				var re *runner.Error
				if !errors.As(err, &re) || !strings.Contains(re.Message, tt.err) {
					t.Fatalf("err = %v, want a runner.Error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(df[at:], w)
				if i < 0 {
					t.Fatalf("%q missing or out of order in\n%s", w, df)
				}
				at += i + len(w)
			}
			for _, w := range tt.without {
				if strings.Contains(df, w) {
					t.Errorf("%q in\n%s", w, df)
				}
			}
		})
	}
}

func TestRunArgs(t *testing.T) {
	base := func() *runner.Workload {
		return &runner.Workload{ID: "space-7", Port: 7860,
			Command: []string{"python", "app.py", "--port", "${PORT}"},
			Env:     map[string]string{"B": "2", "A": "http://x:${PORT}/"},
			Secrets: map[string]string{"HF_TOKEN": "hf_verysecret"}}
	}
	tests := []struct {
		name   string
		podman bool
		edit   func(w *runner.Workload)
		want   [][]string // flag groups that must appear
		not    []string   // arguments that must not appear
		tail   []string   // image and command
	}{
		{name: "plain", podman: true,
			want: [][]string{{"run", "-d", "--name", "haven-space-7"}, {"-p", "127.0.0.1::7860"},
				{"-e", "A=http://x:7860/"}, {"-e", "B=2"}, {"--env-file", "/tmp/env-1"}},
			not:  []string{"--memory", "--cpus", "--pids-limit", "--gpus", "--device", "-v"},
			tail: []string{"haven-abc", "python", "app.py", "--port", "7860"}},
		{name: "limits", podman: true, edit: func(w *runner.Workload) {
			w.Limits = runner.Limits{CPUs: 2, MemoryMB: 512, Pids: 4096}
		}, want: [][]string{{"--memory", "512m", "--memory-swap", "512m"}, {"--cpus", "2"}, {"--pids-limit", "4096"}}},
		{name: "half a core", edit: func(w *runner.Workload) { w.Limits.CPUs = 0.5 }, want: [][]string{{"--cpus", "0.5"}}},
		{name: "gpus on podman", podman: true, edit: func(w *runner.Workload) { w.Limits.GPUs = []string{"0", "2"} },
			want: [][]string{{"--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=2"}}, not: []string{"--gpus"}},
		{name: "gpus on docker", edit: func(w *runner.Workload) { w.Limits.GPUs = []string{"0", "2"} },
			want: [][]string{{"--gpus", `"device=0,2"`}}, not: []string{"--device"}},
		{name: "data", edit: func(w *runner.Workload) { w.Data = "/srv/haven/space-7/data" },
			want: [][]string{{"-v", "/srv/haven/space-7/data:/data"}, {"-e", "HAVEN_DATA_DIR=/data"}}},
		{name: "image's command", edit: func(w *runner.Workload) { w.Command = nil; w.Port = 0 },
			not: []string{"-p"}, tail: []string{"--env-file", "/tmp/env-1", "haven-abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := base()
			if tt.edit != nil {
				tt.edit(w)
			}
			args := runArgs(tt.podman, w, "haven-abc", "haven-space-7", "/tmp/env-1")
			line := strings.Join(args, "\x00")
			if strings.Contains(line, "hf_verysecret") || strings.Contains(line, "HF_TOKEN") {
				t.Fatalf("a secret is on the command line: %q", args)
			}
			for _, g := range tt.want {
				if !strings.Contains("\x00"+line+"\x00", "\x00"+strings.Join(g, "\x00")+"\x00") {
					t.Errorf("%q not in %q", g, args)
				}
			}
			for _, n := range tt.not {
				if slices.Contains(args, n) {
					t.Errorf("%q in %q", n, args)
				}
			}
			if tt.tail != nil && !slices.Equal(args[len(args)-len(tt.tail):], tt.tail) {
				t.Errorf("ends with %q, want %q", args[len(args)-len(tt.tail):], tt.tail)
			}
		})
	}
}

func TestEnvFile(t *testing.T) {
	r := &Runner{dir: t.TempDir()}
	p, err := r.writeEnvFile(&runner.Workload{Port: 8080, Secrets: map[string]string{"B": "b=1 #not a comment", "A": "x:${PORT}"}})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(p)
	if string(b) != "A=x:8080\nB=b=1 #not a comment\n" {
		t.Errorf("env file %q", b)
	}
	if p, err := r.writeEnvFile(&runner.Workload{}); p != "" || err != nil {
		t.Errorf("no secrets: %q, %v", p, err)
	}
	var re *runner.Error
	if _, err := r.writeEnvFile(&runner.Workload{Secrets: map[string]string{"KEY": "line1\nline2"}}); !errors.As(err, &re) {
		t.Errorf("a secret on two lines: %v, want a runner.Error", err)
	}
}

func TestParseStats(t *testing.T) {
	podman := `[{"id":"0f3b","name":"t2","cpu_time":"35ms","cpu_percent":"3.11%","avg_cpu":"3.11%","mem_usage":"1.303MB / 67.11MB","mem_percent":"1.94%","net_io":"922B / 1.375kB","block_io":"0B / 0B","pids":"1"}]`
	docker := `{"BlockIO":"0B / 0B","CPUPerc":"150.00%","Container":"ab","ID":"ab","MemPerc":"0.2%","MemUsage":"1.5MiB / 512MiB","Name":"x","NetIO":"1kB / 0B","PIDs":"12"}` + "\n"
	tests := []struct {
		in   string
		want runner.Metrics
	}{
		{podman, runner.Metrics{CPUMillicores: 31, MemoryBytes: 1303000, MemoryMaxBytes: 67110000, Pids: 1}},
		{docker, runner.Metrics{CPUMillicores: 1500, MemoryBytes: 3 << 19, MemoryMaxBytes: 512 << 20, Pids: 12}},
	}
	for _, tt := range tests {
		got, err := parseStats(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("parseStats(%.40q…) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if _, err := parseStats("[]"); err == nil {
		t.Error("no rows: no error")
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:42485\n":               "127.0.0.1:42485",
		"0.0.0.0:5000\n[::]:5000\n":       "127.0.0.1:5000",
		"127.0.0.1:1\n127.0.0.1:2\n":      "127.0.0.1:1",
		"":                                "",
		"Error: no port 80 published\n":   "",
		"127.0.0.1:42485 extra\nmore\n\n": "",
	} {
		got, err := parsePort(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("parsePort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestMemString(t *testing.T) {
	for mb, want := range map[int64]string{512: "512Mi", 1024: "1Gi", 16384: "16Gi", 1536: "1536Mi"} {
		if got := memString(mb); got != want {
			t.Errorf("memString(%d) = %q, want %q", mb, got, want)
		}
	}
}

func treeKey(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	if err := hashTree(h, dir); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestHashTree(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "a"), []byte("a"), 0o644)
	k0 := treeKey(t, dir)
	if treeKey(t, dir) != k0 {
		t.Fatal("the key of an unchanged tree changed")
	}
	// Times do not count, contents, names and the executable bit do.
	os.Chtimes(filepath.Join(dir, "sub", "a"), time.Now(), time.Now().Add(-time.Hour))
	if treeKey(t, dir) != k0 {
		t.Error("a new modification time changed the key")
	}
	keys := map[string]bool{k0: true}
	for _, change := range []func(){
		func() { os.WriteFile(filepath.Join(dir, "sub", "a"), []byte("b"), 0o644) },
		func() { os.Chmod(filepath.Join(dir, "sub", "a"), 0o755) },
		func() { os.Rename(filepath.Join(dir, "sub", "a"), filepath.Join(dir, "sub", "c")) },
		func() { os.MkdirAll(filepath.Join(dir, "empty"), 0o755) },
	} {
		change()
		k := treeKey(t, dir)
		if keys[k] {
			t.Fatalf("a change kept a key seen before")
		}
		keys[k] = true
	}
}

func TestNewWithoutEngine(t *testing.T) {
	_, err := New(Config{Engine: filepath.Join(t.TempDir(), "no-such-engine"), Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no container engine answers") || !strings.Contains(err.Error(), "no-such-engine") {
		t.Fatalf("err = %v", err)
	}
	// An engine that exists but whose daemon does not answer.
	fake := filepath.Join(t.TempDir(), "docker")
	os.WriteFile(fake, []byte("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'Docker version 28.2.2'; exit 0; }\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n"), 0o755)
	_, err = New(Config{Engine: fake, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "docker info: Cannot connect to the Docker daemon") {
		t.Fatalf("err = %v", err)
	}
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

// staticBusybox finds a busybox that needs no shared library, so it runs
// alone in an image built FROM scratch: no registry is needed.
func staticBusybox() string {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p
		}
	}
	return ""
}

// engineTest is a runner whose engine runs containers, and a workload
// whose files build a busybox image; the test is skipped when there is no
// such engine.
// testRun names this run of the package's tests.
var testRun = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())

func engineTest(t *testing.T) (*Runner, *runner.Workload) {
	t.Helper()
	r, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Skipf("no container engine: %v", err)
	}
	bb := staticBusybox()
	if bb == "" {
		t.Skip("no static busybox to build a test image from (Debian: busybox-static)")
	}
	files := t.TempDir()
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(files, "busybox"), b, 0o755)
	os.MkdirAll(filepath.Join(files, "www"), 0o755)
	os.WriteFile(filepath.Join(files, "www", "index.html"), []byte("hello from the container\n"), 0o644)
	// The label keeps the layers of this run's images its own: other tests
	// build from the same busybox at the same time (e2e), and an image of
	// theirs removed while a build here takes a layer from the build cache
	// they share would pull that layer from under the build.
	os.WriteFile(filepath.Join(files, "Dockerfile"), []byte(`FROM scratch
LABEL haven.test.run=`+testRun+`
COPY busybox /bin/busybox
COPY www /www
ENTRYPOINT ["/bin/busybox"]
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
`), 0o644)
	w := &runner.Workload{ID: "test-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), Kind: runner.KindJob,
		Files: files, Recipe: runner.Recipe{Dockerfile: "Dockerfile"}}
	return r, w
}

// build builds w's image, and skips the test when the engine builds but
// cannot run containers here (a probe with the engine alone, not this
// package, so a bug in Start is not taken for that).
func build(t *testing.T, r *Runner, w *runner.Workload) runner.Build {
	t.Helper()
	ctx := context.Background()
	var log syncBuffer
	b, err := r.Build(ctx, w, false, &log)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { exec.Command(r.engine, "rmi", b.(*image).ref).Run() })
	out, err := exec.Command(r.engine, "run", "--rm", b.(*image).ref, "true").CombinedOutput()
	if err != nil {
		t.Skipf("%s builds images but cannot run containers here: %s", r.engine, lastLine(string(out)))
	}
	return b
}

func TestEngineServe(t *testing.T) {
	r, w := engineTest(t)
	ctx := context.Background()
	var log syncBuffer
	b0, err := r.Build(ctx, w, true, &log)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "COPY www /www") {
		t.Errorf("the build log lacks the engine's output:\n%s", log.String())
	}
	b := build(t, r, w)
	if !b.Reused() || b.Key() != b0.Key() {
		t.Errorf("an unchanged build: reused %v, key %s then %s", b.Reused(), b0.Key(), b.Key())
	}

	w.Port = 8080
	w.Command = []string{"sh", "-c", "echo greeting=$GREETING token=$TOKEN; echo $$ > /www/pid; exec httpd -f -p ${PORT} -h /www"}
	w.Env = map[string]string{"GREETING": "hi"}
	w.Secrets = map[string]string{"TOKEN": "s3cret-value"}
	w.Data = filepath.Join(t.TempDir(), "data")
	w.Limits = runner.Limits{MemoryMB: 64, CPUs: 0.5, Pids: 32}
	var out syncBuffer
	h, err := r.Start(ctx, w, b, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background(), time.Second)
	if !strings.HasPrefix(h.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr %q", h.Addr())
	}
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + h.Addr() + "/index.html")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
	}
	if string(body) != "hello from the container\n" {
		t.Fatalf("GET / = %q; output:\n%s", body, out.String())
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "greeting=hi token=s3cret-value") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "greeting=hi token=s3cret-value") {
		t.Errorf("env and secrets did not reach the app: %q", out.String())
	}

	// The engine keeps the command line it was given: the secret is not on
	// it, and its env file is gone.
	rec, err := r.output(ctx, "container", "inspect", "--format", "{{json .Path}} {{json .Args}} {{json .Config.Cmd}}", h.(*handle).name)
	if err != nil {
		t.Fatal(err)
	}
	if r.podman {
		cc, err := r.output(ctx, "container", "inspect", "--format", "{{json .Config.CreateCommand}}", h.(*handle).name)
		if err != nil {
			t.Fatal(err)
		}
		rec += cc
	}
	if strings.Contains(rec, "s3cret-value") {
		t.Errorf("the secret is in the container's record: %s", rec)
	}
	if ents, _ := os.ReadDir(r.dir); len(ents) != 0 {
		t.Errorf("left in the runner's folder: %v", ents)
	}

	var stdout bytes.Buffer
	code, err := h.Exec(ctx, []string{"/bin/busybox", "cat", "/www/index.html"}, nil, &stdout, io.Discard)
	if err != nil || code != 0 || stdout.String() != "hello from the container\n" {
		t.Errorf("exec cat = %d, %v, %q", code, err, stdout.String())
	}
	code, err = h.Exec(ctx, []string{"/bin/busybox", "sh", "-c", "exit 3"}, nil, io.Discard, io.Discard)
	if err != nil || code != 3 {
		t.Errorf("exec exit 3 = %d, %v", code, err)
	}
	code, err = h.Exec(ctx, []string{"/bin/busybox", "sh", "-c", "cat > /data/note"}, strings.NewReader("kept"), io.Discard, io.Discard)
	if b, _ := os.ReadFile(filepath.Join(w.Data, "note")); err != nil || code != 0 || string(b) != "kept" {
		t.Errorf("writing /data: %d, %v, %q on the host", code, err, b)
	}

	m, err := h.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Pids < 1 || m.MemoryBytes <= 0 || m.MemoryMaxBytes != 64<<20 {
		t.Errorf("metrics %+v", m)
	}

	start := time.Now()
	if err := h.Stop(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
	default:
		t.Fatal("Stop returned before Done")
	}
	e := h.Exit()
	if !e.Stopped || e.Reason != "Stopped" {
		t.Errorf("exit after Stop: %+v", e)
	}
	// httpd as the container's first process ignores SIGTERM: the engine
	// kills it after the grace period.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Stop took %s", d)
	}
	if _, err := r.output(ctx, "container", "inspect", h.(*handle).name); err == nil {
		t.Error("the container is still there after it ended")
	}
}

func TestEngineExits(t *testing.T) {
	r, w := engineTest(t)
	b := build(t, r, w)
	ctx := context.Background()
	tests := []struct {
		name    string
		command []string
		limits  runner.Limits
		check   func(e runner.Exit) bool
	}{
		{name: "code", command: []string{"sh", "-c", "echo bye; exit 3"},
			check: func(e runner.Exit) bool { return e.Code == 3 && e.Reason == "Exit code: 3" && !e.Stopped }},
		{name: "zero", command: []string{"true"},
			check: func(e runner.Exit) bool { return e.Code == 0 && e.Reason == "Exit code: 0" }},
		// Engines report a death by signal as 128 + its number.
		{name: "signal", command: []string{"sh", "-c", "exit 137"},
			check: func(e runner.Exit) bool { return e.Code == -1 && e.Signal == "killed" }},
		{name: "wall clock", command: []string{"sh", "-c", "trap 'exit 0' TERM; sleep 60 & wait"}, limits: runner.Limits{WallClock: time.Second},
			check: func(e runner.Exit) bool { return e.TimedOut && strings.HasPrefix(e.Reason, "Timed out after 1s") }},
		{name: "memory", command: []string{"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"}, limits: runner.Limits{MemoryMB: 16},
			check: func(e runner.Exit) bool {
				// Where the engine does not report OOMKilled (podman on
				// cgroup v1), the kill is put down to the limit.
				return e.OOM && e.Reason == "Memory limit exceeded (16Mi)" ||
					!e.OOM && e.Signal == "killed" && e.Reason == "Killed (memory limit 16Mi or the machine's memory)"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := *w
			w.ID = w.ID + "-" + strings.ReplaceAll(tt.name, " ", "-")
			w.Command, w.Limits = tt.command, tt.limits
			var out syncBuffer
			h, err := r.Start(ctx, &w, b, &out)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-h.Done():
			case <-time.After(60 * time.Second):
				h.Stop(ctx, time.Second)
				t.Fatal("the container did not end")
			}
			e := h.Exit()
			if !tt.check(e) {
				t.Errorf("exit %+v; output %q", e, out.String())
			}
			t.Logf("exit %+v", e)
			if tt.name == "code" && !strings.Contains(out.String(), "bye") {
				t.Errorf("output %q", out.String())
			}
		})
	}
}

func TestEngineBuilds(t *testing.T) {
	r, w := engineTest(t)
	ctx := context.Background()
	b := build(t, r, w)

	// The image of a recipe naming one that is there is used as it is.
	img := *w
	img.Recipe = runner.Recipe{Image: b.(*image).ref}
	var log syncBuffer
	bi, err := r.Build(ctx, &img, false, &log)
	if err != nil || !bi.Reused() {
		t.Errorf("image recipe: %v, %v", bi, err)
	}

	// A changed file is a new key; the image's own command serves.
	os.WriteFile(filepath.Join(w.Files, "www", "index.html"), []byte("changed\n"), 0o644)
	b2, err := r.Build(ctx, w, false, &log)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Reused() || b2.Key() == b.Key() {
		t.Errorf("a changed file: reused %v, key %s then %s", b2.Reused(), b.Key(), b2.Key())
	}
	defer exec.Command(r.engine, "rmi", b2.(*image).ref).Run()
	if r.imageExists(ctx, b.(*image).ref) {
		t.Errorf("the image of the files before is still there")
	}
	w.Port = 8080
	h, err := r.Start(ctx, w, b2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx, time.Second)
	var body []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + h.Addr() + "/index.html"); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
	}
	if string(body) != "changed\n" {
		t.Errorf("GET / = %q", body)
	}

	// Failures are the owner's to read: a runner.Error, the engine's words
	// in the log.
	var re *runner.Error
	bad := *w
	bad.Recipe.Dockerfile = "missing/Dockerfile"
	if _, err := r.Build(ctx, &bad, false, io.Discard); !errors.As(err, &re) {
		t.Errorf("a missing Dockerfile: %v", err)
	}
	bad.Recipe.Dockerfile = "../Dockerfile"
	if _, err := r.Build(ctx, &bad, false, io.Discard); !errors.As(err, &re) || !strings.Contains(re.Message, "outside") {
		t.Errorf("a Dockerfile outside: %v", err)
	}
	os.WriteFile(filepath.Join(w.Files, "Broken.dockerfile"), []byte("FROM scratch\nCOPY not-there /x\n"), 0o644)
	bad.Recipe.Dockerfile = "Broken.dockerfile"
	log = syncBuffer{}
	if _, err := r.Build(ctx, &bad, false, &log); !errors.As(err, &re) || !strings.Contains(log.String(), "not-there") {
		t.Errorf("a failing build: %v\n%s", err, log.String())
	}
}

// TestEnginePython builds a Python recipe's generated Dockerfile on a
// stand-in for the python image (busybox, with useradd and pip that only
// record what they are asked): the real one needs a registry.
func TestEnginePython(t *testing.T) {
	r, w := engineTest(t)
	build(t, r, w)
	ctx := context.Background()
	const version = "0.0.1" // no real python image has it
	base := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(w.Files, "busybox"))
	for _, d := range []string{"bin", "etc", "tmp", "usr/sbin", "usr/local/bin"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "bin", "busybox"), b, 0o755)
	for _, c := range []string{"sh", "id", "pwd", "cat", "ls", "mkdir", "chown", "echo"} {
		os.Symlink("busybox", filepath.Join(base, "bin", c))
	}
	os.WriteFile(filepath.Join(base, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(base, "etc", "group"), []byte("root:x:0:\n"), 0o644)
	os.WriteFile(filepath.Join(base, "usr", "sbin", "useradd"), []byte("#!/bin/sh\n"+
		"[ \"$*\" = '-m -u 1000 user' ] || exit 1\n"+
		"echo 'user:x:1000:1000::/home/user:/bin/sh' >> /etc/passwd\necho 'user:x:1000:' >> /etc/group\n"+
		"mkdir -p /home/user && chown 1000:1000 /home/user\n"), 0o755)
	os.WriteFile(filepath.Join(base, "usr", "local", "bin", "pip"), []byte("#!/bin/sh\necho \"pip $*\"\ncat \"$3\" >> /installed.txt\n"), 0o755)
	os.WriteFile(filepath.Join(base, "Dockerfile"), []byte("FROM scratch\nCOPY . /\nENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"), 0o644)
	ref := "docker.io/library/python:" + version + "-slim"
	if err := r.stream(ctx, io.Discard, "build", "-t", ref, base); err != nil {
		t.Fatal(err)
	}
	defer exec.Command(r.engine, "rmi", ref).Run()

	files := t.TempDir()
	os.WriteFile(filepath.Join(files, "app.py"), []byte("print('hi')\n"), 0o644)
	pw := &runner.Workload{ID: "test-python", Kind: runner.KindSpace, Files: files,
		Recipe:  runner.Recipe{Python: version, PreRequirements: []string{"numpy<2"}, Requirements: []string{"gradio==5.9.1", "spaces"}},
		Command: []string{"sh", "-c", "id -u; pwd; ls; cat /installed.txt"}}
	var log syncBuffer
	pb, err := r.Build(ctx, pw, false, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	defer exec.Command(r.engine, "rmi", pb.(*image).ref).Run()
	if !strings.Contains(log.String(), "pip install -r /tmp/haven/requirements.txt") {
		t.Errorf("build log:\n%s", log.String())
	}
	if again, err := r.Build(ctx, pw, false, io.Discard); err != nil || !again.Reused() || again.Key() != pb.Key() {
		t.Errorf("an unchanged recipe was built again: %v", err)
	}
	var out syncBuffer
	h, err := r.Start(ctx, pw, pb, &out)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
	case <-time.After(30 * time.Second):
		h.Stop(ctx, time.Second)
		t.Fatal("the container did not end")
	}
	want := "1000\n/home/user/app\napp.py\nnumpy<2\ngradio==5.9.1\nspaces\n"
	if e := h.Exit(); e.Code != 0 || out.String() != want {
		t.Errorf("exit %+v, output %q, want %q", e, out.String(), want)
	}
}

// TestEngineOverlap starts a workload's next instance while the first
// serves, as a rebuild does, and removes what an earlier Haven left.
func TestEngineOverlap(t *testing.T) {
	r, w := engineTest(t)
	b := build(t, r, w)
	ctx := context.Background()
	left := "haven-" + safeName(w.ID) + "-left"
	if out, err := exec.Command(r.engine, "run", "-d", "--name", left, "--label", "haven.workload="+w.ID, b.(*image).ref).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer exec.Command(r.engine, "rm", "-f", left).Run()
	w.Port = 8080
	get := func(h runner.Handle) string {
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if resp, err := http.Get("http://" + h.Addr() + "/index.html"); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return string(body)
			}
		}
		return ""
	}
	h1, err := r.Start(ctx, w, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Stop(ctx, time.Second)
	if _, err := r.output(ctx, "container", "inspect", left); err == nil {
		t.Error("the container left from before is still there")
	}
	h2, err := r.Start(ctx, w, b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Stop(ctx, time.Second)
	if h1.Addr() == h2.Addr() || get(h1) == "" || get(h2) == "" {
		t.Errorf("two instances: %s and %s", h1.Addr(), h2.Addr())
	}
	select {
	case <-h1.Done():
		t.Errorf("the first instance ended: %+v", h1.Exit())
	default:
	}
}

func TestBuildArgs(t *testing.T) {
	df := []byte("FROM python:3.12\narg  A\nARG B=default C\nRUN echo ARG D\n# ARG E\nARGS F\n")
	w := &runner.Workload{Port: 7860, Env: map[string]string{"A": "1", "B": "${PORT}", "C": "3", "D": "4", "E": "5", "F": "6"},
		Secrets: map[string]string{"C": "not a build arg"}}
	got := buildArgs(w, declaredArgs(df))
	want := []string{"--build-arg", "A=1", "--build-arg", "B=7860", "--build-arg", "C=3"}
	if !slices.Equal(got, want) {
		t.Errorf("buildArgs = %q, want %q", got, want)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	flags, err := secretFiles(dir, map[string]string{"B": "two\nlines", "A": "x"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--secret", "id=A,src=" + filepath.Join(dir, "0"), "--secret", "id=B,src=" + filepath.Join(dir, "1")}
	if !slices.Equal(flags, want) {
		t.Fatalf("flags %q, want %q", flags, want)
	}
	fi, _ := os.Stat(filepath.Join(dir, "1"))
	b, _ := os.ReadFile(filepath.Join(dir, "1"))
	if fi.Mode().Perm() != 0o600 || string(b) != "two\nlines" {
		t.Errorf("secret file %v %q", fi.Mode().Perm(), b)
	}
}
