package blobstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/blob/blobstore"
	"github.com/havenhub/haven/blob/fs"
)

func TestOpenFS(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		location string
		root     string
	}{
		{dir + "/plain", dir + "/plain"},
		{"file://" + dir + "/url", dir + "/url"},
		{"file://localhost" + dir + "/host", dir + "/host"},
		{"file://" + dir + "/with%20space", dir + "/with space"},
	}
	for _, tt := range tests {
		t.Run(tt.location, func(t *testing.T) {
			d, err := blobstore.Open(context.Background(), tt.location)
			if err != nil {
				t.Fatal(err)
			}
			fd, ok := d.(*fs.Driver)
			if !ok {
				t.Fatalf("Open returned %T; want *fs.Driver", d)
			}
			if fd.Root() != tt.root {
				t.Errorf("root %s; want %s", fd.Root(), tt.root)
			}
			if err := d.Put(context.Background(), "k", bytes.NewReader([]byte("v")), 1); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(tt.root, "k")); err != nil || string(b) != "v" {
				t.Errorf("object not in %s: %q, %v", tt.root, b, err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for _, location := range []string{
		"",
		"gs://bucket",
		"file://otherhost/path",
		"file://",
		"s3://",
		"s3://host:9000",
		"s3://host:9000/bucket?secure=maybe",
	} {
		if d, err := blobstore.Open(context.Background(), location); err == nil {
			t.Errorf("Open(%q) = %T; want an error", location, d)
		}
	}
}

func TestOpenS3(t *testing.T) {
	raw := os.Getenv("HAVEN_TEST_S3_URL")
	if raw == "" {
		if os.Getenv("HAVEN_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("HAVEN_TEST_S3_URL is not set (start a server with scripts/start-s3.sh)")
		}
		t.Skip("HAVEN_TEST_S3_URL is not set")
	}
	d, err := blobstore.Open(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(blob.Redirector); !ok {
		t.Errorf("Open(s3 URL) = %T; want a driver with presigned redirects", d)
	}
	if err := d.List(context.Background(), "", func(blob.Info) error { return nil }); err != nil {
		t.Errorf("List: %v", err)
	}
}
