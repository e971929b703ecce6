package meta_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestSQLiteMemory(t *testing.T) {
	s := mustOpen(t, ":memory:")
	alice := mustUser(t, s, "alice", false)
	r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "m"})
	mustNil(t, s.Like(ctx, alice.ID, r.ID)) // a transaction on the one connection
	got, err := s.RepoByName(ctx, haven.Model, "ALICE", "M")
	mustNil(t, err)
	if got.Likes != 1 {
		t.Errorf("likes = %d, want 1", got.Likes)
	}
}

// TestSQLiteReopen checks that data survives a reopen, which finds the
// migrations applied, also in a path with characters special in URIs.
func TestSQLiteReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	mustNil(t, os.Mkdir(dir, 0o755))
	path := filepath.Join(dir, "haven.db")

	s, err := meta.Open(ctx, path)
	mustNil(t, err)
	u := &haven.User{Name: "alice"}
	mustNil(t, s.CreateUser(ctx, u, "h"))
	mustNil(t, s.Close())
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}

	s = mustOpen(t, path)
	got, err := s.UserByName(ctx, "alice")
	mustNil(t, err)
	if got.ID != u.ID {
		t.Errorf("after reopen: %+v", got)
	}
	mustNil(t, s.Ping(ctx))
}

// helperEnv names the database a helper process writes to; see
// TestSQLiteWriterProcess.
const helperEnv = "HAVEN_META_TEST_WRITER_DB"

// TestSQLiteTwoProcesses writes to one database file from this process and
// from a second one at the same time, as the server and an admin command do.
func TestSQLiteTwoProcesses(t *testing.T) {
	const n = 100
	path := filepath.Join(t.TempDir(), "haven.db")
	s := mustOpen(t, path)
	mustUser(t, s, "owner", false)

	exe, err := os.Executable()
	mustNil(t, err)
	cmd := exec.Command(exe, "-test.run=^TestSQLiteWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path, "HAVEN_META_TEST_WRITER_N="+strconv.Itoa(n))
	out := make(chan error, 1)
	var output []byte
	go func() {
		var err error
		output, err = cmd.CombinedOutput()
		out <- err
	}()
	for i := range n {
		mustNil(t, s.CreateRepo(ctx, &haven.Repo{Type: haven.Model, Namespace: "owner", Name: fmt.Sprintf("r%d", i)}))
	}
	if err := <-out; err != nil {
		t.Fatalf("writer process: %v\n%s", err, output)
	}

	repos, err := s.CountRepos(ctx, meta.RepoFilter{})
	mustNil(t, err)
	if repos != n {
		t.Errorf("%d repos, want %d", repos, n)
	}
	for i := range n {
		if _, err := s.UserByName(ctx, fmt.Sprintf("u%d", i)); err != nil {
			t.Fatalf("user written by the other process: %v", err)
		}
	}
}

// TestSQLiteWriterProcess is the second process of TestSQLiteTwoProcesses.
func TestSQLiteWriterProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("runs as a helper process of TestSQLiteTwoProcesses")
	}
	n, err := strconv.Atoi(os.Getenv("HAVEN_META_TEST_WRITER_N"))
	mustNil(t, err)
	s := mustOpen(t, path)
	for i := range n {
		mustNil(t, s.CreateUser(ctx, &haven.User{Name: fmt.Sprintf("u%d", i)}, ""))
	}
}
