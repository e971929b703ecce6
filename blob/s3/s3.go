// Package s3 is the blob backend for S3-compatible object stores (AWS S3,
// MinIO, versitygw, …), built on minio-go.
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/havenhub/haven/blob"
)

// DefaultPartSize is the size of the buffer a Put fills before it uploads a
// part. With S3's limit of 10,000 parts an object of unknown size can reach
// about 78 GiB; a Put with a known size picks larger parts when it needs to.
const DefaultPartSize = 8 << 20

// DefaultConcurrency is how many parts of one Put are uploaded at once, while
// the next part is read from the client. The memory of one Put is at most
// Concurrency × PartSize (24 MiB).
const DefaultConcurrency = 3

// DefaultMaxBuffers bounds the part buffers of all Puts together, so the
// memory of uploads is at most MaxBuffers parts (64 MiB at 8 MiB) however
// many run at once (outside the Go heap, see partBuffers). Every Put waits
// for one; the others go to the first to ask.
const DefaultMaxBuffers = 8

// S3 limits for multipart uploads.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10_000
)

// Config says where the objects live.
type Config struct {
	Endpoint    string // host[:port], no scheme
	AccessKey   string
	SecretKey   string
	Bucket      string
	Prefix      string // optional folder inside the bucket, e.g. "haven/blobs"
	Region      string // "us-east-1" when empty
	Secure      bool   // HTTPS
	PartSize    int64  // DefaultPartSize when 0; at least 5 MiB
	Concurrency int    // parts in flight per Put; DefaultConcurrency when 0
	MaxBuffers  int    // part buffers of all Puts together; DefaultMaxBuffers when 0
}

// Driver stores each object as the S3 object <Prefix>/<key>.
type Driver struct {
	client      *minio.Client
	core        minio.Core
	bucket      string
	prefix      string // "" or ending in "/"
	partSize    int64
	concurrency int
	secure      bool
	slots       chan struct{} // one token for each part buffer in use
	buffers     partBuffers   // of partSize bytes
}

var (
	_ blob.Driver     = (*Driver)(nil)
	_ blob.Redirector = (*Driver)(nil)
)

// New connects to the store and creates the bucket if it does not exist.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("blob/s3: endpoint and bucket are required")
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" && !blob.ValidKey(prefix) {
		return nil, fmt.Errorf("blob/s3: invalid prefix %q", cfg.Prefix)
	}
	if prefix != "" {
		prefix += "/"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < minPartSize || cfg.PartSize > maxPartSize {
		return nil, fmt.Errorf("blob/s3: part size %d outside S3's limits (5 MiB to 5 GiB)", cfg.PartSize)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxBuffers == 0 {
		cfg.MaxBuffers = DefaultMaxBuffers
	}
	if cfg.Concurrency < 1 || cfg.MaxBuffers < 1 {
		return nil, fmt.Errorf("blob/s3: concurrency %d and max_buffers %d must be at least 1", cfg.Concurrency, cfg.MaxBuffers)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.Secure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("blob/s3: %w", err)
	}
	d := &Driver{
		client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: prefix,
		partSize: cfg.PartSize, concurrency: cfg.Concurrency, secure: cfg.Secure,
		slots: make(chan struct{}, cfg.MaxBuffers), buffers: partBuffers{size: cfg.PartSize},
	}
	if err := d.ensureBucket(ctx, cfg.Region); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Driver) ensureBucket(ctx context.Context, region string) error {
	exists, err := d.client.BucketExists(ctx, d.bucket)
	if err != nil {
		return fmt.Errorf("blob/s3: checking bucket %s: %w", d.bucket, err)
	}
	if exists {
		return nil
	}
	err = d.client.MakeBucket(ctx, d.bucket, minio.MakeBucketOptions{Region: region})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil // created meanwhile by another replica
	}
	if err != nil {
		return fmt.Errorf("blob/s3: creating bucket %s: %w", d.bucket, err)
	}
	return nil
}

