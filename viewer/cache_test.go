package viewer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/havenhub/haven/blob/blobstore"
)

type readSeekNopCloser struct{ *bytes.Reader }

func (readSeekNopCloser) Close() error { return nil }

// TestCacheReadsXetObjects: an object that the blob store holds only as
// Xet chunks (uploaded through Xet) is fetched through the Xet opener.
func TestCacheReadsXetObjects(t *testing.T) {
	ctx := context.Background()
	blobs, err := blobstore.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("parquet bytes uploaded through xet")
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	c, err := NewCache(t.TempDir(), blobs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Path(ctx, oid); err == nil {
		t.Fatal("an object stored nowhere was found")
	}
	c.Xet = func(_ context.Context, o string) (io.ReadSeekCloser, int64, error) {
		if o != oid {
			t.Errorf("asked Xet for %s", o)
		}
		return readSeekNopCloser{bytes.NewReader(data)}, int64(len(data)), nil
	}
	p, err := c.Path(ctx, oid)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Errorf("cached %q", got)
	}
}
