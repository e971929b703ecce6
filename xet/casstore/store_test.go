package casstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/fs"
	"github.com/havenhub/haven/xet"
)

func newStore(t *testing.T) (*Store, blob.Driver) {
	t.Helper()
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(d), d
}

func randomData(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// upload is one file split into chunks, packed into one xorb, and the
// shard that registers it, as a client prepares them.
type upload struct {
	data  []byte
	xorb  []byte
	xh    xet.Hash
	shard *xet.Shard
	oid   string
}

func prepare(data []byte) *upload {
	var chunks [][]byte
	rest := data
	for _, n := range xet.Chunks(data) {
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	u := &upload{data: data}
	u.xorb, u.xh = xet.EncodeXorb(chunks)
	xi := xet.XorbInfo{Hash: u.xh}
	var refs []xet.ChunkRef
	var hashes []xet.Hash
	for _, c := range chunks {
		h := xet.ChunkHash(c)
		xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: h, Offset: xi.BytesInXorb, Size: uint32(len(c))})
		xi.BytesInXorb += uint32(len(c))
		refs = append(refs, xet.ChunkRef{Hash: h, Size: uint64(len(c))})
		hashes = append(hashes, h)
	}
	sum := sha256.Sum256(data)
	u.oid = hex.EncodeToString(sum[:])
	sh, _ := xet.ParseHash(u.oid)
	u.shard = &xet.Shard{
		Files: []xet.FileInfo{{
			Hash:      xet.FileHash(refs),
			Terms:     []xet.FileTerm{{Xorb: u.xh, Size: xi.BytesInXorb, End: uint32(len(chunks)), Verification: xet.VerificationHash(hashes)}},
			Verified:  true,
			SHA256:    sh,
			HasSHA256: true,
		}},
		Xorbs: []xet.XorbInfo{xi},
	}
	return u
}

