// Package storetest opens Haven's embedded stores — SQLite metadata, bare git
// repositories and local-disk blobs — in a test's temporary folder, closed
// when the test ends.
package storetest

import (
	"context"
	"os"
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
	return OpenWith(t, "")
}

// OpenWith is Open with the metadata database copied from the file db
// first, when db is not "": a benchmark fills a database once and reuses
// it, migrated to the code under test when opened.
func OpenWith(t testing.TB, db string) *Stores {
	t.Helper()
	dir := t.TempDir()
	if db != "" {
		b, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "haven.db"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
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
