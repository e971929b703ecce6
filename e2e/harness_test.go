package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths filled in by TestMain.
var (
	repoRoot  string // the module root
	havenBin  string // the binary built for this test run
	buildErr  error  // why the binary could not be built, if it could not
	buildLog  []byte
	requireOK = os.Getenv("HAVEN_TEST_REQUIRE_SERVICES") == "1"
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "haven-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	havenBin = filepath.Join(dir, "haven")
	cmd := exec.Command("go", "build", "-o", havenBin, "./cmd/haven")
	cmd.Dir = repoRoot
	buildLog, buildErr = cmd.CombinedOutput()
	return m.Run()
}

// needBinary fails the test when the server binary could not be built.
func needBinary(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("go build ./cmd/haven: %v\n%s", buildErr, buildLog)
	}
}

// skipOrFail skips the test with msg, or fails it when the test
// dependencies are required (HAVEN_TEST_REQUIRE_SERVICES=1).
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if requireOK {
		t.Fatalf("%s (HAVEN_TEST_REQUIRE_SERVICES=1; run scripts/setup-test-deps.sh)", msg)
	}
	t.Skipf("%s; run scripts/setup-test-deps.sh", msg)
}

// serverOpts chooses the storage backends of a test server.
type serverOpts struct {
	// Postgres and S3 use the services named by HAVEN_TEST_POSTGRES_DSN and
	// HAVEN_TEST_S3_URL: each server gets its own fresh database and its own
	// bucket prefix, so servers never see each other's data.
	Postgres bool
	S3       bool
	// DataDir reuses a data folder (to restart a server on the same state);
	// empty means a new temporary folder.
	DataDir string
	// Port reuses a port; 0 picks a free one.
	Port int
	// Args are more flags for haven serve; Env more environment variables.
	Args []string
	Env  []string
}

// server is a running haven serve process.
type server struct {
	t       *testing.T
	URL     string // public base URL, no trailing slash
	Port    int
	DataDir string
	extra   []string // --database / --blob-store flags shared with the admin commands
	opts    serverOpts

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort asks the kernel for a port that is free right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts haven serve and waits until /api/health answers 200.
// The server is stopped when the test ends; its log is printed if the test failed.
func startServer(t *testing.T, opts serverOpts) *server {
	t.Helper()
	needBinary(t)
	s := &server{t: t, DataDir: opts.DataDir, Port: opts.Port, opts: opts}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	if s.Port == 0 {
		s.Port = freePort(t)
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", s.Port)
	if opts.Postgres {
		s.extra = append(s.extra, "--database", freshDatabase(t))
	}
	if opts.S3 {
		s.extra = append(s.extra, "--blob-store", freshS3Store(t))
	}
	s.start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server log (%s):\n%s", s.URL, tail(s.log.String(), 64<<10))
		}
	})
	return s
}

func (s *server) start() {
	t := s.t
	t.Helper()
	args := []string{"serve",
		"--addr", fmt.Sprintf("127.0.0.1:%d", s.Port),
		"--data", s.DataDir,
		"--public-url", s.URL,
	}
	args = append(args, s.extra...)
	args = append(args, s.opts.Args...)
	cmd := exec.Command(havenBin, args...)
	cmd.Env = append(os.Environ(), s.opts.Env...)
	s.mu.Lock()
	lb := s.log
	s.mu.Unlock()
	if lb == nil {
		lb = &lockedBuffer{}
	} else {
		fmt.Fprintf(lb, "--- server restarted ---\n")
	}
	cmd.Stdout, cmd.Stderr = lb, lb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haven serve: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.log, s.done = cmd, lb, done
	s.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			t.Fatalf("haven serve exited before it was ready: %v\n%s", cmd.ProcessState, lb.String())
		default:
		}
		resp, err := client.Get(s.URL + "/api/health")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.Kill()
			t.Fatalf("haven serve not healthy after 60s (last error %v)\n%s", err, lb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits up to 10 s, then kills the process.
func (s *server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("haven serve did not exit within 10s of SIGTERM; killing it")
		cmd.Process.Kill()
		<-done
	}
}

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// databaseURL is the --database value the server runs with, or "".
func (s *server) databaseURL() string {
	for i, a := range s.extra {
		if a == "--database" && i+1 < len(s.extra) {
			return s.extra[i+1]
		}
	}
	return ""
}

