package meta

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSQLiteConnectionSettings checks that every pooled connection to a
// database file, not only the first, gets the settings of sqliteDSN.
func TestSQLiteConnectionSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		// Connections held at once are distinct ones.
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var mmap, fk int64
		var journal string
		if err := c.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&mmap); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil {
			t.Fatal(err)
		}
		if mmap != sqliteMmapSize || fk != 1 || journal != "wal" {
			t.Errorf("connection %d: mmap_size %d, foreign_keys %d, journal_mode %q; want %d, 1, wal", i, mmap, fk, journal, sqliteMmapSize)
		}
	}
}