func (u *upload) store(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.PutXorb(ctx, u.xh, bytes.NewReader(u.xorb)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutShard(ctx, bytes.NewReader(u.shard.MarshalUpload())); err != nil {
		t.Fatal(err)
	}
}

func TestUploadAndReconstruct(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u := prepare(randomData(1, 700<<10))
	u.store(t, s)

	f, err := s.FileBySHA256(ctx, u.oid)
	if err != nil || f.Size != int64(len(u.data)) || f.SHA256 != u.oid {
		t.Fatalf("FileBySHA256 = %+v, %v", f, err)
	}
	r, size, err := s.OpenSHA256(ctx, u.oid)
	if err != nil || size != int64(len(u.data)) {
		t.Fatal(size, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, u.data) {
		t.Fatalf("reconstructed content differs (%v)", err)
	}
	// Seek into the middle, across chunk boundaries.
	for _, off := range []int64{1, 8191, 200000, int64(len(u.data)) - 5} {
		r.Seek(off, io.SeekStart)
		buf := make([]byte, 10)
		n, _ := io.ReadFull(r, buf)
		if !bytes.Equal(buf[:n], u.data[off:off+int64(n)]) {
			t.Errorf("read at %d returned other bytes", off)
		}
	}

	// A plan for a range covers it with whole chunks and says what to skip.
	p, err := s.Reconstruct(ctx, f, 300000, 400000)
	if err != nil || len(p.Terms) != 1 {
		t.Fatalf("Reconstruct = %+v, %v", p, err)
	}
	decoded, err := xet.DecodeChunks(nil, u.xorb[p.Terms[0].ByteStart:p.Terms[0].ByteEnd])
	if err != nil || !bytes.Equal(decoded[p.Skip:p.Skip+100000], u.data[300000:400000]) {
		t.Fatalf("the planned byte range does not hold the requested bytes (%v)", err)
	}
	if int(p.Terms[0].Size) != len(decoded) {
		t.Errorf("term size %d, decoded %d", p.Terms[0].Size, len(decoded))
	}
}

func TestDedupShardAnswersKnownChunks(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u := prepare(randomData(2, 300<<10))
	u.store(t, s)
	first := u.shard.Xorbs[0].Chunks[0].Hash
	data, ok, err := s.DedupShard(ctx, first)
	if err != nil || !ok {
		t.Fatalf("DedupShard(first chunk) = %v, %v", ok, err)
	}
	sh, err := xet.ParseShard(data)
	if err != nil || len(sh.Xorbs) != 1 || sh.Xorbs[0].Hash != u.xh {
		t.Fatalf("dedup shard: %v", err)
	}
	// Chunk hashes are keyed: the raw hash is not in the answer, the keyed one is.
	key := xet.Hash(data[len(data)-200+72 : len(data)-200+104])
	if sh.Xorbs[0].Chunks[0].Hash == first || sh.Xorbs[0].Chunks[0].Hash != first.Keyed(key) {
		t.Error("dedup shard must list chunk hashes keyed with its HMAC key")
	}
	var unknown xet.Hash
	unknown[1] = 1
	if _, ok, err := s.DedupShard(ctx, unknown); ok || err != nil {
		t.Errorf("DedupShard(unknown) = %v, %v", ok, err)
	}
}

func TestShardVerification(t *testing.T) {
	ctx := context.Background()
	u := prepare(randomData(3, 200<<10))
	mutate := func(f func(sh *xet.Shard)) []byte {
		sh := *u.shard
		sh.Files = append([]xet.FileInfo(nil), u.shard.Files...)
		sh.Files[0].Terms = append([]xet.FileTerm(nil), u.shard.Files[0].Terms...)
		f(&sh)
		return sh.MarshalUpload()
	}
	tests := []struct {
		name  string
		shard []byte
	}{
		{"wrong file hash", mutate(func(sh *xet.Shard) { sh.Files[0].Hash[0] ^= 1 })},
		{"wrong verification hash", mutate(func(sh *xet.Shard) { sh.Files[0].Terms[0].Verification[5] ^= 1 })},
		{"no verification entries", mutate(func(sh *xet.Shard) { sh.Files[0].Verified = false })},
		{"range past the xorb", mutate(func(sh *xet.Shard) { sh.Files[0].Terms[0].End++ })},
		{"wrong term size", mutate(func(sh *xet.Shard) { sh.Files[0].Terms[0].Size-- })},
		{"wrong SHA-256", mutate(func(sh *xet.Shard) { sh.Files[0].SHA256[0] ^= 1 })},
		{"unknown xorb", mutate(func(sh *xet.Shard) { sh.Files[0].Terms[0].Xorb[0] ^= 1 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, d := newStore(t)
			if _, err := s.PutXorb(ctx, u.xh, bytes.NewReader(u.xorb)); err != nil {
				t.Fatal(err)
			}
			_, err := s.PutShard(ctx, bytes.NewReader(tc.shard))
			if !haven.IsCode(err, haven.EInvalid) {
				t.Fatalf("PutShard = %v, want an invalid-request error", err)
			}
			for _, prefix := range []string{PrefixFiles, PrefixSHA256} {
				d.List(ctx, prefix, func(i blob.Info) error {
					t.Errorf("refused shard left %s", i.Key)
					return nil
				})
			}
		})
	}
}

func TestSweep(t *testing.T) {
	s, d := newStore(t)
	ctx := context.Background()
	keep, drop, bucket := prepare(randomData(4, 300<<10)), prepare(randomData(5, 300<<10)), prepare(randomData(6, 300<<10))
	keep.store(t, s)
	drop.store(t, s)
	bucket.store(t, s)
	// A file kept by its Xet hash alone (a bucket's) stays with its xorb.
	liveFiles := map[xet.Hash]bool{bucket.shard.Files[0].Hash: true}

	// Everything is younger than the cutoff: nothing goes.
	st, err := s.Sweep(ctx, map[string]bool{keep.oid: true}, liveFiles, time.Now().Add(-time.Hour))
	if err != nil || st.Xorbs != 0 || st.Files != 0 {
		t.Fatalf("sweep within the grace period removed %+v (%v)", st, err)
	}
	st, err = s.Sweep(ctx, map[string]bool{keep.oid: true}, liveFiles, time.Now().Add(time.Second))
	if err != nil || st.Xorbs != 1 || st.Files != 1 || st.SHA256Entries != 2 {
		t.Fatalf("sweep = %+v, %v; want one xorb, file and index entry", st, err)
	}
	if _, err := s.FileBySHA256(ctx, drop.oid); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("dropped file still resolves: %v", err)
	}
	if _, _, err := d.Open(ctx, xorbKey(drop.xh)); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("dropped xorb still stored: %v", err)
	}
	r, _, err := s.OpenSHA256(ctx, keep.oid)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); !bytes.Equal(got, keep.data) {
		t.Error("kept file no longer reconstructs")
	}
	if _, err := s.File(ctx, bucket.shard.Files[0].Hash); err != nil {
		t.Errorf("a live file kept by hash was removed: %v", err)
	}
	if _, _, err := d.Open(ctx, xorbKey(bucket.xh)); err != nil {
		t.Errorf("the xorb of a live file was removed: %v", err)
	}
}
