// Package blob stores large opaque objects (LFS objects, Xet xorbs and
// shards) by key behind one small driver interface, so that the hub can keep
// them on local disk or in an S3-compatible object store.
//
// Backends live in subpackages (blob/fs, blob/s3); blob/blobstore opens one
// from a URL, and blob/blobtest is the conformance suite every backend passes.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotFound is returned, possibly wrapped, by Open, Stat and Delete for a
// key that holds no object.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned, wrapped with the offending key, for a key or
// list prefix that ValidKey or ValidPrefix refuses.
var ErrInvalidKey = errors.New("blob: invalid key")

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Driver stores objects by key. Keys are slash-separated relative paths of
// [A-Za-z0-9._-] segments; see ValidKey for the exact rule.
type Driver interface {
	// Put stores the bytes of r under key. The object becomes visible
	// (atomically, all or nothing) only if r reaches io.EOF without error; if
	// r returns any error, or ctx is cancelled, or the process dies midway,
	// nothing is visible under key and any earlier object under key is
	// untouched. size is the expected length or -1 if unknown; when it is
	// known and r yields a different number of bytes, Put fails.
	// Callers use this to verify content while it streams: a reader that
	// returns an error instead of io.EOF aborts.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open returns the object for reading with seeking (for HTTP Range). The
	// fs backend returns a *os.File (so that net/http can use sendfile); the
	// s3 backend a reader that issues ranged GETs on demand.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
	// Stat describes the object under key.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object under key.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix (any
	// order); an error from fn stops the walk and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
}

// Redirector is implemented by drivers that can hand out a time-limited URL
// for a direct download (S3 presign). When filename is not empty the download
// is offered as an attachment with that name.
type Redirector interface {
	RedirectURL(ctx context.Context, key string, ttl time.Duration, filename string) (string, error)
}

// MaxKeyLength bounds a key, in bytes; it is S3's limit for object names.
const MaxKeyLength = 1024

// maxSegmentLength bounds one segment, so that every key is a valid path on
// common local file systems.
const maxSegmentLength = 255

// ValidKey reports whether key is a usable object key: at most MaxKeyLength
// bytes of slash-separated segments, each 1–255 characters of letters,
// digits, '.', '_' and '-', not starting with '.' (which rules out "." and
// ".." and leaves dot-names free for backend bookkeeping). No leading,
// trailing or doubled slash.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLength {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if !validSegment(seg) {
			return false
		}
	}
	return true
}

// ValidPrefix reports whether prefix can start a valid key: empty, or a
// valid key, or a valid key followed by "/" — where the last segment may be
// any non-empty start of a valid segment.
func ValidPrefix(prefix string) bool {
	if prefix == "" {
		return true
	}
	return ValidKey(strings.TrimSuffix(prefix, "/"))
}

func validSegment(seg string) bool {
	if seg == "" || len(seg) > maxSegmentLength || seg[0] == '.' {
		return false
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// CheckKey returns nil for a valid key and an error wrapping ErrInvalidKey
// otherwise. Backends call it first in every method that takes a key.
func CheckKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return nil
}

// CheckPrefix is CheckKey for a List prefix.
func CheckPrefix(prefix string) error {
	if !ValidPrefix(prefix) {
		return fmt.Errorf("%w: prefix %q", ErrInvalidKey, prefix)
	}
	return nil
}
