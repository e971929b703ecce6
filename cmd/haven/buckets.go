package main

import (
	"log/slog"

	"github.com/havenhub/haven/buckets"
)

// newBuckets returns the bucket service over the stores of the hub; its
// files live in the same Xet CAS as repositories' files, which clients reach
// only where the server serves Xet (xet).
func newBuckets(st *stores, publicURL string, secret []byte, xet bool, log *slog.Logger) *buckets.Service {
	return buckets.New(buckets.Config{Meta: st.meta, Blobs: st.blobs, PublicURL: publicURL, Secret: secret, XetOff: !xet, Logger: log})
}
