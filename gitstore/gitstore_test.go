package gitstore_test

import (
	"context"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

var (
	ctx   = context.Background()
	alice = gitstore.Signature{Name: "Alice", Email: "alice@example.com"}
	repoA = haven.RepoID{Namespace: "alice", Name: "tiny"}
)

// newRepo returns a fresh, empty repository in a new store.
func newRepo(t testing.TB) (*gitstore.Store, *gitstore.Repo) {
	t.Helper()
	s, err := gitstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Init(ctx, haven.Model, repoA); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, haven.Model, repoA)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

// commit makes a commit on ref and fails the test on error.
func commit(t testing.TB, r *gitstore.Repo, ref, title string, ops ...gitstore.Op) string {
	t.Helper()
	sha, err := r.Commit(ctx, gitstore.CommitRequest{Ref: ref, Author: alice, Title: title, Ops: ops})
	if err != nil {
		t.Fatalf("commit %q: %v", title, err)
	}
	return sha
}

func put(path, content string) gitstore.Op {
	return gitstore.Op{Kind: gitstore.OpPut, Path: path, Content: []byte(content)}
}

func del(path string) gitstore.Op { return gitstore.Op{Kind: gitstore.OpDelete, Path: path} }

// git runs the git command line in dir and returns its trimmed output.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "GIT_LFS_SKIP_SMUDGE=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Bob", "GIT_AUTHOR_EMAIL=bob@example.com",
		"GIT_COMMITTER_NAME=Bob", "GIT_COMMITTER_EMAIL=bob@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := haven.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func TestStoreLifecycle(t *testing.T) {
	s, err := gitstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, haven.Model, repoA); haven.ErrorCode(err) != haven.ERepoNotFound {
		t.Fatalf("Open before Init: %v", err)
	}
	if err := s.Init(ctx, haven.Model, repoA); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.Init(ctx, haven.Model, repoA), haven.EConflict)
	// The same name under another type is another repository.
	if err := s.Init(ctx, haven.Dataset, repoA); err != nil {
		t.Fatal(err)
	}
	path := s.Path(haven.Model, repoA)
	if !strings.HasSuffix(path, "/models/alice/tiny.git") {
		t.Fatalf("Path = %s", path)
	}
	for key, want := range map[string]string{
		"core.bare":                     "true",
		"receive.denyNonFastForwards":   "false",
		"receive.denyDeleteCurrent":     "refuse",
		"uploadpack.allowFilter":        "true",
		"uploadpack.allowAnySHA1InWant": "true",
	} {
		if got := git(t, path, "config", key); got != want {
			t.Errorf("config %s = %q, want %q", key, got, want)
		}
	}
	if got := git(t, path, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Errorf("HEAD = %q", got)
	}

	r, err := s.Open(ctx, haven.Model, repoA)
	if err != nil {
		t.Fatal(err)
	}
	sha := commit(t, r, "refs/heads/main", "first", put("a.txt", "a"))

	moved := haven.RepoID{Namespace: "bob", Name: "renamed"}
	if err := s.Move(ctx, haven.Model, repoA, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, haven.Model, repoA); haven.ErrorCode(err) != haven.ERepoNotFound {
		t.Fatalf("Open old name after Move: %v", err)
	}
	r, err = s.Open(ctx, haven.Model, moved)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Resolve("main"); err != nil || got != sha {
		t.Fatalf("Resolve after Move = %s, %v; want %s", got, err, sha)
	}
	wantCode(t, s.Move(ctx, haven.Model, repoA, moved), haven.ERepoNotFound)
	wantCode(t, s.Move(ctx, haven.Model, moved, haven.RepoID{Namespace: "alice", Name: "tiny"}), "")
	wantCode(t, s.Move(ctx, haven.Dataset, repoA, repoA), haven.EConflict)

	if err := s.Remove(ctx, haven.Model, repoA); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, haven.Model, repoA); haven.ErrorCode(err) != haven.ERepoNotFound {
		t.Fatalf("Open after Remove: %v", err)
	}
	if err := s.Remove(ctx, haven.Model, repoA); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	// A removed name can be created again, empty.
	if err := s.Init(ctx, haven.Model, repoA); err != nil {
		t.Fatal(err)
	}
	r, _ = s.Open(ctx, haven.Model, repoA)
	wantCode(t, func() error { _, err := r.Resolve("main"); return err }(), haven.ERevisionNotFound)
}

