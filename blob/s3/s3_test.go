package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/blobtest"
	"github.com/havenhub/haven/blob/s3"
)

// testConfig reads HAVEN_TEST_S3_URL and gives each caller its own prefix,
// so that runs and subtests never see each other's objects.
func testConfig(t testing.TB) s3.Config {
	raw := os.Getenv("HAVEN_TEST_S3_URL")
	if raw == "" {
		if os.Getenv("HAVEN_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("HAVEN_TEST_S3_URL is not set (start a server with scripts/start-s3.sh)")
		}
		t.Skip("HAVEN_TEST_S3_URL is not set; start a server with scripts/start-s3.sh")
	}
	cfg, err := s3.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prefix = path.Join(cfg.Prefix, "test-"+rand.Text()[:12])
	return cfg
}

// newDriver returns a driver on a fresh prefix and removes what the test
// left there when it ends.
func newDriver(t testing.TB) *s3.Driver {
	return newDriverWith(t, testConfig(t))
}

func newDriverWith(t testing.TB, cfg s3.Config) *s3.Driver {
	d, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		d.List(ctx, "", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
		for _, k := range keys {
			d.Delete(ctx, k)
		}
	})
	return d
}

func TestConformance(t *testing.T) {
	testConfig(t) // skip or fail once, not in every subtest
	blobtest.Run(t, func(t *testing.T) blob.Driver { return newDriver(t) })
}

func rawClient(t *testing.T, cfg s3.Config) *minio.Client {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A failed multipart Put must abort its upload, not leave parts behind.
func TestFailedPutAbortsUpload(t *testing.T) {
	cfg := testConfig(t)
	d := newDriverWith(t, cfg)
	boom := errors.New("boom")
	r := io.MultiReader(io.LimitReader(zeros{}, 3*s3.DefaultPartSize/2), errReader{boom})
	if err := d.Put(context.Background(), "big", r, -1); !errors.Is(err, boom) {
		t.Fatalf("Put = %v; want the reader's error", err)
	}
	noMultipartUploads(t, cfg)
}

// noMultipartUploads checks that no multipart upload is left under the
// test's prefix after a failed Put.
func noMultipartUploads(t *testing.T, cfg s3.Config) {
	t.Helper()
	core := minio.Core{Client: rawClient(t, cfg)}
	res, err := core.ListMultipartUploads(context.Background(), cfg.Bucket, cfg.Prefix+"/", "", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after a failed Put: %+v", len(res.Uploads), res.Uploads)
	}
}

// A Put that fails while several parts are in flight, whatever stops it,
// leaves no object under its key, keeps the object that was there, and leaves
// no multipart upload behind.
func TestFailedConcurrentPutLeavesNothing(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartSize = 5 << 20
	cfg.Concurrency = 3
	d := newDriverWith(t, cfg)
	const size = 6*(5<<20) + 123 // seven parts
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	boom := errors.New("boom")
	tests := []struct {
		name string
		put  func(ctx context.Context, cancel context.CancelFunc, key string) error
		want func(error) bool
	}{
		{"reader error after five parts", func(ctx context.Context, _ context.CancelFunc, key string) error {
			r := io.MultiReader(bytes.NewReader(data[:5*(5<<20)+7]), errReader{boom})
			return d.Put(ctx, key, r, size)
		}, func(err error) bool { return errors.Is(err, boom) }},
		{"wrong SHA-256, noticed at the end", func(ctx context.Context, _ context.CancelFunc, key string) error {
			wrong := sha256.Sum256(data[1:])
			return blob.PutVerified(ctx, d, key, bytes.NewReader(data), hex.EncodeToString(wrong[:]), size)
		}, func(err error) bool {
			var he *haven.Error
			return errors.As(err, &he) && he.Code == haven.EInvalid
		}},
		{"short body", func(ctx context.Context, _ context.CancelFunc, key string) error {
			return blob.PutVerified(ctx, d, key, bytes.NewReader(data[:size-1]), hex.EncodeToString(sum[:]), size)
		}, func(err error) bool {
			var he *haven.Error
			return errors.As(err, &he) && he.Code == haven.EInvalid
		}},
		{"cancelled after three parts", func(ctx context.Context, cancel context.CancelFunc, key string) error {
			r := io.MultiReader(bytes.NewReader(data[:3*(5<<20)]), cancelReader{cancel}, bytes.NewReader(data[3*(5<<20):]))
			return d.Put(ctx, key, r, size)
		}, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "k-" + strings.ReplaceAll(tt.name, " ", "-")
			key = strings.ReplaceAll(key, ",", "")
			old := []byte("the object before")
			if err := d.Put(context.Background(), key, bytes.NewReader(old), int64(len(old))); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := tt.put(ctx, cancel, key); !tt.want(err) {
				t.Fatalf("Put = %v; want the failure", err)
			}
			if got := readAll(t, d, key); !bytes.Equal(got, old) {
				t.Errorf("after the failed Put %s holds %d bytes; want the earlier object", key, len(got))
			}
			noMultipartUploads(t, cfg)
		})
	}
}

