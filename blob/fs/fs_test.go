package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/blobtest"
	"github.com/havenhub/haven/blob/fs"
)

func newDriver(t testing.TB) *fs.Driver {
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver { return newDriver(t) })
}

func TestNewRemovesStaleTempFiles(t *testing.T) {
	root := t.TempDir()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Put(context.Background(), "kept/obj", strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	// What a process killed in the middle of a Put leaves behind.
	stale := filepath.Join(root, "tmp", ".put-123456")
	if err := os.WriteFile(stale, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = d.List(context.Background(), "", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	if err != nil || !slices.Equal(keys, []string{"kept/obj"}) {
		t.Fatalf("List = %q, %v; want only kept/obj (no temporary file)", keys, err)
	}

	if _, err := fs.New(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there after New: %v", err)
	}
	if _, err := d.Stat(context.Background(), "kept/obj"); err != nil {
		t.Errorf("New removed an object: %v", err)
	}
}

func TestLayout(t *testing.T) {
	d := newDriver(t)
	oid := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if err := d.Put(context.Background(), blob.LFSKey(oid), strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(d.Root(), "lfs", "01", "23", oid)
	if _, err := os.Stat(want); err != nil {
		t.Errorf("object not at %s: %v", want, err)
	}
	entries, err := os.ReadDir(filepath.Join(d.Root(), "tmp"))
	if err != nil || len(entries) != 0 {
		t.Errorf("tmp/ holds %d entries after a Put (%v); want none", len(entries), err)
	}
}

func TestOpenReturnsFile(t *testing.T) {
	d := newDriver(t)
	if err := d.Put(context.Background(), "f", strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	r, _, err := d.Open(context.Background(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*os.File); !ok {
		t.Errorf("Open returned %T; want *os.File so that net/http can use sendfile", r)
	}
}

func BenchmarkPut(b *testing.B)      { blobtest.BenchmarkPut(b, newDriver(b)) }
func BenchmarkOpenRead(b *testing.B) { blobtest.BenchmarkOpenRead(b, newDriver(b)) }