func TestResolve(t *testing.T) {
	_, r := newRepo(t)
	c1 := commit(t, r, "refs/heads/main", "one", put("a.txt", "1"))
	c2 := commit(t, r, "refs/heads/main", "two", put("a.txt", "2"))
	if err := r.CreateRef(ctx, "refs/heads/dev", c1); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateTag(ctx, "v1", c1, "", alice); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateTag(ctx, "v2-annotated", c2, "release two", alice); err != nil {
		t.Fatal(err)
	}
	pr := commit(t, r, "refs/heads/main", "three", put("b.txt", "b"))
	if err := r.CreateRef(ctx, "refs/pr/1", c2); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateRef(ctx, "refs/convert/parquet", c1); err != nil {
		t.Fatal(err)
	}
	// A tag named like a branch loses to the branch.
	if err := r.CreateTag(ctx, "dev", c2, "", alice); err != nil {
		t.Fatal(err)
	}
	// A branch named like a short sha wins over the sha.
	if err := r.CreateRef(ctx, "refs/heads/"+c2[:7], c1); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		rev  string
		want string // "" means ERevisionNotFound
	}{
		{"", pr},
		{"HEAD", pr},
		{"main", pr},
		{"refs/heads/main", pr},
		{"dev", c1},
		{"refs/tags/dev", c2},
		{"v1", c1},
		{"refs/tags/v1", c1},
		{"v2-annotated", c2},
		{"refs/tags/v2-annotated", c2},
		{c1, c1},
		{strings.ToUpper(c1), c1},
		{c1[:4], c1},
		{c1[:9], c1},
		{c2[:7], c1},
		{c2[:8], c2},
		{"refs/pr/1", c2},
		{"refs/convert/parquet", c1},
		{"nope", ""},
		{"refs/heads/nope", ""},
		{"refs/pr/2", ""},
		{"pr/1", ""},
		{c1[:3], ""},
		{"0000000000000000000000000000000000000000", ""},
		{"../../config", ""},
		{"refs/heads/../../config", ""},
		{"main~1", ""},
	} {
		t.Run(tc.rev, func(t *testing.T) {
			got, err := r.Resolve(tc.rev)
			if tc.want == "" {
				wantCode(t, err, haven.ERevisionNotFound)
				if want := "Invalid rev id: " + tc.rev; haven.ErrorMessage(err) != want {
					t.Fatalf("message %q, want %q", haven.ErrorMessage(err), want)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tc.rev, got, err, tc.want)
			}
		})
	}

	for name, want := range map[string]bool{
		"main": true, "dev": true, "refs/heads/dev": true, "refs/pr/1": true,
		"v1": false, "refs/tags/v1": false, "refs/convert/parquet": false, "refs/pr/9": false, "nope": false,
	} {
		if got := r.IsBranch(name); got != want {
			t.Errorf("IsBranch(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestResolveEmptyRepo(t *testing.T) {
	_, r := newRepo(t)
	for _, rev := range []string{"", "HEAD", "main"} {
		_, err := r.Resolve(rev)
		wantCode(t, err, haven.ERevisionNotFound)
	}
	refs, err := r.Refs()
	if err != nil || len(refs.Branches)+len(refs.Tags) != 0 {
		t.Fatalf("Refs of an empty repo = %+v, %v", refs, err)
	}
}

func paths(entries []gitstore.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Path)
	}
	return out
}

