package haven

import (
	"strings"
	"time"
)

// Bucket is a storage bucket: a flat set of files, each named by its path
// and stored in the Xet CAS by its Xet hash, without git or history. A
// write replaces a path's file at once; a folder exists while a file lies
// under it.
type Bucket struct {
	ID        int64
	Namespace string // the owning user or organisation, as spelled at creation
	Name      string
	Private   bool
	CreatedAt time.Time
	UpdatedAt time.Time // last change of its files or settings
	Size      int64     // total bytes of its files
	Files     int64     // number of files
}

// FullName is "namespace/name", the bucket's id in the API.
func (b *Bucket) FullName() string { return b.Namespace + "/" + b.Name }

// BucketFile is a file of a bucket.
type BucketFile struct {
	Path       string
	XetHash    string // 64 hex digits, as the Xet protocol writes hashes
	Size       int64
	MTime      time.Time // the file's last write, as the uploader reported it
	UploadedAt time.Time // when the bucket got this content
}

// MaxBucketPath bounds the length of a path in a bucket, in bytes.
const MaxBucketPath = 1024

// ValidBucketPath reports whether p may name a file of a bucket: a
// relative slash-separated path without empty, "." or ".." segments,
// backslashes or control characters.
func ValidBucketPath(p string) bool {
	if p == "" || len(p) > MaxBucketPath || strings.ContainsRune(p, '\\') {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}
