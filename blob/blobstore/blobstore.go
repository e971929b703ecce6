// Package blobstore opens a blob backend from a URL, so that configuration
// can name a store with one string.
package blobstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/fs"
	"github.com/havenhub/haven/blob/s3"
)

// Open returns the driver that location names:
//
//   - "file:///abs/path" or a plain path: the fs backend rooted there;
//   - "s3://ACCESS:SECRET@host:port/bucket[/prefix]?secure=false&region=us-east-1":
//     the s3 backend (see s3.ParseURL); the bucket is created if missing.
func Open(ctx context.Context, location string) (blob.Driver, error) {
	scheme, _, hasScheme := strings.Cut(location, "://")
	if !hasScheme {
		if location == "" {
			return nil, fmt.Errorf("blobstore: empty location")
		}
		return fs.New(location)
	}
	switch scheme {
	case "file":
		u, err := url.Parse(location)
		if err != nil {
			return nil, fmt.Errorf("blobstore: %w", err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("blobstore: file URL %q names a host; want file:///absolute/path", location)
		}
		if u.Path == "" {
			return nil, fmt.Errorf("blobstore: file URL %q has no path", location)
		}
		return fs.New(u.Path)
	case "s3":
		cfg, err := s3.ParseURL(location)
		if err != nil {
			return nil, err
		}
		return s3.New(ctx, cfg)
	}
	return nil, fmt.Errorf("blobstore: unsupported scheme %q (want file:// or s3://)", scheme)
}
