package gitstore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/havenhub/haven/gitstore"
)

const emptyTreeID = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// A root commit without operations stores the empty tree, so that both
// go-git and git read it.
func TestRootCommitWithoutOps(t *testing.T) {
	_, r := newRepo(t)
	commit(t, r, "refs/heads/main", "first", put("a.txt", "a"))
	sha, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/empty", CreateRef: true, Author: alice, Title: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, r.Path(), "rev-parse", sha+"^{tree}"); got != emptyTreeID {
		t.Fatalf("tree %s, want the empty tree", got)
	}
	if got := git(t, r.Path(), "cat-file", "-t", emptyTreeID); got != "tree" {
		t.Fatalf("empty tree not stored: %s", got)
	}
	if got := git(t, r.Path(), "fsck", "--strict", "--no-dangling"); got != "" {
		t.Fatalf("fsck: %s", got)
	}
	entries, err := r.List(sha, "", true)
	if err != nil || len(entries) != 0 {
		t.Fatalf("List = %v, %v", entries, err)
	}
	_, err = r.Stat(sha, "a.txt")
	wantCode(t, err, "EntryNotFound")
}

// Commits made by git point to the empty tree without storing it; readers
// know it, as git does.
func TestEmptyTreeNotStored(t *testing.T) {
	_, r := newRepo(t)
	commit(t, r, "refs/heads/main", "first", put("a.txt", "a"))
	sha := git(t, r.Path(), "commit-tree", "-m", "empty", emptyTreeID)
	os.Remove(filepath.Join(r.Path(), "objects", emptyTreeID[:2], emptyTreeID[2:]))
	git(t, r.Path(), "update-ref", "refs/heads/empty", sha)
	entries, err := r.List("empty", "", false)
	if err != nil || len(entries) != 0 {
		t.Fatalf("List = %v, %v", entries, err)
	}
	_, err = r.Stat("empty", "a.txt")
	wantCode(t, err, "EntryNotFound")
}

// Conversion refs are squashed like branches.
func TestSquashConvertRef(t *testing.T) {
	_, r := newRepo(t)
	commit(t, r, "refs/heads/main", "first", put("a.txt", "a"))
	if _, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/convert/parquet", CreateRef: true, Author: alice, Title: "p1", Ops: []gitstore.Op{put("x.parquet", "1")}}); err != nil {
		t.Fatal(err)
	}
	commit(t, r, "refs/convert/parquet", "p2", put("y.parquet", "2"))
	sha, err := r.Squash(ctx, "refs/convert/parquet", alice, "squashed", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := git(t, r.Path(), "rev-list", "--count", sha); got != "1" {
		t.Errorf("history of the squashed ref: %s commits", got)
	}
	if got := git(t, r.Path(), "ls-tree", "--name-only", sha); got != "x.parquet\ny.parquet" {
		t.Errorf("tree: %q", got)
	}
}
