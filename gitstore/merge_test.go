package gitstore_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name      string
		main      []string // files changed on main after the branch point (path=content)
		pr        []string // files changed on the pull request
		wantFF    bool
		wantFiles map[string]string
		conflicts []string
	}{
		{name: "fast-forward", pr: []string{"b.txt=pr"}, wantFF: true,
			wantFiles: map[string]string{"a.txt": "base", "b.txt": "pr"}},
		{name: "merge commit", main: []string{"c.txt=main"}, pr: []string{"b.txt=pr"},
			wantFiles: map[string]string{"a.txt": "base", "b.txt": "pr", "c.txt": "main"}},
		{name: "conflict", main: []string{"a.txt=main", "c.txt=main"}, pr: []string{"a.txt=pr", "b.txt=pr"},
			conflicts: []string{"a.txt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, r := newRepo(t)
			base := commit(t, r, "refs/heads/main", "base", put("a.txt", "base"))
			if err := r.CreateRef(ctx, "refs/pr/1", base); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.pr {
				p, c, _ := strings.Cut(f, "=")
				commit(t, r, "refs/pr/1", "pr "+p, put(p, c))
			}
			for _, f := range tc.main {
				p, c, _ := strings.Cut(f, "=")
				commit(t, r, "refs/heads/main", "main "+p, put(p, c))
			}
			mainBefore, _ := r.Resolve("refs/heads/main")
			prHead, _ := r.Resolve("refs/pr/1")

			conflicts, err := r.Conflicts(ctx, "refs/heads/main", "refs/pr/1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(conflicts, tc.conflicts) {
				t.Fatalf("Conflicts = %v, want %v", conflicts, tc.conflicts)
			}
			diff, err := r.Diff(ctx, "refs/heads/main", "refs/pr/1")
			if err != nil || !strings.Contains(diff, "+pr") || strings.Contains(diff, "+main") {
				t.Fatalf("Diff = %q, %v; want the pull request's changes only", diff, err)
			}

			if mb, err := r.MergeBase(ctx, "refs/heads/main", "refs/pr/1"); err != nil || mb != base {
				t.Fatalf("MergeBase = %s, %v; want %s", mb, err, base)
			}
			res, err := r.Merge(ctx, "refs/heads/main", "refs/pr/1", alice, "Merge pull request #1", "")
			if tc.conflicts != nil {
				wantCode(t, err, haven.EConflict)
				if !reflect.DeepEqual(res.Conflicts, tc.conflicts) {
					t.Fatalf("result conflicts = %v, want %v", res.Conflicts, tc.conflicts)
				}
				if now, _ := r.Resolve("refs/heads/main"); now != mainBefore {
					t.Fatalf("main moved to %s on a conflict", now)
				}
				if now, _ := r.Resolve("refs/pr/1"); now != prHead {
					t.Fatalf("refs/pr/1 moved to %s on a conflict", now)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			head, _ := r.Resolve("refs/heads/main")
			if head != res.SHA || res.FastForward != tc.wantFF {
				t.Fatalf("result %+v, main at %s", res, head)
			}
			if tc.wantFF && head != prHead {
				t.Fatalf("fast-forward moved main to %s, not the pull request's head %s", head, prHead)
			}
			if !tc.wantFF {
				c, err := r.CommitInfo(head)
				if err != nil || len(c.Parents) != 2 || c.Parents[0] != mainBefore || c.Parents[1] != prHead {
					t.Fatalf("merge commit %+v, %v; want parents %s %s", c, err, mainBefore, prHead)
				}
			}
			for p, want := range tc.wantFiles {
				got, err := r.ReadFile(head, p)
				if err != nil || string(got) != want {
					t.Fatalf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			// Merging again changes nothing.
			again, err := r.Merge(ctx, "refs/heads/main", "refs/pr/1", alice, "again", "")
			if err != nil || !again.UpToDate || again.SHA != head {
				t.Fatalf("second merge = %+v, %v", again, err)
			}
		})
	}
}
