package lfs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lfs"
)

// attributeCases pairs .gitattributes files with paths and whether git runs
// each path through the lfs filter.
var attributeCases = []struct {
	name  string
	attrs string
	paths map[string]bool
}{
	{"basename pattern at any depth", "*.bin filter=lfs diff=lfs merge=lfs -text\n", map[string]bool{
		"lfs.bin": true, "a/b/c.bin": true, "bin": false, "a.bin.txt": false, "a.BIN": false,
	}},
	{"pattern with slash is anchored", "data/*.csv filter=lfs\n", map[string]bool{
		"data/x.csv": true, "sub/data/x.csv": false, "data/sub/x.csv": false,
	}},
	{"leading slash anchors", "/top.txt filter=lfs\n", map[string]bool{
		"top.txt": true, "sub/top.txt": false,
	}},
	{"double star directories", "saved_model/**/* filter=lfs\n", map[string]bool{
		"saved_model/a": true, "saved_model/x/y/z.pb": true, "saved_model": false, "other/saved_model/a": false,
	}},
	{"leading double star", "**/logs/*.txt filter=lfs\n", map[string]bool{
		"logs/a.txt": true, "x/y/logs/a.txt": true, "logs/x/a.txt": false,
	}},
	{"trailing double star", "big/** filter=lfs\n", map[string]bool{
		"big/a": true, "big/a/b/c": true, "bigger/a": false,
	}},
	{"middle double star", "a/**/b filter=lfs\n", map[string]bool{
		"a/b": true, "a/x/b": true, "a/x/y/b": true, "a/xb": false,
	}},
	{"non-special double star acts as star", "a**b filter=lfs\n", map[string]bool{
		"axxb": true, "dir/ab": true, "a/b": false,
	}},
	{"infix wildcard", "*tfevents* filter=lfs\n*.lfs.* filter=lfs\n", map[string]bool{
		"events.out.tfevents.123": true, "x.lfs.y": true, "lfs": false,
	}},
	{"question mark and classes", "file?.[ch] filter=lfs\n[!a]*.dat filter=lfs\n", map[string]bool{
		"file1.c": true, "fileX.h": true, "file12.c": false, "file1.o": false, "b.dat": true, "a.dat": false,
	}},
	{"class never matches slash", "a[[:punct:]]b filter=lfs\nc[!x]d filter=lfs\n", map[string]bool{
		"a-b": true, "x/a/b": false, "c/d": false, "cyd": true,
	}},
	{"space class", "my[[:space:]]file.txt filter=lfs\n", map[string]bool{
		"my file.txt": true, "my_file.txt": false,
	}},
	{"escaped wildcard", "lit\\*.txt filter=lfs\n", map[string]bool{
		"lit*.txt": true, "litx.txt": false,
	}},
	{"last matching line wins", "*.bin filter=lfs\nkeep.bin -filter\n*.txt filter=lfs\n*.txt !filter\n", map[string]bool{
		"a.bin": true, "keep.bin": false, "a.txt": false,
	}},
	{"lines not mentioning filter do not override", "*.bin filter=lfs\n*.bin -text\n", map[string]bool{
		"a.bin": true,
	}},
	{"other filter driver", "*.bin filter=lfs\n*.bin filter=crypt\n", map[string]bool{
		"a.bin": false,
	}},
	{"comments, blanks, crlf, macros, negation, directories", "# *.bin filter=lfs\r\n\r\n  *.pt filter=lfs\r\n[attr]big filter=lfs\r\n!*.x filter=lfs\r\ndir/ filter=lfs\r\n", map[string]bool{
		"a.bin": false, "a.pt": true, "a.x": false, "dir": false, "dir/a": false,
	}},
	{"quoted pattern", "\"with space.bin\" filter=lfs\n", map[string]bool{
		"with space.bin": true, "with": false,
	}},
	{"unclosed bracket never matches", "[abc filter=lfs\n", map[string]bool{
		"[abc": false, "a": false,
	}},
}

func TestAttributesLFS(t *testing.T) {
	for _, tc := range attributeCases {
		t.Run(tc.name, func(t *testing.T) {
			a := lfs.ParseAttributes([]byte(tc.attrs))
			for path, want := range tc.paths {
				if got := a.LFS(path); got != want {
					t.Errorf("LFS(%q) = %v, want %v", path, got, want)
				}
			}
		})
	}
}

// TestAttributesAgreeWithGit checks the expectations above against git itself.
func TestAttributesAgreeWithGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	for _, tc := range attributeCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			git(t, dir, nil, "init", "-q")
			if err := os.WriteFile(filepath.Join(dir, ".gitattributes"), []byte(tc.attrs), 0o644); err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.paths {
				out := git(t, dir, nil, "check-attr", "filter", "--", path)
				got := strings.HasSuffix(strings.TrimSpace(out), ": filter: lfs")
				if got != want {
					t.Errorf("git check-attr %q: %q, expectation %v", path, out, want)
				}
			}
		})
	}
}