// Puts that share a pool of fewer buffers than they would use each all
// finish, with their own bytes in order.
func TestConcurrentPutsShareBuffers(t *testing.T) {
	cfg := testConfig(t)
	cfg.PartSize = 5 << 20
	cfg.Concurrency = 4
	cfg.MaxBuffers = 2
	d := newDriverWith(t, cfg)
	const puts = 3
	objects := make([][]byte, puts)
	for i := range objects {
		objects[i] = make([]byte, 4*(5<<20)+1000*i+1)
		rand.Read(objects[i])
	}
	errs := make(chan error, puts)
	for i, data := range objects {
		go func() {
			sum := sha256.Sum256(data)
			errs <- blob.PutVerified(context.Background(), d, fmt.Sprintf("o%d", i), bytes.NewReader(data), hex.EncodeToString(sum[:]), int64(len(data)))
		}()
	}
	for range objects {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, data := range objects {
		if got := readAll(t, d, fmt.Sprintf("o%d", i)); !bytes.Equal(got, data) {
			t.Errorf("o%d: read back %d bytes that differ from the %d stored", i, len(got), len(data))
		}
	}
}

func readAll(t *testing.T, d blob.Driver, key string) []byte {
	t.Helper()
	r, _, err := d.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Keys live under the configured prefix, and objects outside it are not listed.
func TestPrefix(t *testing.T) {
	cfg := testConfig(t)
	d := newDriverWith(t, cfg)
	ctx := context.Background()
	if err := d.Put(ctx, "a/b", bytes.NewReader([]byte("x")), 1); err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, cfg)
	if _, err := c.StatObject(ctx, cfg.Bucket, cfg.Prefix+"/a/b", minio.StatObjectOptions{}); err != nil {
		t.Errorf("object not stored under the prefix: %v", err)
	}
	// A sibling whose name extends the prefix is not part of this store.
	other := cfg.Prefix + "x/a/c"
	if _, err := c.PutObject(ctx, cfg.Bucket, other, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	defer c.RemoveObject(ctx, cfg.Bucket, other, minio.RemoveObjectOptions{})
	var keys []string
	if err := d.List(ctx, "", func(i blob.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "a/b" {
		t.Errorf("List = %q; want [a/b]", keys)
	}
}

func TestNewCreatesBucket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bucket = "haven-new-" + hex.EncodeToString([]byte(rand.Text()[:6]))
	cfg.Bucket = cfg.Bucket[:min(len(cfg.Bucket), 40)]
	d, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New with a missing bucket: %v", err)
	}
	c := rawClient(t, cfg)
	defer c.RemoveBucket(context.Background(), cfg.Bucket)
	ok, err := c.BucketExists(context.Background(), cfg.Bucket)
	if err != nil || !ok {
		t.Fatalf("bucket %s not created: %v", cfg.Bucket, err)
	}
	if err := d.Put(context.Background(), "k", bytes.NewReader([]byte("v")), 1); err != nil {
		t.Fatal(err)
	}
	d.Delete(context.Background(), "k")
	// A second driver on the same, now existing, bucket works too.
	if _, err := s3.New(context.Background(), cfg); err != nil {
		t.Errorf("New on an existing bucket: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// cancelReader cancels a context when it is first read, then reads on.
type cancelReader struct{ cancel context.CancelFunc }

func (c cancelReader) Read([]byte) (int, error) { c.cancel(); return 0, io.EOF }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func BenchmarkPut(b *testing.B)      { blobtest.BenchmarkPut(b, newDriver(b)) }
func BenchmarkOpenRead(b *testing.B) { blobtest.BenchmarkOpenRead(b, newDriver(b)) }
