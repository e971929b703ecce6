package casstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/fs"
)

// TestImport converts LFS content into Xet files: the file hash is the one a
// client computes for the same bytes, the content reconstructs, the terms
// split into several xorbs when the content is larger than one, a repeated
// import reads nothing, and content that does not hash to its oid, or an
// interrupted read, registers nothing.
func TestImport(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { importXorbSize = n }(importXorbSize)
	importXorbSize = 1 << 20

	tests := []struct {
		name   string
		data   []byte
		xorbs  int
		client bool // one xorb: compare with the client's file hash
	}{
		{"one chunk", randomData(10, 5000), 1, true},
		{"one xorb", randomData(11, 700<<10), 1, true},
		{"several xorbs", randomData(12, 3<<20+12345), 4, false},
		// Xorbs are planned before they are compressed: compressible
		// content takes as many as any other.
		{"compressible", bytes.Repeat([]byte("weights "), 300<<10), 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newStore(t)
			u := prepare(tc.data)
			f, err := s.Import(ctx, u.oid, bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if f.SHA256 != u.oid || f.Size != int64(len(tc.data)) {
				t.Errorf("file = %s, %d bytes; want %s, %d", f.SHA256, f.Size, u.oid, len(tc.data))
			}
			if len(f.Terms) != tc.xorbs {
				t.Errorf("%d terms, want %d", len(f.Terms), tc.xorbs)
			}
			if tc.client && f.Hash != u.shard.Files[0].Hash {
				t.Errorf("file hash %s, a client computes %s", f.Hash, u.shard.Files[0].Hash)
			}
			checkReadable(t, s, u.oid, tc.data)
			plan, err := s.Reconstruct(ctx, f, 1000, int64(len(tc.data)))
			if err != nil || len(plan.Terms) != tc.xorbs || plan.Skip != 1000 {
				t.Errorf("plan = %+v, %v", plan, err)
			}
			// Imported again: found by its oid, r is not read.
			again, err := New(s.blobs).Import(ctx, u.oid, &cutReader{r: bytes.NewReader(nil), err: errors.New("read")})
			if err != nil || again.Hash != f.Hash {
				t.Errorf("second import = %v, %v", again, err)
			}
		})
	}

	t.Run("wrong content", func(t *testing.T) {
		s, _ := newStore(t)
		u := prepare(randomData(13, 100<<10))
		if _, err := s.Import(ctx, u.oid, bytes.NewReader(randomData(14, 100<<10))); err == nil {
			t.Fatal("content that does not hash to its oid was imported")
		}
		if _, err := s.FileBySHA256(ctx, u.oid); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("the oid resolves after a refused import: %v", err)
		}
	})

	t.Run("interrupted, then repeated", func(t *testing.T) {
		data := randomData(15, 3<<20+999)
		u := prepare(data)
		for _, tc := range []struct {
			name  string
			after int  // bytes read before the failure; Import reads the content twice
			kept  bool // whether a xorb was stored before it
		}{
			{"while planning", len(data)/2 + 7, false},
			{"while storing", len(data) + len(data)/2 + 7, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, d := newStore(t)
				cut := &cutReader{r: bytes.NewReader(data), left: tc.after, err: errors.New("connection reset")}
				if _, err := s.Import(ctx, u.oid, cut); err == nil {
					t.Fatal("an interrupted read was imported")
				}
				if _, err := s.FileBySHA256(ctx, u.oid); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("the oid resolves after an interrupted import: %v", err)
				}
				var kept []string
				if err := d.List(ctx, PrefixXorbMeta, func(i blob.Info) error { kept = append(kept, i.Key); return nil }); err != nil {
					t.Fatal(err)
				}
				if (len(kept) > 0) != tc.kept {
					t.Fatalf("xorbs stored by the interrupted import: %v", kept)
				}
				// The repeat skips the stored xorbs: it reads less than twice the content.
				again := &cutReader{r: bytes.NewReader(data), left: 2 * len(data)}
				if _, err := New(d).Import(ctx, u.oid, again); err != nil {
					t.Fatal(err)
				}
				if tc.kept && again.read >= 2*len(data) {
					t.Errorf("the repeated import read %d bytes of %d: the kept xorbs were read again", again.read, len(data))
				}
				checkReadable(t, s, u.oid, data)
			})
		}
	})
}

// cutReader reads r, seeking as it does, and fails with err once it has
// read left bytes in all (or at the end of r, when left is 0).
type cutReader struct {
	r    *bytes.Reader
	left int
	read int
	err  error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.err != nil && c.left > 0 && c.read >= c.left {
		return 0, c.err
	}
	if c.left > 0 && len(p) > c.left-c.read {
		p = p[:c.left-c.read]
	}
	n, err := c.r.Read(p)
	c.read += n
	if err == io.EOF && c.err != nil && c.left == 0 {
		return n, c.err
	}
	return n, err
}

func (c *cutReader) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

// TestImportStreamsXorbs: an import holds a chunk of a xorb at a time, not
// the xorb (64 MiB at most), whatever the size of the content.
func TestImportStreamsXorbs(t *testing.T) {
	data := randomData(18, 48<<20)
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	s, _ := newStore(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := s.Import(context.Background(), oid, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	// Not even the garbage adds up to a xorb: the buffers are reused.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("importing %d MiB allocated %d MiB", len(data)>>20, alloc>>20)
	}
	checkReadable(t, s, oid, data)
}

// TestSweepKeepsImportedFiles: an imported file is kept, with its xorbs,
// while its oid is live, and goes with them when it is not.
func TestSweepKeepsImportedFiles(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { importXorbSize = n }(importXorbSize)
	importXorbSize = 1 << 20
	s, d := newStore(t)
	data := randomData(16, 2<<20)
	u := prepare(data)
	f, err := s.Import(ctx, u.oid, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	st, err := s.Sweep(ctx, map[string]bool{u.oid: true}, nil, later)
	if err != nil || st.Xorbs != 0 || st.Files != 0 || st.SHA256Entries != 0 {
		t.Fatalf("sweep with the oid live removed %+v (%v)", st, err)
	}
	checkReadable(t, s, u.oid, data)
	st, err = s.Sweep(ctx, map[string]bool{}, nil, later)
	if err != nil || st.Xorbs != len(f.Terms) || st.Files != 1 || st.SHA256Entries != 1 {
		t.Fatalf("sweep with the oid dead = %+v, %v; want %d xorbs, the file and its entry", st, err, len(f.Terms))
	}
	for _, term := range f.Terms {
		if _, _, err := d.Open(ctx, xorbKey(term.Xorb)); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("xorb %s of a dead imported file is still stored: %v", term.Xorb, err)
		}
	}
}

// BenchmarkImport converts 32 MiB of incompressible content (chunking,
// hashing, LZ4 attempts, xorb and file records on local disk).
func BenchmarkImport(b *testing.B) {
	data := randomData(17, 32<<20)
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d, err := fs.New(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := New(d).Import(context.Background(), oid, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
