package backup

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeBackup(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	m := Manifest{Format: Format}
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		f := File{Path: rel, Size: int64(len(content))}
		if !strings.HasPrefix(rel, "blobs/") {
			f.SHA256, _ = hashFile(p)
		}
		m.Files = append(m.Files, f)
	}
	data, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ManifestName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRestore(t *testing.T) {
	ctx := context.Background()
	src := writeBackup(t, map[string]string{"haven.db": "db", "secret.key": "k", "blobs/lfs/ab/cd/abcd": "large"})

	used := t.TempDir()
	os.WriteFile(filepath.Join(used, "haven.db"), nil, 0o644)
	if _, err := Restore(ctx, src, used, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a used folder: %v", err)
	}
	if _, err := Restore(ctx, t.TempDir(), filepath.Join(t.TempDir(), "d"), nil); err == nil || !strings.Contains(err.Error(), ManifestName) {
		t.Errorf("restore of a folder without a manifest: %v", err)
	}

	data := filepath.Join(t.TempDir(), "data")
	if _, err := Restore(ctx, src, data, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "blobs/lfs/ab/cd/abcd")); err != nil || string(b) != "large" {
		t.Errorf("restored blob = %q, %v", b, err)
	}

	// A damaged backup is refused before anything is written.
	os.WriteFile(filepath.Join(src, "haven.db"), []byte("xx"), 0o644)
	os.Remove(filepath.Join(src, "blobs/lfs/ab/cd/abcd"))
	data2 := filepath.Join(t.TempDir(), "data")
	_, err := Restore(ctx, src, data2, nil)
	if err == nil || !strings.Contains(err.Error(), "haven.db: SHA-256") || !strings.Contains(err.Error(), "abcd") {
		t.Errorf("restore of a damaged backup: %v", err)
	}
	if _, err := os.Stat(data2); err == nil {
		t.Errorf("a damaged restore created the data folder")
	}
}

func TestCheckRel(t *testing.T) {
	for _, bad := range []string{"", "/etc/passwd", "../x", "repos/../../x", `a\b`} {
		if checkRel(bad) == nil {
			t.Errorf("checkRel(%q) accepted", bad)
		}
	}
	if err := checkRel("repos/models/a/b.git/HEAD"); err != nil {
		t.Error(err)
	}
}
