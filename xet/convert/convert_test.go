package convert_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet/casstore"
	"github.com/havenhub/haven/xet/convert"
)

func lfsObject(t *testing.T, st *storetest.Stores, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	if err := st.Blobs.Put(context.Background(), blob.LFSKey(oid), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	return oid
}

func randomData(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// waitJob waits until the job reaches a final state and returns it.
func waitJob(t *testing.T, m *meta.Store, id int64) *meta.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := m.JobByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == meta.JobDone || j.State == meta.JobFailed {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s: %s", id, j.State, j.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConversionJobs queues conversions through the durable queue: an LFS
// object becomes a Xet file with the same content, a repeated conversion
// and one of an object that is gone are done without effect, and an object
// whose content does not hash to its oid fails for good without a file.
func TestConversionJobs(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	svc := convert.New(convert.Config{Meta: st.Meta, Blobs: st.Blobs})
	svc.Start()
	t.Cleanup(svc.Close)
	cas := casstore.New(st.Blobs)

	data := randomData(1, 3<<20+17)
	oid := lfsObject(t, st, data)
	corrupt := lfsObject(t, st, randomData(2, 100<<10))
	// Overwrite it with other bytes under the same oid.
	if err := st.Blobs.Put(ctx, blob.LFSKey(corrupt), bytes.NewReader(randomData(3, 100<<10)), 100<<10); err != nil {
		t.Fatal(err)
	}
	gone := hex.EncodeToString(make([]byte, 32))

	tests := []struct {
		name  string
		oid   string
		state string
		file  bool
	}{
		{"object", oid, meta.JobDone, true},
		{"again", oid, meta.JobDone, true},
		{"gone", gone, meta.JobDone, false},
		{"corrupt", corrupt, meta.JobFailed, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := svc.Enqueue(ctx, tc.oid, 1); err != nil {
				t.Fatal(err)
			}
			// Jobs are numbered from 1 in the fresh queue.
			if got := waitJob(t, st.Meta, int64(i+1)); got.State != tc.state {
				t.Fatalf("job %s (%s), want %s", got.State, got.LastError, tc.state)
			}
			f, err := cas.FileBySHA256(ctx, tc.oid)
			if (err == nil) != tc.file {
				t.Fatalf("file after conversion: %v, %v", f, err)
			}
			if !tc.file {
				return
			}
			r, _, err := cas.Open(ctx, f.Hash)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := io.ReadAll(r); !bytes.Equal(got, data) {
				t.Error("the converted file does not reconstruct to the object")
			}
		})
	}
	if err := svc.Enqueue(ctx, "not-an-oid", 1); err == nil {
		t.Error("an invalid oid was queued")
	}
}

// TestBackfill queues the LFS objects that are not Xet files yet, and only
// those; the worker then converts them.
func TestBackfill(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	svc := convert.New(convert.Config{Meta: st.Meta, Blobs: st.Blobs})
	t.Cleanup(svc.Close)
	cas := casstore.New(st.Blobs)
	done := lfsObject(t, st, randomData(4, 50<<10))
	if _, err := svc.Backfill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.Convert(ctx, done); err != nil {
		t.Fatal(err)
	}
	todo := []string{lfsObject(t, st, randomData(5, 60<<10)), lfsObject(t, st, randomData(6, 70<<10))}
	// Not LFS objects: other keys under lfs/ and other prefixes.
	for _, key := range []string{"lfs/tmp/part", "xet/files/ab/" + todo[0]} {
		if err := st.Blobs.Put(ctx, key, bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
	}
	n, err := svc.Backfill(ctx)
	if err != nil || n != 2 {
		t.Fatalf("backfill queued %d (%v), want the 2 objects not converted", n, err)
	}
	svc.Start()
	// Jobs 1 (the first backfill), 2 and 3.
	for id := int64(1); id <= 3; id++ {
		if j := waitJob(t, st.Meta, id); j.State != meta.JobDone {
			t.Fatalf("job %d: %s (%s)", id, j.State, j.LastError)
		}
	}
	for _, oid := range todo {
		if _, err := cas.FileBySHA256(ctx, oid); err != nil {
			t.Errorf("%s not converted: %v", oid, err)
		}
	}
}
