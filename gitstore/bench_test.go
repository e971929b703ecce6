package gitstore_test

import (
	"fmt"
	"testing"

	"github.com/havenhub/haven/gitstore"
)

// BenchmarkResolveAndList measures the hot read path: resolve the default
// branch and list a 1000-file tree recursively.
func BenchmarkResolveAndList(b *testing.B) {
	_, r := newRepo(b)
	ops := make([]gitstore.Op, 0, 1000)
	for i := range 1000 {
		ops = append(ops, put(fmt.Sprintf("dir%02d/file%03d.txt", i%20, i), fmt.Sprint("content ", i)))
	}
	commit(b, r, "refs/heads/main", "many files", ops...)
	b.ResetTimer()
	for b.Loop() {
		sha, err := r.Resolve("main")
		if err != nil {
			b.Fatal(err)
		}
		entries, err := r.List(sha, "", true)
		if err != nil {
			b.Fatal(err)
		}
		if len(entries) != 1020 {
			b.Fatalf("%d entries", len(entries))
		}
	}
}

// BenchmarkStat measures resolving a revision and one file's entry.
func BenchmarkStat(b *testing.B) {
	_, r := newRepo(b)
	ops := make([]gitstore.Op, 0, 1000)
	for i := range 1000 {
		ops = append(ops, put(fmt.Sprintf("dir%02d/file%03d.txt", i%20, i), fmt.Sprint("content ", i)))
	}
	commit(b, r, "refs/heads/main", "many files", ops...)
	for b.Loop() {
		sha, err := r.Resolve("main")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Stat(sha, "dir07/file507.txt"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommit measures one small commit on a branch with history,
// including the git update-ref that moves the branch.
func BenchmarkCommit(b *testing.B) {
	_, r := newRepo(b)
	commit(b, r, "refs/heads/main", "base", put("README.md", "# bench\n"), put("dir/a.txt", "a"))
	i := 0
	for b.Loop() {
		i++
		commit(b, r, "refs/heads/main", "update", put(fmt.Sprintf("dir/f%d.txt", i%50), fmt.Sprint(i)))
	}
}