func git(t *testing.T, dir string, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestDefaultAttributes(t *testing.T) {
	tests := []struct {
		typ   haven.RepoType
		paths map[string]bool
	}{
		{haven.Model, map[string]bool{
			"lfs.bin": true, "model.safetensors": true, "pytorch_model.bin": true, "saved_model/variables/v.data": true,
			"runs/events.out.tfevents.1": true, "data.tar.gz": true, "README.md": false, "config.json": false, "img.png": false,
		}},
		{haven.Dataset, map[string]bool{
			"train.parquet": true, "audio/a.mp3": true, "a.ogg": true, "a.wav": true, "a.jpg": true, "a.jpeg": true,
			"a.png": true, "a.webp": true, "v.mp4": true, "data.csv": false, "README.md": false,
		}},
		{haven.Space, map[string]bool{"ckpt.pt": true, "app.py": false}},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			b := lfs.DefaultAttributes(tt.typ)
			for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				if !strings.HasPrefix(line, "#") && !strings.HasSuffix(line, " filter=lfs diff=lfs merge=lfs -text") {
					t.Errorf("unexpected line %q", line)
				}
			}
			a := lfs.ParseAttributes(b)
			for path, want := range tt.paths {
				if got := a.LFS(path); got != want {
					t.Errorf("LFS(%q) = %v, want %v", path, got, want)
				}
			}
		})
	}
}

func TestWithPattern(t *testing.T) {
	base := lfs.DefaultAttributes(haven.Model)
	tests := []struct {
		name      string
		attrs     []byte
		path      string
		unchanged bool
		notLFS    []string
	}{
		{"already tracked", base, "weights/lfs.bin", true, nil},
		{"plain file", base, "big.txt", false, []string{"sub/big.txt", "big.txt2"}},
		{"nested", base, "a/b/big.json", false, []string{"big.json", "x/a/b/big.json"}},
		{"spaces", base, "my file.txt", false, []string{"my_file.txt"}},
		{"glob characters", base, "w[1]*?.txt", false, []string{"w1x.txt", "w[1]ab.txt"}},
		{"leading hash and bang", base, "#notes!", false, []string{"notes"}},
		{"no final newline", []byte("*.bin filter=lfs"), "a.txt", false, nil},
		{"empty attributes", nil, "a.txt", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]byte(nil), tt.attrs...)
			got := lfs.WithPattern(tt.attrs, tt.path)
			if !bytes.Equal(tt.attrs, orig) {
				t.Fatal("input modified")
			}
			if tt.unchanged != bytes.Equal(got, tt.attrs) {
				t.Fatalf("unchanged = %v, want %v:\n%s", !tt.unchanged, tt.unchanged, got)
			}
			if !bytes.HasPrefix(got, bytes.TrimSuffix(tt.attrs, []byte("\n"))) || !bytes.HasSuffix(got, []byte("\n")) {
				t.Fatalf("result does not extend the input:\n%s", got)
			}
			a := lfs.ParseAttributes(got)
			if !a.LFS(tt.path) {
				t.Errorf("%q not tracked by\n%s", tt.path, got)
			}
			for _, p := range tt.notLFS {
				if a.LFS(p) {
					t.Errorf("%q also tracked", p)
				}
			}
			if _, err := exec.LookPath("git"); err == nil {
				dir := t.TempDir()
				git(t, dir, nil, "init", "-q")
				if err := os.WriteFile(filepath.Join(dir, ".gitattributes"), got, 0o644); err != nil {
					t.Fatal(err)
				}
				if out := git(t, dir, nil, "check-attr", "filter", "--", tt.path); !strings.HasSuffix(strings.TrimSpace(out), ": filter: lfs") {
					t.Errorf("git disagrees: %s", out)
				}
			}
		})
	}
}

func FuzzWithPattern(f *testing.F) {
	f.Add([]byte("*.bin filter=lfs\n"), "a b/c[1].txt")
	f.Add([]byte(""), "#!x")
	f.Fuzz(func(t *testing.T, attrs []byte, path string) {
		got := lfs.WithPattern(attrs, path)
		if !repoPath(path) {
			return
		}
		if !lfs.ParseAttributes(got).LFS(path) {
			t.Fatalf("WithPattern(%q, %q) = %q does not track the path", attrs, path, got)
		}
	})
}

// repoPath reports whether p has the shape of a file path in a repository.
func repoPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}
