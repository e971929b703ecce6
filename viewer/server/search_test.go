package server

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestPruneKeepsOnlyTheCurrentRevision(t *testing.T) {
	tests := []struct {
		name     string
		files    []string // under the index folder
		building []string
		want     []string // left after pruning repo 7 at revision "cur"
	}{
		{"old revisions go", []string{"7/old/a.v5.fts", "7/older/b.v5.fts", "7/cur/a.v5.fts"}, nil, []string{"7/cur/a.v5.fts"}},
		{"other datasets stay", []string{"8/old/a.v5.fts", "7/old/a.v5.fts"}, nil, []string{"8/old/a.v5.fts"}},
		{"older layouts go", []string{"7/cur/a.fts", "7/cur/c.v3.fts", "7/cur/d.v4.fts", "7/cur/b.v5.fts", "7/cur/b.v5.fts.tmp"}, nil, []string{"7/cur/b.v5.fts", "7/cur/b.v5.fts.tmp"}},
		{"builds in progress stay", []string{"7/old/a.v5.fts.tmp"}, []string{"7/old/a.v5.fts"}, []string{"7/old/a.v5.fts.tmp"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ix := &indexes{dir: dir, building: map[string]chan struct{}{}}
			for _, f := range tc.files {
				p := filepath.Join(dir, f)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, b := range tc.building {
				ix.building[filepath.Join(dir, b)] = make(chan struct{})
			}
			ix.prune(7, "cur")
			var got []string
			filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					got = append(got, strings.TrimPrefix(p, dir+"/"))
				}
				return nil
			})
			sort.Strings(got)
			sort.Strings(tc.want)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("left %v, want %v", got, tc.want)
			}
		})
	}
}