// admin runs an admin subcommand of haven on the server's data folder and
// returns its standard output.
func (s *server) admin(args ...string) string {
	s.t.Helper()
	args = append(args, "--data", s.DataDir)
	args = append(args, s.extra...)
	cmd := exec.Command(havenBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("haven %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// createUser creates a user through the CLI.
func (s *server) createUser(name, fullname string) {
	s.t.Helper()
	args := []string{"user", "create", name, "--password", "pw-" + name + "-e2e-secret"}
	if fullname != "" {
		args = append(args, "--fullname", fullname)
	}
	s.admin(args...)
}

// createToken creates an access token through the CLI and returns it.
func (s *server) createToken(user, role string) string {
	s.t.Helper()
	out := strings.TrimSpace(s.admin("token", "create", user, "--role", role))
	lines := strings.Split(out, "\n")
	tok := strings.TrimSpace(lines[len(lines)-1])
	if !strings.HasPrefix(tok, "hf_") {
		s.t.Fatalf("haven token create %s: last line %q is not an hf_ token", user, tok)
	}
	return tok
}

// createOrg creates an organisation owned by owner through the CLI.
func (s *server) createOrg(name, owner string) {
	s.t.Helper()
	s.admin("org", "create", name, "--owner", owner)
}

// fixture is the set of accounts every client suite uses.
type fixture struct {
	Alice, AliceRead, Bob string // tokens
	Org                   string
}

// setupAccounts creates alice (with a write and a read token), bob (write
// token) and the organisation acme owned by alice.
func (s *server) setupAccounts() fixture {
	s.t.Helper()
	s.createUser("alice", "Alice Liddell")
	s.createUser("bob", "Bob Builder")
	s.createOrg("acme", "alice")
	return fixture{
		Alice:     s.createToken("alice", "write"),
		AliceRead: s.createToken("alice", "read"),
		Bob:       s.createToken("bob", "write"),
		Org:       "acme",
	}
}

// clientEnv is the environment for the Python and JavaScript suites.
func (s *server) clientEnv(t *testing.T, f fixture) []string {
	home := t.TempDir()
	env := filterEnv(os.Environ(), "HF_", "HUGGING_FACE_", "HUGGINGFACE_")
	return append(env,
		"HF_ENDPOINT="+s.URL,
		"HAVEN_TOKEN="+f.Alice,
		"HAVEN_TOKEN_READ="+f.AliceRead,
		"HAVEN_OTHER_TOKEN="+f.Bob,
		"HAVEN_ORG="+f.Org,
		"HAVEN_USER=alice",
		"HAVEN_OTHER_USER=bob",
		// The admin command and its flags, for suites that create users,
		// memberships and tokens of their own.
		"HAVEN_BIN="+havenBin,
		"HAVEN_ADMIN_FLAGS="+adminFlagsJSON(s),
		"HF_HUB_DISABLE_XET=1",
		"HF_HUB_DISABLE_TELEMETRY=1",
		"HF_HUB_DISABLE_UPDATE_CHECK=1",
		"HF_HUB_DISABLE_PROGRESS_BARS=1",
		"HF_HOME="+filepath.Join(home, "hf"),
		"NO_COLOR=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
}

// adminFlagsJSON is the JSON list of flags that point the admin command at
// the server's data.
func adminFlagsJSON(s *server) string {
	b, err := json.Marshal(append([]string{"--data", s.DataDir}, s.extra...))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// filterEnv drops the variables whose names start with any of prefixes.
func filterEnv(env []string, prefixes ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// runLogged runs cmd with a deadline, and fails the test with the combined
// output when it exits non-zero. The output is logged in verbose mode either way.
func runLogged(t *testing.T, timeout time.Duration, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	var err error
	select {
	case err = <-errc:
	case <-time.After(timeout):
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-errc:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			err = <-errc
		}
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out.String())
	}
	if testing.Verbose() {
		t.Logf("%s\n%s", strings.Join(cmd.Args, " "), out.String())
	}
}

// freshDatabase creates an empty PostgreSQL database on the server named by
// HAVEN_TEST_POSTGRES_DSN and returns a DSN for it. It is dropped at the end.
func freshDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("HAVEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Fatal("HAVEN_TEST_POSTGRES_DSN is not set")
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("HAVEN_TEST_POSTGRES_DSN must be a postgres:// URL, got %q", dsn)
	}
	name := fmt.Sprintf("haven_e2e_%d_%d", os.Getpid(), time.Now().UnixNano())
	psql(t, dsn, "CREATE DATABASE "+name)
	t.Cleanup(func() { psql(t, dsn, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

func psql(t *testing.T, dsn, sql string) {
	t.Helper()
	cmd := exec.Command("psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", dsn, "-c", sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
}

// freshS3Store returns the blob-store URL of HAVEN_TEST_S3_URL
// (s3://key:secret@host:port/bucket[/prefix]?...) with a key prefix of its
// own, so each server starts with an empty store.
func freshS3Store(t *testing.T) string {
	t.Helper()
	raw := os.Getenv("HAVEN_TEST_S3_URL")
	if raw == "" {
		t.Fatal("HAVEN_TEST_S3_URL is not set")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || strings.Trim(u.Path, "/") == "" {
		t.Fatalf("HAVEN_TEST_S3_URL must be an s3://…/bucket URL, got %q", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + fmt.Sprintf("/e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	return u.String()
}

// servicesAvailable reports whether PostgreSQL and S3 are configured.
func servicesAvailable() bool {
	return os.Getenv("HAVEN_TEST_POSTGRES_DSN") != "" && os.Getenv("HAVEN_TEST_S3_URL") != ""
}

// api is a small JSON client for the Hub API, used where no official client
// call exists or where the test needs the raw wire behaviour.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (s *server) api(token string) *api { return &api{t: s.t, base: s.URL, token: token} }

// do sends a request and returns the response with its body read.
func (a *api) do(method, path string, body any, hdr map[string]string) (*http.Response, []byte) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = a.base + path
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		a.t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	return resp, data
}

// json sends a request, checks the status and decodes the JSON answer into out (if not nil).
func (a *api) json(method, path string, body any, wantStatus int, out any) {
	a.t.Helper()
	resp, data := a.do(method, path, body, nil)
	if resp.StatusCode != wantStatus {
		a.t.Fatalf("%s %s: status %d, want %d; X-Error-Code=%q body=%s", method, path, resp.StatusCode, wantStatus,
			resp.Header.Get("X-Error-Code"), truncate(data, 500))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: decoding %s: %v", method, path, truncate(data, 500), err)
		}
	}
}

// createRepo creates a repository of the given type ("model", "dataset"...) in the token's namespace.
func (a *api) createRepo(typ, namespace, name string, private bool) {
	a.t.Helper()
	a.json("POST", "/api/repos/create", map[string]any{
		"name": name, "organization": namespace, "type": typ, "private": private,
	}, http.StatusOK, nil)
}

// commitLine is one NDJSON line of a commit.
type commitLine struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
}

// commit sends an NDJSON commit to branch and returns the new commit id.
func (a *api) commit(typePlural, id, branch, summary string, lines ...commitLine) string {
	a.t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(commitLine{Key: "header", Value: map[string]any{"summary": summary, "description": ""}})
	for _, l := range lines {
		enc.Encode(l)
	}
	resp, data := a.do("POST", "/api/"+typePlural+"/"+id+"/commit/"+url.PathEscape(branch), buf.Bytes(),
		map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("commit to %s@%s: status %d: %s", id, branch, resp.StatusCode, truncate(data, 500))
	}
	var out struct {
		CommitOid string `json:"commitOid"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.CommitOid) != 40 {
		a.t.Fatalf("commit to %s@%s: answer %s (%v)", id, branch, truncate(data, 500), err)
	}
	return out.CommitOid
}

// tail returns the last n bytes of s, from a line start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
