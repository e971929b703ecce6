// Command s3put uploads a file straight to an S3 server with minio-go's own
// multipart upload (the client library Haven's blob/s3 uses), as the baseline
// that bench/s3-upload.sh measures Haven's LFS uploads against. It prints the
// seconds the upload took.
//
//	go run ./bench/s3put -url "$HAVEN_TEST_S3_URL" -file big.bin -key direct/1
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/havenhub/haven/blob/s3"
)

func main() {
	rawURL := flag.String("url", "", "s3:// URL as blob/s3.ParseURL reads it")
	file := flag.String("file", "", "file to upload")
	key := flag.String("key", "", "object name inside the bucket")
	partMiB := flag.Uint64("part-mib", 8, "part size in MiB")
	threads := flag.Uint("threads", 4, "parts in flight")
	flag.Parse()
	cfg, err := s3.ParseURL(*rawURL)
	if err != nil {
		log.Fatal(err)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(*file)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Now()
	_, err = client.PutObject(context.Background(), cfg.Bucket, *key, f, st.Size(), minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		PartSize:    *partMiB << 20,
		NumThreads:  *threads,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.3f\n", time.Since(t0).Seconds())
}
