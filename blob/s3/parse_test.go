package s3_test

import (
	"testing"

	"github.com/havenhub/haven/blob/s3"
)

func TestParseURL(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "envkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
	tests := []struct {
		url  string
		want s3.Config
	}{
		{"s3://AK:SK@127.0.0.1:9000/bucket?secure=false&region=eu-west-1",
			s3.Config{Endpoint: "127.0.0.1:9000", AccessKey: "AK", SecretKey: "SK", Bucket: "bucket", Region: "eu-west-1"}},
		{"s3://s3.example.com/bucket/some/prefix/",
			s3.Config{Endpoint: "s3.example.com", AccessKey: "envkey", SecretKey: "envsecret", Bucket: "bucket", Prefix: "some/prefix", Secure: true}},
		{"s3://AK:s%2Fe%2Bc@host:1/b?part_size=16777216",
			s3.Config{Endpoint: "host:1", AccessKey: "AK", SecretKey: "s/e+c", Bucket: "b", Secure: true, PartSize: 16 << 20}},
		{"s3://AK:SK@host:1/b?concurrency=8&max_buffers=32",
			s3.Config{Endpoint: "host:1", AccessKey: "AK", SecretKey: "SK", Bucket: "b", Secure: true, Concurrency: 8, MaxBuffers: 32}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := s3.ParseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseURL = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseURLRejects(t *testing.T) {
	for _, raw := range []string{"", "http://host/bucket", "s3://", "s3://host", "s3://host/", "s3://host/b?secure=maybe", "s3://host/b?part_size=big",
		"s3://host/b?concurrency=0", "s3://host/b?concurrency=many", "s3://host/b?max_buffers=-1"} {
		if cfg, err := s3.ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) = %+v; want an error", raw, cfg)
		}
	}
}