func TestStatAndList(t *testing.T) {
	_, r := newRepo(t)
	sha := commit(t, r, "refs/heads/main", "files",
		put("README.md", "# hi\n"),
		put("a/b/c.txt", "deep"),
		put("a/x.bin", "12345"),
		put("a-b.txt", "sorts between a and a/"),
		gitstore.Op{Kind: gitstore.OpPut, Path: "run.sh", Content: []byte("#!/bin/sh\n"), Mode: 0o100755},
		gitstore.Op{Kind: gitstore.OpPut, Path: "link", Content: []byte("README.md"), Mode: 0o120000},
	)

	for _, tc := range []struct {
		name      string
		dir       string
		recursive bool
		want      []string
	}{
		{"root", "", false, []string{"README.md", "a-b.txt", "a", "link", "run.sh"}},
		{"root recursive", "", true, []string{"README.md", "a-b.txt", "a", "a/b", "a/b/c.txt", "a/x.bin", "link", "run.sh"}},
		{"subdir", "a", false, []string{"a/b", "a/x.bin"}},
		{"subdir recursive", "a", true, []string{"a/b", "a/b/c.txt", "a/x.bin"}},
		{"slashes trimmed", "/a/b/", false, []string{"a/b/c.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := r.List(sha, tc.dir, tc.recursive)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(entries); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("List = %q, want %q", got, tc.want)
			}
		})
	}
	for _, dir := range []string{"missing", "README.md", "a/b/c.txt/d"} {
		_, err := r.List(sha, dir, false)
		wantCode(t, err, haven.EEntryNotFound)
	}

	for _, tc := range []struct {
		path string
		typ  string
		size int64
		mode uint32
	}{
		{"", "directory", 0, 0o40000},
		{"a", "directory", 0, 0o40000},
		{"a/x.bin", "file", 5, 0o100644},
		{"run.sh", "file", 10, 0o100755},
		{"link", "file", 9, 0o120000},
	} {
		e, err := r.Stat(sha, tc.path)
		if err != nil {
			t.Fatalf("Stat(%q): %v", tc.path, err)
		}
		if e.Path != tc.path || e.Type != tc.typ || e.Size != tc.size || e.Mode != tc.mode || len(e.OID) != 40 {
			t.Errorf("Stat(%q) = %+v", tc.path, e)
		}
	}
	e, _ := r.Stat(sha, "a/b/c.txt")
	if want := git(t, r.Path(), "rev-parse", sha+":a/b/c.txt"); e.OID != want {
		t.Errorf("OID = %s, git says %s", e.OID, want)
	}
	if want := git(t, r.Path(), "rev-parse", sha+":a"); mustStat(t, r, sha, "a").OID != want {
		t.Errorf("tree OID differs from git's %s", want)
	}
	if byName, err := r.Stat("main", "a/b/c.txt"); err != nil || byName != e {
		t.Errorf("Stat by branch name = %+v, %v", byName, err)
	}
	for _, p := range []string{"nope", "a/nope", "README.md/x", "a/b/c.txt/d", "../a", "a/../a"} {
		_, err := r.Stat(sha, p)
		wantCode(t, err, haven.EEntryNotFound)
	}

	data, err := r.ReadFile(sha, "a/b/c.txt")
	if err != nil || string(data) != "deep" {
		t.Fatalf("ReadFile = %q, %v", data, err)
	}
	_, err = r.ReadFile(sha, "a")
	wantCode(t, err, haven.EEntryNotFound)
	rc, size, err := r.Blob(e.OID)
	if err != nil || size != 4 {
		t.Fatalf("Blob: size %d, %v", size, err)
	}
	rc.Close()
	_, _, err = r.Blob(strings.Repeat("0", 40))
	wantCode(t, err, haven.EEntryNotFound)
	for _, rev := range []string{strings.Repeat("1", 40), "nope"} {
		_, err = r.Stat(rev, "")
		wantCode(t, err, haven.ERevisionNotFound)
		_, err = r.List(rev, "", false)
		wantCode(t, err, haven.ERevisionNotFound)
		_, _, err = r.Log(rev, 0, 0)
		wantCode(t, err, haven.ERevisionNotFound)
		_, err = r.LastCommits(rev, []string{"a"})
		wantCode(t, err, haven.ERevisionNotFound)
		_, err = r.CommitInfo(rev)
		wantCode(t, err, haven.ERevisionNotFound)
	}
}

func mustStat(t *testing.T, r *gitstore.Repo, commit, path string) gitstore.Entry {
	t.Helper()
	e, err := r.Stat(commit, path)
	if err != nil {
		t.Fatalf("Stat(%q): %v", path, err)
	}
	return e
}

