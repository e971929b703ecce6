package casstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet"
)

// clockDriver stamps objects with a test clock instead of the wall clock and
// calls hooks around writes and deletions, so that a test can run a sweep at
// an exact point of an upload, or an upload at an exact point of a sweep.
type clockDriver struct {
	blob.Driver
	mu          sync.Mutex
	now         time.Time
	times       map[string]time.Time
	beforePut   func(key string)
	afterDelete func(key string)
}

func (d *clockDriver) advance(dt time.Duration) {
	d.mu.Lock()
	d.now = d.now.Add(dt)
	d.mu.Unlock()
}

func (d *clockDriver) stamp(i blob.Info) blob.Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	i.ModTime = d.times[i.Key]
	return i
}

func (d *clockDriver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f := d.beforePut; f != nil {
		f(key)
	}
	if err := d.Driver.Put(ctx, key, r, size); err != nil {
		return err
	}
	d.mu.Lock()
	// Each write gets its own instant, as a later write would on a real
	// clock.
	d.now = d.now.Add(time.Millisecond)
	d.times[key] = d.now
	d.mu.Unlock()
	return nil
}

func (d *clockDriver) Delete(ctx context.Context, key string) error {
	err := d.Driver.Delete(ctx, key)
	if f := d.afterDelete; f != nil && err == nil {
		f(key)
	}
	return err
}

func (d *clockDriver) Stat(ctx context.Context, key string) (blob.Info, error) {
	i, err := d.Driver.Stat(ctx, key)
	return d.stamp(i), err
}

func (d *clockDriver) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	r, i, err := d.Driver.Open(ctx, key)
	return r, d.stamp(i), err
}

func (d *clockDriver) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	return d.Driver.List(ctx, prefix, func(i blob.Info) error { return fn(d.stamp(i)) })
}

// reuse returns the shard of a new file made of the first n chunks of an
// uploaded one: it needs no new xorb, only u's.
func (u *upload) reuse(n int) (shard []byte, oid string) {
	xi := u.shard.Xorbs[0]
	var refs []xet.ChunkRef
	var hashes []xet.Hash
	var size uint32
	for _, c := range xi.Chunks[:n] {
		refs = append(refs, xet.ChunkRef{Hash: c.Hash, Size: uint64(c.Size)})
		hashes = append(hashes, c.Hash)
		size += c.Size
	}
	sum := sha256.Sum256(u.data[:size])
	oid = hex.EncodeToString(sum[:])
	sh, _ := xet.ParseHash(oid)
	return (&xet.Shard{
		Files: []xet.FileInfo{{
			Hash:      xet.FileHash(refs),
			Terms:     []xet.FileTerm{{Xorb: u.xh, Size: size, End: uint32(n), Verification: xet.VerificationHash(hashes)}},
			Verified:  true,
			SHA256:    sh,
			HasSHA256: true,
		}},
		Xorbs: []xet.XorbInfo{xi},
	}).MarshalUpload(), oid
}

// raceSetup stores one file, lets it age past the grace period unreferenced
// and prepares a second file that re-uses its xorb.
func raceSetup(t *testing.T) (*Store, *clockDriver, *upload, []byte, string, time.Time) {
	t.Helper()
	_, fsd := newStore(t)
	d := &clockDriver{Driver: fsd, now: time.Unix(1_000_000, 0), times: map[string]time.Time{}}
	s := New(d)
	old := prepare(randomData(11, 400<<10))
	old.store(t, s)
	d.advance(2 * time.Hour)
	shard, oid := old.reuse(2)
	return s, d, old, shard, oid, d.now.Add(-time.Hour)
}

