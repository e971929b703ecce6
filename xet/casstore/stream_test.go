package casstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/havenhub/haven"
	blobfs "github.com/havenhub/haven/blob/fs"
	"github.com/havenhub/haven/xet"
)

// newDirStore is newStore that also returns the folder of the blob store.
func newDirStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := blobfs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return New(d), dir
}

// files lists the regular files under dir, temporary ones included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	return out
}

// failingReader yields its bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestPutXorbRefusesBadUploadsAndStoresNothing(t *testing.T) {
	ctx := context.Background()
	u := prepare(randomData(7, 900<<10))
	x, err := xet.ParseXorb(u.xorb, u.xh)
	if err != nil {
		t.Fatal(err)
	}
	mid := x.Chunks[len(x.Chunks)/2]
	corrupt := bytes.Clone(u.xorb)
	corrupt[mid.Start+20] ^= 1
	badHeader := bytes.Clone(u.xorb)
	badHeader[mid.Start] = 7
	tests := []struct {
		name    string
		body    io.Reader
		invalid bool
	}{
		{"corrupt chunk", bytes.NewReader(corrupt), true},
		{"bad chunk header", bytes.NewReader(badHeader), true},
		{"truncated inside a chunk", bytes.NewReader(u.xorb[:mid.Start+100]), true},
		{"truncated at a chunk boundary", bytes.NewReader(u.xorb[:mid.Start]), true},
		{"truncated header", bytes.NewReader(u.xorb[:mid.Start+3]), true},
		{"empty", bytes.NewReader(nil), true},
		{"trailing garbage", bytes.NewReader(append(bytes.Clone(u.xorb), 1, 2, 3)), true},
		{"connection lost", &failingReader{bytes.NewReader(u.xorb[:mid.End]), io.ErrUnexpectedEOF}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newDirStore(t)
			_, err := s.PutXorb(ctx, u.xh, tc.body)
			if err == nil {
				t.Fatal("PutXorb accepted it")
			}
			if haven.IsCode(err, haven.EInvalid) != tc.invalid {
				t.Fatalf("PutXorb = %v; want invalid: %v", err, tc.invalid)
			}
			if left := files(t, dir); len(left) > 0 {
				t.Fatalf("refused xorb left %v", left)
			}
			if _, err := s.Xorb(ctx, u.xh); err == nil {
				t.Fatal("refused xorb is listed as present")
			}
			// The same xorb, uploaded whole, is then accepted.
			if ok, err := s.PutXorb(ctx, u.xh, bytes.NewReader(u.xorb)); err != nil || !ok {
				t.Fatalf("PutXorb after a refusal = %v, %v", ok, err)
			}
		})
	}
	t.Run("wrong hash", func(t *testing.T) {
		s, dir := newDirStore(t)
		other := u.xh
		other[0] ^= 1
		if _, err := s.PutXorb(ctx, other, bytes.NewReader(u.xorb)); !haven.IsCode(err, haven.EInvalid) {
			t.Fatalf("PutXorb = %v, want an invalid-request error", err)
		}
		if left := files(t, dir); len(left) > 0 {
			t.Fatalf("refused xorb left %v", left)
		}
	})
}

// TestPutXorbStreams stores a large xorb and checks that the store did not
// hold it in memory: what it allocates is a small fraction of its size.
func TestPutXorbStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("large xorb")
	}
	ctx := context.Background()
	rng := rand.NewChaCha8([32]byte{9})
	data := make([]byte, 48<<20)
	rng.Read(data)
	var chunks [][]byte
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 64<<10)
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	xorb, xh := xet.EncodeXorb(chunks)
	s, _ := newDirStore(t)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := s.PutXorb(ctx, xh, bytes.NewReader(xorb)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("PutXorb of a %d MiB xorb allocated %d MiB", len(xorb)>>20, got>>20)
	}
	r, _, err := s.OpenXorb(ctx, xh)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stored, _ := io.ReadAll(r)
	if !bytes.Equal(stored, xorb) {
		t.Fatal("stored xorb differs from the upload")
	}
}

// TestShardSHA256OverManyWindows checks the SHA-256 of a file larger than
// the verification window, spread over several xorbs: right, it registers;
// wrong, nothing is registered.
func TestShardSHA256OverManyWindows(t *testing.T) {
	ctx := context.Background()
	data := randomData(11, 7<<20)
	var xorbs []*upload
	var terms []xet.FileTerm
	var refs []xet.ChunkRef
	var infos []xet.XorbInfo
	for part := range slices.Chunk(data, 3<<20) {
		u := prepare(part)
		xorbs = append(xorbs, u)
		terms = append(terms, u.shard.Files[0].Terms...)
		infos = append(infos, u.shard.Xorbs...)
		for _, c := range u.shard.Xorbs[0].Chunks {
			refs = append(refs, xet.ChunkRef{Hash: c.Hash, Size: uint64(c.Size)})
		}
	}
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	shaHash, _ := xet.ParseHash(oid)
	shard := func(sha xet.Hash) []byte {
		sh := &xet.Shard{Xorbs: infos, Files: []xet.FileInfo{{
			Hash: xet.FileHash(refs), Terms: terms, Verified: true, SHA256: sha, HasSHA256: true,
		}}}
		return sh.MarshalUpload()
	}
	s, _ := newDirStore(t)
	for _, u := range xorbs {
		if _, err := s.PutXorb(ctx, u.xh, bytes.NewReader(u.xorb)); err != nil {
			t.Fatal(err)
		}
	}
	wrong := shaHash
	wrong[31] ^= 1
	if _, err := s.PutShard(ctx, bytes.NewReader(shard(wrong))); !haven.IsCode(err, haven.EInvalid) {
		t.Fatalf("PutShard with a wrong SHA-256 = %v, want an invalid-request error", err)
	}
	if _, err := s.FileBySHA256(ctx, wrong.String()); err == nil {
		t.Fatal("a refused shard registered its SHA-256")
	}
	if _, err := s.PutShard(ctx, bytes.NewReader(shard(shaHash))); err != nil {
		t.Fatal(err)
	}
	r, _, err := s.OpenSHA256(ctx, oid)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, data) {
		t.Fatal("reconstructed content differs")
	}
}
