package gitstore_test

import (
	"crypto/sha1"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

func TestConcurrentCommits(t *testing.T) {
	s1, r1 := newRepo(t)
	// A second store on the same directory plays another server process:
	// only the compare-and-swap on the ref keeps the two from losing commits.
	s2, err := gitstore.New(s1.Path(haven.Model, repoA) + "/../../..")
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s2.Open(ctx, haven.Model, repoA)
	if err != nil {
		t.Fatal(err)
	}
	commit(t, r1, "refs/heads/main", "base", put("base.txt", "base"))

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n+4)
	// Readers run alongside the writers on the same handles.
	done := make(chan struct{})
	var readers sync.WaitGroup
	for i := range 4 {
		r := []*gitstore.Repo{r1, r2}[i%2]
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				head, err := r.Resolve("main")
				if err == nil {
					_, err = r.List(head, "", true)
				}
				if err == nil {
					_, _, err = r.Log(head, 0, 5)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		r := r1
		if i%2 == 1 {
			r = r2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Commit(ctx, gitstore.CommitRequest{
				Ref: "refs/heads/main", Author: alice, Title: fmt.Sprintf("commit %d", i),
				Ops: []gitstore.Op{put(fmt.Sprintf("files/%02d.txt", i), fmt.Sprint(i))},
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	head, err := r1.Resolve("main")
	if err != nil {
		t.Fatal(err)
	}
	log, total, err := r1.Log(head, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != n+1 || len(log) != n+1 {
		t.Fatalf("history has %d commits (total %d), want %d", len(log), total, n+1)
	}
	titles := map[string]bool{}
	for _, c := range log {
		titles[c.Title] = true
	}
	entries, err := r1.List(head, "files", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("%d files in the head tree, want %d", len(entries), n)
	}
	for i := range n {
		if !titles[fmt.Sprintf("commit %d", i)] {
			t.Errorf("commit %d lost", i)
		}
	}
}

func TestRefsLifecycle(t *testing.T) {
	_, r := newRepo(t)
	c1 := commit(t, r, "refs/heads/main", "one", put("a", "1"))
	c2 := commit(t, r, "refs/heads/main", "two", put("a", "2"))

	if err := r.CreateRef(ctx, "refs/heads/dev", c1); err != nil {
		t.Fatal(err)
	}
	err := r.CreateRef(ctx, "refs/heads/dev", c2)
	wantCode(t, err, haven.EConflict)
	if haven.ErrorMessage(err) != "Reference refs/heads/dev already exists" {
		t.Fatalf("message %q", haven.ErrorMessage(err))
	}
	wantCode(t, r.CreateRef(ctx, "refs/heads/dev/sub", c1), haven.EConflict)
	wantCode(t, r.CreateRef(ctx, "refs/heads/x", "nope"), haven.ERevisionNotFound)
	wantCode(t, r.CreateRef(ctx, "dev2", c1), haven.EInvalid)
	wantCode(t, r.CreateRef(ctx, "refs/heads/a b", c1), haven.EInvalid)

	// Compare-and-swap.
	wantCode(t, r.UpdateRef(ctx, "refs/heads/dev", c2, c2), haven.EPrecondition)
	if err := r.UpdateRef(ctx, "refs/heads/dev", c2, c1); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateRef(ctx, "refs/heads/dev", c1, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Resolve("dev"); got != c1 {
		t.Fatalf("dev at %s, want %s", got, c1)
	}

	if err := r.CreateTag(ctx, "v1", "main", "", alice); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateTag(ctx, "v0", c1, "first release", alice); err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.CreateTag(ctx, "v1", c1, "", alice), haven.EConflict)
	wantCode(t, r.CreateTag(ctx, "bad..name", c1, "", alice), haven.EInvalid)
	if got := git(t, r.Path(), "cat-file", "-t", "v0"); got != "tag" {
		t.Fatalf("v0 is a %s object, want an annotated tag", got)
	}
	if got := git(t, r.Path(), "cat-file", "-t", "refs/tags/v1"); got != "commit" {
		t.Fatalf("v1 points at a %s, want a lightweight tag", got)
	}
	if err := r.CreateRef(ctx, "refs/pr/1", c2); err != nil {
		t.Fatal(err)
	}
	if err := r.CreateRef(ctx, "refs/convert/parquet", c1); err != nil {
		t.Fatal(err)
	}

	refs, err := r.Refs()
	if err != nil {
		t.Fatal(err)
	}
	want := gitstore.Refs{
		Branches:     []gitstore.Ref{{"dev", "refs/heads/dev", c1}, {"main", "refs/heads/main", c2}},
		Tags:         []gitstore.Ref{{"v0", "refs/tags/v0", c1}, {"v1", "refs/tags/v1", c2}},
		Converts:     []gitstore.Ref{{"parquet", "refs/convert/parquet", c1}},
		PullRequests: []gitstore.Ref{{"1", "refs/pr/1", c2}},
	}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("Refs = %+v\nwant %+v", refs, want)
	}

	for _, ref := range []string{"refs/heads/dev", "refs/tags/v0", "refs/pr/1"} {
		if err := r.DeleteRef(ctx, ref); err != nil {
			t.Fatalf("DeleteRef(%s): %v", ref, err)
		}
		wantCode(t, r.DeleteRef(ctx, ref), haven.ERevisionNotFound)
		if _, err := r.Resolve(ref); haven.ErrorCode(err) != haven.ERevisionNotFound {
			t.Fatalf("%s still resolves: %v", ref, err)
		}
	}
	wantCode(t, r.DeleteRef(ctx, "refs/heads/main"), haven.EForbidden)
	wantCode(t, r.DeleteRef(ctx, "bogus"), haven.ERevisionNotFound)
}

func TestValidRefName(t *testing.T) {
	for name, want := range map[string]bool{
		"main": true, "feature/x": true, "v1.0": true, "release-2024_01": true, "a@b": true,
		"": false, "HEAD": false, "refs/heads/x": false, "-x": false, "a b": false, "a..b": false,
		".hidden": false, "a/.b": false, "x.lock": false, "a/": false, "/a": false, "a//b": false,
		"a.": false, "a~1": false, "a^": false, "a:b": false, "a?": false, "a*": false, "a[": false,
		`a\b`: false, "a@{1}": false, "@": false, "tab\there": false,
	} {
		if got := gitstore.ValidRefName(name); got != want {
			t.Errorf("ValidRefName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLog(t *testing.T) {
	_, r := newRepo(t)
	var shas []string
	for i := range 7 {
		shas = append(shas, commit(t, r, "refs/heads/main", fmt.Sprintf("c%d", i), put("f", fmt.Sprint(i))))
	}
	head := shas[len(shas)-1]
	ids := func(cs []*gitstore.Commit) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	newestFirst := make([]string, len(shas))
	for i, s := range shas {
		newestFirst[len(shas)-1-i] = s
	}
	for _, tc := range []struct {
		offset, limit int
		want          []string
	}{
		{0, 0, newestFirst},
		{0, 3, newestFirst[:3]},
		{2, 3, newestFirst[2:5]},
		{5, 10, newestFirst[5:]},
		{7, 1, []string{}},
		{100, 1, []string{}},
	} {
		got, total, err := r.Log(head, tc.offset, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if total != 7 || !reflect.DeepEqual(ids(got), tc.want) {
			t.Errorf("Log(%d, %d) = %v (total %d), want %v", tc.offset, tc.limit, ids(got), total, tc.want)
		}
	}
	// History from an older commit.
	got, total, err := r.Log(shas[2], 0, 0)
	if err != nil || total != 3 || !reflect.DeepEqual(ids(got), newestFirst[4:]) {
		t.Fatalf("Log(older) = %v, %d, %v", ids(got), total, err)
	}
	// Log agrees with git log.
	gitOrder := git(t, r.Path(), "log", "--format=%H", head)
	all, _, _ := r.Log(head, 0, 0)
	if fmt.Sprint(ids(all)) != fmt.Sprint(splitLines(gitOrder)) {
		t.Fatalf("Log order differs from git log:\n%v\n%v", ids(all), gitOrder)
	}
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

// blobID is git's object id of a blob with the given content.
func blobID(content string) string {
	return fmt.Sprintf("%x", sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content))))
}

func TestSquash(t *testing.T) {
	_, r := newRepo(t)
	commit(t, r, "refs/heads/main", "one", put("a", "1"), put("d/b", "b"))
	commit(t, r, "refs/heads/main", "two", put("a", "2"))
	head := commit(t, r, "refs/heads/main", "three", del("d/b"), put("c", "c"))
	before, _ := r.Stat(head, "")

	sha, err := r.Squash(ctx, "refs/heads/main", alice, "Super-squash", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Resolve("main"); got != sha {
		t.Fatalf("main at %s, want %s", got, sha)
	}
	log, total, err := r.Log(sha, 0, 0)
	if err != nil || total != 1 || log[0].Title != "Super-squash" || len(log[0].Parents) != 0 {
		t.Fatalf("history after squash: %+v, %d, %v", log, total, err)
	}
	if after, _ := r.Stat(sha, ""); after.OID != before.OID {
		t.Fatalf("tree changed: %s -> %s", before.OID, after.OID)
	}
	_, err = r.Squash(ctx, "refs/heads/nope", alice, "x", "")
	wantCode(t, err, haven.ERevisionNotFound)
}

func TestLastCommits(t *testing.T) {
	_, r := newRepo(t)
	c1 := commit(t, r, "refs/heads/main", "add all", put("README.md", "r"), put("a/x", "x"), put("a/y", "y"), put("b/z", "z"))
	c2 := commit(t, r, "refs/heads/main", "touch a/x", put("a/x", "x2"))
	c3 := commit(t, r, "refs/heads/main", "readme", put("README.md", "r2"))
	// Rewriting a file with the same content changes nothing.
	commit(t, r, "refs/heads/main", "same content", put("b/z", "z"))
	c5 := commit(t, r, "refs/heads/main", "remove and re-add y", del("a/y"))
	c6 := commit(t, r, "refs/heads/main", "re-add y", put("a/y", "y"))
	// Noise so the walk has to go past commits that touch nothing asked for.
	var head string
	for i := range 30 {
		head = commit(t, r, "refs/heads/main", fmt.Sprintf("noise %d", i), put("noise.txt", fmt.Sprint(i)))
	}
	_ = c5

	got, err := r.LastCommits(head, []string{"README.md", "a", "a/x", "a/y", "b", "b/z", "missing", "a/missing", "noise.txt"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"README.md": c3, "a": c6, "a/x": c2, "a/y": c6, "b": c1, "b/z": c1, "noise.txt": head,
	}
	gotIDs := map[string]string{}
	for p, c := range got {
		gotIDs[p] = c.ID
	}
	if !reflect.DeepEqual(gotIDs, want) {
		t.Fatalf("LastCommits = %v\nwant %v", gotIDs, want)
	}
	if got["a/x"].Title != "touch a/x" {
		t.Fatalf("commit info not filled: %+v", got["a/x"])
	}
	// Answers agree with git log -1 -- path.
	for p, sha := range want {
		if g := git(t, r.Path(), "log", "-1", "--format=%H", head, "--", p); g != sha {
			t.Errorf("%s: git says %s, LastCommits %s", p, g, sha)
		}
	}
}

func TestWalkBlobs(t *testing.T) {
	_, r := newRepo(t)
	c1 := commit(t, r, "refs/heads/main", "one", put("a", "1"), put("d/b", "b"))
	commit(t, r, "refs/heads/main", "two", put("a", "2"), del("d/b"))
	if _, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/side", CreateRef: true, StartPoint: c1, Author: alice, Title: "side", Ops: []gitstore.Op{put("s", "side")}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := r.WalkBlobs(ctx, func(path, oid string) error {
		got = append(got, path+"="+oid)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	var want []string
	for _, pc := range [][2]string{{"a", "1"}, {"a", "2"}, {"d/b", "b"}, {"s", "side"}} {
		want = append(want, pc[0]+"="+blobID(pc[1]))
	}
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("WalkBlobs = %v\nwant %v", got, want)
	}
}
