// Package storetest opens Haven's embedded stores — SQLite metadata, bare git
// repositories and local-disk blobs — in a test's temporary folder, closed
// when the test ends.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/havenhub/haven/blob/fs"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
)

// Stores are the stores of one test, laid out as `haven serve` lays out its
// data folder.
type Stores struct {
	Dir   string
	Meta  *meta.Store
	Git   *gitstore.Store
	Blobs *fs.Driver
}

// Open creates the stores under t.TempDir(); it fails the test on error.
func Open(t testing.TB) *Stores {
	t.Helper()
	dir := t.TempDir()
	m, err := meta.Open(context.Background(), filepath.Join(dir, "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	g, err := gitstore.New(filepath.Join(dir, "repos"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return &Stores{Dir: dir, Meta: m, Git: g, Blobs: b}
}