// ParseURL reads a Config from "s3://ACCESS:SECRET@host:port/bucket[/prefix]
// ?secure=false&region=…&part_size=…&concurrency=…&max_buffers=…". Missing credentials come from
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Secure defaults to true.
func ParseURL(rawURL string) (Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Config{}, fmt.Errorf("blob/s3: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return Config{}, fmt.Errorf("blob/s3: %q is not an s3://host/bucket URL", u.Redacted())
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if bucket == "" {
		return Config{}, fmt.Errorf("blob/s3: %q names no bucket", u.Redacted())
	}
	cfg := Config{
		Endpoint:  u.Host,
		Bucket:    bucket,
		Prefix:    strings.TrimSuffix(prefix, "/"),
		Region:    u.Query().Get("region"),
		Secure:    true,
		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	}
	if u.User != nil {
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, _ = u.User.Password()
	}
	if s := u.Query().Get("secure"); s != "" {
		if cfg.Secure, err = strconv.ParseBool(s); err != nil {
			return Config{}, fmt.Errorf("blob/s3: secure=%q: want true or false", s)
		}
	}
	if s := u.Query().Get("part_size"); s != "" {
		if cfg.PartSize, err = strconv.ParseInt(s, 10, 64); err != nil {
			return Config{}, fmt.Errorf("blob/s3: part_size=%q: want a number of bytes", s)
		}
	}
	for name, v := range map[string]*int{"concurrency": &cfg.Concurrency, "max_buffers": &cfg.MaxBuffers} {
		if s := u.Query().Get(name); s != "" {
			if *v, err = strconv.Atoi(s); err != nil || *v < 1 {
				return Config{}, fmt.Errorf("blob/s3: %s=%q: want a positive number", name, s)
			}
		}
	}
	return cfg, nil
}

func (d *Driver) object(key string) string { return d.prefix + key }

// Put reads r one part at a time. An object that fits in one part is sent
// with a single PUT once r has reached io.EOF; a larger one becomes a
// multipart upload whose parts are sent while the next ones are read, up to
// the configured concurrency and as many part buffers as the driver has free.
// The upload is completed only after io.EOF and aborted on any error, so S3
// never shows a partial object.
func (d *Driver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	partSize := d.partSizeFor(size)
	// Every Put waits for one buffer and can always finish with it alone, so
	// a full pool slows uploads down but never blocks them for good.
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("blob/s3: put %s: %w", key, ctx.Err())
	}
	buf := d.getBuffer(partSize)
	src := blob.GuardReader(ctx, r, size)
	name := d.object(key)

	n, err := io.ReadFull(src, buf)
	switch err {
	case nil: // the buffer is full: there may be more
	case io.EOF, io.ErrUnexpectedEOF:
		defer d.release(buf)
		hash := d.payloadHash(buf[:n])
		opts := putOptions()
		opts.DisableContentSha256 = true // signed with hash, or unsigned over TLS: see payloadHash
		_, err = d.core.PutObject(ctx, d.bucket, name, bytes.NewReader(buf[:n]), int64(n), "", hash, opts)
		if err != nil {
			return fmt.Errorf("blob/s3: put %s: %w", key, err)
		}
		return nil
	default:
		d.release(buf)
		return fmt.Errorf("blob/s3: put %s: %w", key, err)
	}

	uploadID, err := d.core.NewMultipartUpload(ctx, d.bucket, name, putOptions())
	if err != nil {
		d.release(buf)
		return fmt.Errorf("blob/s3: put %s: %w", key, err)
	}
	if err := d.uploadParts(ctx, name, uploadID, src, buf, n); err != nil {
		// The upload is abandoned whatever the reason, also when ctx is done.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		d.core.AbortMultipartUpload(actx, d.bucket, name, uploadID)
		return fmt.Errorf("blob/s3: put %s: %w", key, err)
	}
	return nil
}

