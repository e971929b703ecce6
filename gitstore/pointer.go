package gitstore

import (
	"io"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/havenhub/haven/lfs"
)

// pointers caches, by blob id, whether a blob is an LFS pointer. Blobs are
// content-addressed and never change, so one cache serves every repository.
// A blob that is not a pointer is cached as the zero Pointer.
var pointers, _ = lru.New[string, lfs.Pointer](200_000)

// Pointer reports whether a file entry is a Git LFS pointer, and which object
// it names. Only small blobs are read: a pointer is at most 1 KiB.
func (r *Repo) Pointer(e Entry) (lfs.Pointer, bool) {
	if e.Type != TypeFile || e.Size > lfs.MaxPointerSize || e.Size < 40 {
		return lfs.Pointer{}, false
	}
	if p, ok := pointers.Get(e.OID); ok {
		return p, p.OID != ""
	}
	rc, _, err := r.Blob(e.OID)
	if err != nil {
		return lfs.Pointer{}, false
	}
	data, err := io.ReadAll(io.LimitReader(rc, lfs.MaxPointerSize+1))
	rc.Close()
	if err != nil {
		return lfs.Pointer{}, false
	}
	p, ok := lfs.Parse(data)
	if !ok {
		p = lfs.Pointer{}
	}
	pointers.Add(e.OID, p)
	return p, ok
}
