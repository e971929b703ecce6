package meta_test

import (
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestBucketsSQLite(t *testing.T)   { testBuckets(t, openSQLite(t)) }
func TestBucketsPostgres(t *testing.T) { testBuckets(t, postgresOpener(t)(t)) }

func testBuckets(t *testing.T, s *meta.Store) {
	b := &haven.Bucket{Namespace: "alice", Name: "Data", Private: true}
	mustNil(t, s.CreateBucket(ctx, b))
	wantCode(t, s.CreateBucket(ctx, &haven.Bucket{Namespace: "ALICE", Name: "data"}), haven.EConflict)
	mustNil(t, s.CreateBucket(ctx, &haven.Bucket{Namespace: "alice", Name: "open"}))

	got, err := s.BucketByName(ctx, "alice", "data")
	mustNil(t, err)
	if got.ID != b.ID || got.Name != "Data" || !got.Private {
		t.Fatalf("BucketByName = %+v", got)
	}
	_, err = s.BucketByName(ctx, "alice", "nope")
	wantCode(t, err, haven.ERepoNotFound)

	mtime := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	put := func(p string, size int64) *haven.BucketFile {
		return &haven.BucketFile{Path: p, XetHash: strings.Repeat("a", 63) + string(rune('0'+size%10)), Size: size, MTime: mtime}
	}
	mustNil(t, s.ChangeBucketFiles(ctx, b.ID, meta.BucketChange{Put: []*haven.BucketFile{
		put("a/x.bin", 10), put("a/y/z.txt", 3), put("ab.txt", 4), put("B.txt", 5), put("é/f", 1),
	}}))
	mustNil(t, s.ChangeBucketFiles(ctx, b.ID, meta.BucketChange{Put: []*haven.BucketFile{put("a/x.bin", 7)}, Delete: []string{"B.txt", "missing"}}))
	got, err = s.BucketByID(ctx, b.ID)
	mustNil(t, err)
	if got.Files != 4 || got.Size != 7+3+4+1 {
		t.Errorf("totals = %d files, %d bytes", got.Files, got.Size)
	}

	tests := []struct {
		prefix, after string
		limit         int
		want          string
	}{
		{"", "", 0, "a/x.bin a/y/z.txt ab.txt é/f"},
		{"a", "", 0, "a/x.bin a/y/z.txt ab.txt"},
		{"a/", "", 0, "a/x.bin a/y/z.txt"},
		{"A/", "", 0, ""},
		{"é/", "", 0, "é/f"},
		{"", "a/x.bin", 2, "a/y/z.txt ab.txt"},
	}
	for _, tt := range tests {
		fs, err := s.BucketFiles(ctx, b.ID, tt.prefix, tt.after, tt.limit)
		mustNil(t, err)
		var paths []string
		for _, f := range fs {
			paths = append(paths, f.Path)
		}
		if strings.Join(paths, " ") != tt.want {
			t.Errorf("BucketFiles(%q, %q, %d) = %v, want %s", tt.prefix, tt.after, tt.limit, paths, tt.want)
		}
	}
	at, err := s.BucketFilesAt(ctx, b.ID, []string{"ab.txt", "a/x.bin", "nope"})
	mustNil(t, err)
	if len(at) != 2 || at[0].Path != "a/x.bin" || at[0].Size != 7 || !at[0].MTime.Equal(mtime) || at[0].UploadedAt.IsZero() {
		t.Errorf("BucketFilesAt = %+v", at)
	}
	if ok, err := s.BucketHasHash(ctx, b.ID, strings.Repeat("a", 63)+"3"); err != nil || !ok {
		t.Errorf("BucketHasHash = %v, %v", ok, err)
	}
	hashes, err := s.BucketXetHashes(ctx)
	mustNil(t, err)
	if len(hashes) != 4 {
		t.Errorf("BucketXetHashes = %v", hashes)
	}

	list, err := s.ListBuckets(ctx, meta.BucketFilter{Namespace: "Alice"})
	mustNil(t, err)
	if len(list) != 1 || list[0].Name != "open" {
		t.Errorf("public buckets = %v", list)
	}
	list, err = s.ListBuckets(ctx, meta.BucketFilter{Namespace: "alice", WithPrivate: true, Search: "AT"})
	mustNil(t, err)
	if len(list) != 1 || list[0].Name != "Data" {
		t.Errorf("search = %v", list)
	}

	mustNil(t, s.SetBucketPrivate(ctx, b.ID, false))
	wantCode(t, s.MoveBucket(ctx, b.ID, "alice", "OPEN"), haven.EConflict)
	mustNil(t, s.MoveBucket(ctx, b.ID, "bob", "moved"))
	got, err = s.BucketByName(ctx, "bob", "moved")
	mustNil(t, err)
	if got.Private || got.Files != 4 {
		t.Errorf("moved = %+v", got)
	}
	mustNil(t, s.DeleteBucket(ctx, b.ID))
	wantCode(t, s.DeleteBucket(ctx, b.ID), haven.ERepoNotFound)
	wantCode(t, s.ChangeBucketFiles(ctx, b.ID, meta.BucketChange{Delete: []string{"x"}}), haven.ERepoNotFound)
	if fs, _ := s.BucketFiles(ctx, b.ID, "", "", 0); len(fs) != 0 {
		t.Errorf("files of a deleted bucket: %v", fs)
	}
}