func checkReadable(t *testing.T, s *Store, oid string, want []byte) {
	t.Helper()
	r, _, err := s.OpenSHA256(context.Background(), oid)
	if err != nil {
		t.Fatalf("open %s: %v", oid, err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file %s does not reconstruct (%v)", oid, err)
	}
}

// A sweep that runs after a shard was checked and before its file record is
// written must keep the old xorb the shard re-uses.
func TestSweepBetweenShardCheckAndRecord(t *testing.T) {
	s, d, old, shard, oid, cutoff := raceSetup(t)
	ctx := context.Background()
	var st SweepStats
	swept := false
	d.beforePut = func(key string) {
		if len(key) > len(PrefixFiles) && key[:len(PrefixFiles)] == PrefixFiles && !swept {
			swept = true
			var err error
			// A fresh store, as `haven gc` in another process would be.
			if st, err = New(d).Sweep(ctx, nil, nil, cutoff); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := s.PutShard(ctx, bytes.NewReader(shard)); err != nil {
		t.Fatal(err)
	}
	d.beforePut = nil
	if !swept {
		t.Fatal("the sweep did not run inside the upload")
	}
	// The old file and its index entry are garbage; the xorb is not.
	if st.Xorbs != 0 || st.SHA256Entries != 1 {
		t.Errorf("sweep removed %+v; want the old entry and no xorb", st)
	}
	checkReadable(t, s, oid, old.data[:old.shard.Xorbs[0].Chunks[0].Size+old.shard.Xorbs[0].Chunks[1].Size])

	// Once committed, the new file keeps the xorb for good.
	d.advance(3 * time.Hour)
	if _, err := New(d).Sweep(ctx, map[string]bool{oid: true}, nil, d.now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkReadable(t, New(d), oid, old.data[:old.shard.Xorbs[0].Chunks[0].Size+old.shard.Xorbs[0].Chunks[1].Size])
}

// A shard that arrives while the sweep is removing the xorb it re-uses is
// either refused (the xorb is gone) or keeps the xorb: never accepted with
// the xorb removed afterwards.
func TestShardDuringXorbRemoval(t *testing.T) {
	s, d, old, shard, oid, cutoff := raceSetup(t)
	ctx := context.Background()
	var putErr error
	ran := false
	d.afterDelete = func(key string) {
		if key == xorbMetaKey(old.xh) && !ran {
			ran = true
			_, putErr = s.PutShard(ctx, bytes.NewReader(shard))
		}
	}
	st, err := New(d).Sweep(ctx, nil, nil, cutoff)
	d.afterDelete = nil
	if err != nil || !ran {
		t.Fatalf("sweep = %v, upload ran: %v", err, ran)
	}
	if !haven.IsCode(putErr, haven.EInvalid) {
		t.Fatalf("shard checked while its xorb was absent: %v, want it refused", putErr)
	}
	// The shard passed the first checks (this store had the xorb's
	// metadata cached), recorded its reference and then found the xorb
	// gone; the sweep saw the reference and put the xorb back, so the
	// client's retry succeeds.
	if st.Xorbs != 0 {
		t.Errorf("sweep removed %d xorbs, want the referenced one put back", st.Xorbs)
	}
	if _, err := s.PutShard(ctx, bytes.NewReader(shard)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	checkReadable(t, s, oid, old.data[:old.shard.Xorbs[0].Chunks[0].Size+old.shard.Xorbs[0].Chunks[1].Size])
}

// Re-uploading a whole old file (its record exists) while a sweep removes
// that record and its SHA-256 entry leaves both in place.
func TestReuploadDuringFileRemoval(t *testing.T) {
	s, d, old, _, _, cutoff := raceSetup(t)
	ctx := context.Background()
	fh := old.shard.Files[0].Hash
	ran := false
	d.afterDelete = func(key string) {
		if key == sha256Key(old.oid) && !ran {
			ran = true
			if _, err := s.PutShard(ctx, bytes.NewReader(old.shard.MarshalUpload())); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := New(d).Sweep(ctx, nil, nil, cutoff); err != nil || !ran {
		t.Fatalf("sweep = %v, upload ran: %v", err, ran)
	}
	d.afterDelete = nil
	if _, err := d.Stat(ctx, fileKey(fh)); err != nil {
		t.Fatalf("file record: %v", err)
	}
	checkReadable(t, New(d), old.oid, old.data)
}

// Unreferenced data still goes once its references are old, and so do the
// references themselves.
func TestSweepRemovesOldReferences(t *testing.T) {
	s, d, old, shard, _, _ := raceSetup(t)
	ctx := context.Background()
	if _, err := s.PutShard(ctx, bytes.NewReader(shard)); err != nil {
		t.Fatal(err)
	}
	d.advance(2 * time.Hour)
	st, err := New(d).Sweep(ctx, nil, nil, d.now.Add(-time.Hour))
	if err != nil || st.Xorbs != 1 || st.Files != 2 {
		t.Fatalf("sweep = %+v, %v; want both files and the xorb removed", st, err)
	}
	if _, err := d.Stat(ctx, xorbKey(old.xh)); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("xorb data: %v", err)
	}
	d.List(ctx, PrefixRefs, func(i blob.Info) error {
		t.Errorf("reference %s outlived its object", i.Key)
		return nil
	})
}
