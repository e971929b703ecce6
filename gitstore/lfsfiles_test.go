package gitstore_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
)

func pointerOp(path, oid string, size int64) gitstore.Op {
	return gitstore.Op{Kind: gitstore.OpPut, Path: path, Content: lfs.Pointer{OID: oid, Size: size}.Bytes()}
}

func TestLFSFilesAndDrop(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	tests := []struct {
		name      string
		drop      []string
		wantMoved []string
		wantLeft  []string // oids LFSFiles lists afterwards
		wantFiles []string // files at the head of main afterwards
		oldGone   bool     // the first commit no longer resolves
	}{
		{"one object", []string{a}, []string{"refs/heads/main", "refs/heads/side", "refs/tags/v1"}, []string{b},
			[]string{"config.json", "dir/big2.bin"}, true},
		{"both objects", []string{a, b}, []string{"refs/heads/main", "refs/heads/side", "refs/tags/v1"}, nil,
			[]string{"config.json"}, true},
		{"an object no ref reaches", []string{strings.Repeat("c", 64)}, nil, []string{a, b},
			[]string{"big1.bin", "config.json", "dir/big2.bin"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := newRepo(t)
			c1 := commit(t, r, "refs/heads/main", "one", put("config.json", "{}"), pointerOp("big1.bin", a, 1000))
			c2 := commit(t, r, "refs/heads/main", "two", pointerOp("dir/big2.bin", b, 2000))
			if _, err := r.Commit(ctx, gitstore.CommitRequest{Ref: "refs/heads/side", CreateRef: true, StartPoint: c1, Author: alice,
				Title: "side", Ops: []gitstore.Op{pointerOp("copy/of-big1.bin", a, 1000)}}); err != nil {
				t.Fatal(err)
			}
			if err := r.CreateTag(ctx, "v1", c1, "first", alice); err != nil {
				t.Fatal(err)
			}

			files, err := r.LFSFiles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range files {
				got[f.Pointer.OID] = f.Path + "@" + f.Ref
			}
			want := map[string]string{a: "big1.bin@refs/heads/main", b: "dir/big2.bin@refs/heads/main"}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("LFSFiles = %v, want %v", got, want)
			}

			oids := map[string]bool{}
			for _, o := range tt.drop {
				oids[o] = true
			}
			moved, err := r.DropLFSFiles(ctx, oids)
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(moved)
			if !reflect.DeepEqual(moved, tt.wantMoved) {
				t.Errorf("moved %v, want %v", moved, tt.wantMoved)
			}
			files, err = r.LFSFiles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, f := range files {
				left = append(left, f.Pointer.OID)
			}
			sort.Strings(left)
			if !reflect.DeepEqual(left, tt.wantLeft) {
				t.Errorf("LFSFiles after = %v, want %v", left, tt.wantLeft)
			}
			head, err := r.Resolve("main")
			if err != nil {
				t.Fatal(err)
			}
			if ls := git(t, r.Path(), "ls-tree", "-r", "--name-only", head); ls != strings.Join(tt.wantFiles, "\n") {
				t.Errorf("files at main = %q, want %v", ls, tt.wantFiles)
			}
			// History keeps its shape and messages.
			if log := git(t, r.Path(), "log", "--format=%s", "main"); log != "two\none" {
				t.Errorf("log of main = %q", log)
			}
			_, err = r.Resolve(c1)
			if gone := err != nil; gone != tt.oldGone {
				t.Errorf("old commit %s resolves: %v, want gone %v", c1, err, tt.oldGone)
			}
			if _, err := r.Resolve(c2); (err != nil) != tt.oldGone {
				t.Errorf("old head %s: %v", c2, err)
			}
			git(t, r.Path(), "fsck", "--full", "--strict")
		})
	}
}