// payloadHash is the SHA-256 (hex) that signs a part's bytes, or "" to send
// it as UNSIGNED-PAYLOAD. Over plain HTTP the signature is all that lets the
// S3 server reject bytes changed on the way, so the hash is computed, once
// and from the buffer, instead of minio-go's default streaming signature
// (aws-chunked, a signature every 64 KiB). Over TLS the connection already
// guards the bytes, as the S3 SDKs assume when they skip the payload hash.
func (d *Driver) payloadHash(b []byte) string {
	if d.secure {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// getBuffer returns a buffer of partSize bytes; the caller holds a slot.
func (d *Driver) getBuffer(partSize int64) []byte {
	if partSize == d.partSize {
		return d.buffers.get()
	}
	return make([]byte, partSize)
}

// release gives back a buffer from getBuffer and its slot.
func (d *Driver) release(b []byte) {
	if int64(cap(b)) == d.partSize {
		d.buffers.put(b)
	}
	<-d.slots
}

// uploadParts sends buf[:n] as the first part, then the rest of src, with up
// to d.concurrency parts (and buffers) in flight, and completes the upload
// once src reports io.EOF and every part is stored. It owns buf, and gives it
// and every buffer it takes back before it returns, once no part is in
// flight: an abort that follows cannot race a part.
func (d *Driver) uploadParts(ctx context.Context, name, uploadID string, src io.Reader, buf []byte, n int) error {
	partSize := int64(len(buf))
	ctx, cancel := context.WithCancelCause(ctx)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []minio.CompletePart
	)
	// Parts hand their buffer back here when done; it has room for all of
	// them, so a part never waits to hand it back.
	done := make(chan []byte, d.concurrency)
	held := 1 // buffers this upload holds, in flight or in hand
	defer func() {
		cancel(nil) // on an error, parts still in flight stop early
		wg.Wait()
		close(done)
		for b := range done {
			d.release(b)
		}
		if buf != nil {
			d.release(buf)
		}
	}()
	send := func(num int, b []byte) {
		defer wg.Done()
		hash := d.payloadHash(b)
		p, err := d.core.PutObjectPart(ctx, d.bucket, name, uploadID, num, bytes.NewReader(b), int64(len(b)),
			minio.PutObjectPartOptions{Sha256Hex: hash, DisableContentSha256: true})
		if err != nil {
			cancel(fmt.Errorf("part %d: %w", num, err))
		} else {
			mu.Lock()
			parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
			mu.Unlock()
		}
		done <- b[:cap(b)]
	}
	for num := 1; ; num++ {
		if num > maxParts {
			return fmt.Errorf("object exceeds %d parts of %d bytes; pass its size to Put", maxParts, partSize)
		}
		last := n < len(buf)
		wg.Add(1)
		go send(num, buf[:n])
		buf = nil
		if last {
			break
		}
		// The next buffer: one a part has finished with, else a new one
		// while this upload may have more in flight and the pool has
		// one free, else wait for a part to finish.
		select {
		case buf = <-done:
		default:
			if held < d.concurrency {
				select {
				case d.slots <- struct{}{}:
					held++
					buf = d.getBuffer(partSize)
				default:
				}
			}
			if buf == nil {
				select {
				case buf = <-done:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
		}
		if err := context.Cause(ctx); err != nil {
			return err
		}
		var err error
		n, err = io.ReadFull(src, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return err
		}
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	_, err := d.core.CompleteMultipartUpload(ctx, d.bucket, name, uploadID, parts, putOptions())
	return err
}

// partSizeFor picks the part size for an object of the given size (-1 if
// unknown): the configured one, unless the object needs more than maxParts.
func (d *Driver) partSizeFor(size int64) int64 {
	if size <= d.partSize*maxParts {
		return d.partSize
	}
	const mib = 1 << 20
	ps := (size + maxParts - 1) / maxParts
	return min((ps+mib-1)/mib*mib, maxPartSize)
}

func putOptions() minio.PutObjectOptions {
	return minio.PutObjectOptions{ContentType: "application/octet-stream"}
}

// Open checks that the object exists and returns a reader that fetches it
// with ranged GETs as it is read and seeked, all pinned to the ETag seen
// here: if the object is replaced meanwhile, reads fail instead of mixing
// two versions. Reads use ctx.
func (d *Driver) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	info, etag, err := d.stat(ctx, key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	return &reader{ctx: ctx, d: d, name: d.object(key), etag: etag, size: info.Size}, info, nil
}

// Stat describes the object under key.
func (d *Driver) Stat(ctx context.Context, key string) (blob.Info, error) {
	info, _, err := d.stat(ctx, key)
	return info, err
}

func (d *Driver) stat(ctx context.Context, key string) (blob.Info, string, error) {
	if err := blob.CheckKey(key); err != nil {
		return blob.Info{}, "", err
	}
	oi, err := d.client.StatObject(ctx, d.bucket, d.object(key), minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, "", d.mapError(key, err)
	}
	return blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, oi.ETag, nil
}

// Delete removes the object. S3 deletes of missing keys succeed, so it
// checks first to report blob.ErrNotFound like the other backends.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if _, _, err := d.stat(ctx, key); err != nil {
		return err
	}
	if err := d.client.RemoveObject(ctx, d.bucket, d.object(key), minio.RemoveObjectOptions{}); err != nil {
		return d.mapError(key, err)
	}
	return nil
}

// List pages through the objects under prefix.
func (d *Driver) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := blob.CheckPrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when fn fails
	opts := minio.ListObjectsOptions{Prefix: d.object(prefix), Recursive: true}
	for oi := range d.client.ListObjectsIter(ctx, d.bucket, opts) {
		if oi.Err != nil {
			return fmt.Errorf("blob/s3: list %s: %w", prefix, oi.Err)
		}
		key, ok := strings.CutPrefix(oi.Key, d.prefix)
		if !ok || !blob.ValidKey(key) {
			continue // not written through this driver
		}
		if err := fn(blob.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// RedirectURL presigns a GET of the object that is valid for ttl. With a
// filename the response carries a Content-Disposition: attachment header
// naming it.
func (d *Driver) RedirectURL(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	if err := blob.CheckKey(key); err != nil {
		return "", err
	}
	params := url.Values{}
	if filename != "" {
		params.Set("response-content-disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	}
	u, err := d.client.PresignedGetObject(ctx, d.bucket, d.object(key), ttl, params)
	if err != nil {
		return "", fmt.Errorf("blob/s3: presign %s: %w", key, err)
	}
	return u.String(), nil
}

func (d *Driver) mapError(key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.Code == "NoSuchKey" || resp.Code == "NotFound" ||
		(resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket") {
		return fmt.Errorf("%w: %s", blob.ErrNotFound, key)
	}
	return fmt.Errorf("blob/s3: %s: %w", key, err)
}

// reader is the io.ReadSeekCloser that Open returns. It holds at most one
// response body, opened at the current offset on the first Read after a
// Seek, so sequential reads are one GET and each seek costs one more.
type reader struct {
	ctx  context.Context
	d    *Driver
	name string
	etag string
	size int64
	pos  int64
	body io.ReadCloser
}

func (r *reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.body == nil {
		var opts minio.GetObjectOptions
		if err := opts.SetMatchETag(r.etag); err != nil {
			return 0, err
		}
		// A read from the start asks for the whole object, without a
		// range: a plain GET is what S3 servers answer most cheaply.
		if r.pos > 0 {
			if err := opts.SetRange(r.pos, r.size-1); err != nil {
				return 0, err
			}
		}
		body, _, _, err := r.d.core.GetObject(r.ctx, r.d.bucket, r.name, opts)
		if err != nil {
			return 0, fmt.Errorf("blob/s3: read %s at %d: %w", r.name, r.pos, err)
		}
		r.body = body
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err == io.EOF && r.pos < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = r.pos + offset
	case io.SeekEnd:
		pos = r.size + offset
	default:
		return r.pos, fmt.Errorf("blob/s3: invalid whence %d", whence)
	}
	if pos < 0 {
		return r.pos, fmt.Errorf("blob/s3: seek to negative offset %d", pos)
	}
	if pos != r.pos && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.pos = pos
	return pos, nil
}

func (r *reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