func TestCommitOps(t *testing.T) {
	_, r := newRepo(t)
	base := commit(t, r, "refs/heads/main", "base",
		put("keep.txt", "k"), put("dir/a.txt", "a"), put("dir/sub/b.txt", "b"),
		put("other/c.txt", "c"), put("solo/only.txt", "o"))

	for _, tc := range []struct {
		name string
		ops  []gitstore.Op
		want []string // recursive listing afterwards; nil when an error is expected
		code string
	}{
		{"replace file", []gitstore.Op{put("keep.txt", "new")},
			[]string{"dir", "dir/a.txt", "dir/sub", "dir/sub/b.txt", "keep.txt", "other", "other/c.txt", "solo", "solo/only.txt"}, ""},
		{"delete file", []gitstore.Op{del("dir/a.txt")},
			[]string{"dir", "dir/sub", "dir/sub/b.txt", "keep.txt", "other", "other/c.txt", "solo", "solo/only.txt"}, ""},
		{"delete directory with OpDelete", []gitstore.Op{del("dir")},
			[]string{"keep.txt", "other", "other/c.txt", "solo", "solo/only.txt"}, ""},
		{"OpDeleteDir", []gitstore.Op{{Kind: gitstore.OpDeleteDir, Path: "dir/sub"}},
			[]string{"dir", "dir/a.txt", "keep.txt", "other", "other/c.txt", "solo", "solo/only.txt"}, ""},
		{"last file removes its directory", []gitstore.Op{del("solo/only.txt")},
			[]string{"dir", "dir/a.txt", "dir/sub", "dir/sub/b.txt", "keep.txt", "other", "other/c.txt"}, ""},
		{"put then delete in one commit", []gitstore.Op{put("tmp/x", "x"), del("tmp/x"), put("new.txt", "n")},
			[]string{"dir", "dir/a.txt", "dir/sub", "dir/sub/b.txt", "keep.txt", "new.txt", "other", "other/c.txt", "solo", "solo/only.txt"}, ""},
		{"delete missing file", []gitstore.Op{del("nope.txt")}, nil, haven.EEntryNotFound},
		{"delete under a file", []gitstore.Op{del("keep.txt/x")}, nil, haven.EEntryNotFound},
		{"OpDeleteDir on a file", []gitstore.Op{{Kind: gitstore.OpDeleteDir, Path: "keep.txt"}}, nil, haven.EEntryNotFound},
		{"file over a directory", []gitstore.Op{put("dir", "x")}, nil, haven.EUnprocessable},
		{"directory over a file", []gitstore.Op{put("keep.txt/x", "x")}, nil, haven.EUnprocessable},
		{"bad mode", []gitstore.Op{{Kind: gitstore.OpPut, Path: "m", Mode: 0o100600}}, nil, haven.EUnprocessable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case starts from base, on a branch of its own.
			ref := "refs/heads/case-" + strings.ReplaceAll(tc.name, " ", "-")
			sha, err := r.Commit(ctx, gitstore.CommitRequest{
				Ref: ref, CreateRef: true, StartPoint: base, Author: alice, Title: tc.name, Ops: tc.ops,
			})
			if tc.code != "" {
				wantCode(t, err, tc.code)
				if _, err := r.Resolve(ref); haven.ErrorCode(err) != haven.ERevisionNotFound {
					t.Fatalf("a failed commit created %s: %v", ref, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			entries, err := r.List(sha, "", true)
			if err != nil {
				t.Fatal(err)
			}
			if got := paths(entries); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("tree = %q, want %q", got, tc.want)
			}
			info, err := r.CommitInfo(sha)
			if err != nil || !reflect.DeepEqual(info.Parents, []string{base}) {
				t.Fatalf("parents = %v, %v", info, err)
			}
		})
	}
	if got := git(t, r.Path(), "fsck", "--strict", "--no-dangling"); got != "" {
		t.Fatalf("git fsck --strict: %s", got)
	}
}

// A backslash inside a name is an ordinary character in git, as on the Hub.
func TestCommitBackslashInName(t *testing.T) {
	_, r := newRepo(t)
	sha := commit(t, r, "refs/heads/main", "odd names", put(`folder/..\..\x.txt`, "x"), put(`a\b`, "y"))
	for _, p := range []string{`folder/..\..\x.txt`, `a\b`} {
		if _, err := r.Stat(sha, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestCommitPathValidation(t *testing.T) {
	_, r := newRepo(t)
	commit(t, r, "refs/heads/main", "base", put("ok.txt", "x"))
	for _, p := range []string{"", "../x", "a/../b", "./a", "a/./b", "/abs", "a//b", "a/", ".git/config",
		"a/.git/x", ".GIT/config", `\x`, "..\\ddd", `.git\config`, "nul\x00byte"} {
		t.Run(fmt.Sprintf("%q", p), func(t *testing.T) {
			for _, op := range []gitstore.Op{put(p, "x"), del(p)} {
				_, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/main", Author: alice, Title: "bad", Ops: []gitstore.Op{op}})
				wantCode(t, err, haven.EUnprocessable)
			}
		})
	}
	// Names that merely contain dots are fine.
	commit(t, r, "refs/heads/main", "dots", put(".gitattributes", "*.bin filter=lfs"), put("a..b/.hidden", "h"))
}

func TestCommitRefs(t *testing.T) {
	_, r := newRepo(t)
	// A missing ref other than the unborn default branch needs CreateRef.
	_, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/other", Author: alice, Title: "x", Ops: []gitstore.Op{put("a", "a")}})
	wantCode(t, err, haven.ERevisionNotFound)
	_, err = r.Commit(ctx, gitstore.CommitRequest{Ref: "main", Author: alice, Title: "x"})
	wantCode(t, err, haven.EInvalid)

	first := commit(t, r, "refs/heads/main", "initial", put("a", "a"))
	info, err := r.CommitInfo(first)
	if err != nil || len(info.Parents) != 0 {
		t.Fatalf("first commit: %+v, %v", info, err)
	}
	// An empty commit is still a commit.
	empty := commit(t, r, "refs/heads/main", "nothing")
	if empty == first {
		t.Fatal("empty commit not made")
	}
	// A pull-request ref created from a start point.
	prSHA, err := r.Commit(ctx, gitstore.CommitRequest{
		Ref: "refs/pr/1", CreateRef: true, StartPoint: first, Author: alice, Title: "pr", Ops: []gitstore.Op{put("b", "b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, _ = r.CommitInfo(prSHA)
	if !reflect.DeepEqual(info.Parents, []string{first}) {
		t.Fatalf("PR parents = %v", info.Parents)
	}
	// An orphan ref.
	orphan, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/convert/parquet", CreateRef: true, Author: alice, Title: "parquet", Ops: []gitstore.Op{put("d/x.parquet", "p")}})
	if err != nil {
		t.Fatal(err)
	}
	info, _ = r.CommitInfo(orphan)
	if len(info.Parents) != 0 {
		t.Fatalf("orphan has parents %v", info.Parents)
	}
}

func TestCommitParentCommit(t *testing.T) {
	_, r := newRepo(t)
	c1 := commit(t, r, "refs/heads/main", "one", put("a", "1"))
	c2, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/main", ParentCommit: c1, Author: alice, Title: "two", Ops: []gitstore.Op{put("a", "2")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/main", ParentCommit: c1, Author: alice, Title: "stale", Ops: []gitstore.Op{put("a", "3")}})
	wantCode(t, err, haven.EPrecondition)
	if want := "The branch was updated since you opened this page. Please refresh and try again."; haven.ErrorMessage(err) != want {
		t.Fatalf("message %q", haven.ErrorMessage(err))
	}
	if head, _ := r.Resolve("main"); head != c2 {
		t.Fatalf("head moved to %s after a stale commit", head)
	}
}

func TestCommitMessageAndAuthor(t *testing.T) {
	_, r := newRepo(t)
	when := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("CEST", 2*3600))
	sha, err := r.Commit(ctx, gitstore.CommitRequest{
		Ref: "refs/heads/main", Title: "Add model", Message: "\nLonger text.\n\nSecond paragraph.\n",
		Author: gitstore.Signature{Name: "Alice", Email: "alice@example.com", When: when},
		Ops:    []gitstore.Op{put("a", "a")},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitInfo(sha)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != sha || c.Title != "Add model" || c.Message != "Longer text.\n\nSecond paragraph." ||
		c.Author.Name != "Alice" || c.Author.Email != "alice@example.com" || !c.Author.When.Equal(when) {
		t.Fatalf("CommitInfo = %+v", c)
	}
	if got := git(t, r.Path(), "log", "-1", "--format=%an <%ae> %ad", "--date=iso-strict", sha); got != "Alice <alice@example.com> 2024-05-06T07:08:09+02:00" {
		t.Fatalf("git log: %s", got)
	}
}
