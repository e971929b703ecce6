// Package blobtest is the conformance suite for blob.Driver implementations:
// every backend runs the same behaviours through Run, and the same
// benchmarks through BenchmarkPut and BenchmarkOpenRead.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
)

// LargeSize is the size of the object that the streaming test and the
// benchmarks use: large enough that buffering it whole would show.
const LargeSize = 64 << 20

// Run runs the conformance suite. newDriver must return an empty driver that
// no other test uses; it is called once per subtest.
func Run(t *testing.T, newDriver func(t *testing.T) blob.Driver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d blob.Driver)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStops", testListStops},
		{"Seek", testSeek},
		{"ServeContent", testServeContent},
		{"FailingReader", testFailingReader},
		{"SizeMismatch", testSizeMismatch},
		{"Cancel", testCancel},
		{"InvalidKeys", testInvalidKeys},
		{"ConcurrentPut", testConcurrentPut},
		{"PutVerified", testPutVerified},
		{"Redirect", testRedirect},
		{"LargeStreaming", testLargeStreaming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDriver(t)) })
	}
}

// errBoom is what failing readers return.
var errBoom = errors.New("boom")

// randomBytes returns n deterministic pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	randomReader(seed).Read(b)
	return b
}

func randomReader(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(s)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func mustPut(t *testing.T, d blob.Driver, key string, data []byte) {
	t.Helper()
	if err := d.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustRead(t *testing.T, d blob.Driver, key string) []byte {
	t.Helper()
	r, info, err := d.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if info.Size != int64(len(b)) {
		t.Errorf("Open(%q) Info.Size = %d, read %d bytes", key, info.Size, len(b))
	}
	return b
}

func assertContent(t *testing.T, d blob.Driver, key string, want []byte) {
	t.Helper()
	got := mustRead(t, d, key)
	if !bytes.Equal(got, want) {
		t.Errorf("%q holds %d bytes (sha256 %.12s), want %d bytes (sha256 %.12s)",
			key, len(got), sha256Hex(got), len(want), sha256Hex(want))
	}
}

func assertAbsent(t *testing.T, d blob.Driver, key string) {
	t.Helper()
	if info, err := d.Stat(context.Background(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%q) = %+v, %v; want ErrNotFound", key, info, err)
	}
	if r, _, err := d.Open(context.Background(), key); !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Open(%q) error = %v; want ErrNotFound", key, err)
	}
	listed := listKeys(t, d, key)
	if slices.Contains(listed, key) {
		t.Errorf("List(%q) = %q; want no %q", key, listed, key)
	}
}

func listKeys(t *testing.T, d blob.Driver, prefix string) []string {
	t.Helper()
	var keys []string
	err := d.List(context.Background(), prefix, func(info blob.Info) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	slices.Sort(keys)
	return keys
}

func testRoundTrip(t *testing.T, d blob.Driver) {
	ctx := context.Background()
	tests := []struct {
		key  string
		size int64 // passed to Put
		data []byte
	}{
		{"empty", 0, nil},
		{"one/byte", 1, []byte{0}},
		{"text.txt", 5, []byte("hello")},
		{"unknown-size", -1, randomBytes(1, 70_000)},
		{blob.LFSKey(sha256Hex([]byte("x"))), 3 << 20, randomBytes(2, 3<<20)},
		{"unknown/size/large", -1, randomBytes(3, 9<<20+17)},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			before := time.Now().Add(-time.Minute)
			if err := d.Put(ctx, tt.key, bytes.NewReader(tt.data), tt.size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			assertContent(t, d, tt.key, tt.data)
			info, err := d.Stat(ctx, tt.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if info.Key != tt.key || info.Size != int64(len(tt.data)) {
				t.Errorf("Stat = %+v; want key %q size %d", info, tt.key, len(tt.data))
			}
			if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Minute)) {
				t.Errorf("Stat ModTime = %v; want about now", info.ModTime)
			}
			_, oinfo, err := d.Open(ctx, tt.key)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if oinfo.Key != tt.key || oinfo.Size != info.Size {
				t.Errorf("Open Info = %+v; want %+v", oinfo, info)
			}
		})
	}
}

func testOverwrite(t *testing.T, d blob.Driver) {
	first, second := randomBytes(4, 100_000), []byte("shorter")
	mustPut(t, d, "obj", first)
	mustPut(t, d, "obj", second)
	assertContent(t, d, "obj", second)
	if got := listKeys(t, d, ""); !slices.Equal(got, []string{"obj"}) {
		t.Errorf("List = %q; want [obj]", got)
	}
}

func testMissing(t *testing.T, d blob.Driver) {
	ctx := context.Background()
	mustPut(t, d, "dir/present", []byte("x"))
	for _, key := range []string{"absent", "dir/absent", "dir", "dir/present/below", "no/such/dir/key"} {
		assertAbsent(t, d, key)
		if err := d.Delete(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Delete(%q) = %v; want ErrNotFound", key, err)
		}
	}
	assertContent(t, d, "dir/present", []byte("x"))
}

func testDelete(t *testing.T, d blob.Driver) {
	ctx := context.Background()
	mustPut(t, d, "a/b/c", []byte("c"))
	mustPut(t, d, "a/b/d", []byte("d"))
	if err := d.Delete(ctx, "a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertAbsent(t, d, "a/b/c")
	assertContent(t, d, "a/b/d", []byte("d"))
	if err := d.Delete(ctx, "a/b/c"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("second Delete = %v; want ErrNotFound", err)
	}
	// The key can be used again after a delete.
	mustPut(t, d, "a/b/c", []byte("again"))
	assertContent(t, d, "a/b/c", []byte("again"))
}

func testList(t *testing.T, d blob.Driver) {
	sizes := map[string]int{"a/1": 1, "a/2": 2, "a/b/3": 3, "ab/4": 4, "b/5": 5, "top": 6}
	for key, n := range sizes {
		mustPut(t, d, key, bytes.Repeat([]byte{'x'}, n))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a/1", "a/2", "a/b/3", "ab/4", "b/5", "top"}},
		{"a/", []string{"a/1", "a/2", "a/b/3"}},
		{"a", []string{"a/1", "a/2", "a/b/3", "ab/4"}},
		{"a/b", []string{"a/b/3"}},
		{"a/b/", []string{"a/b/3"}},
		{"a/1", []string{"a/1"}},
		{"t", []string{"top"}},
		{"zz", nil},
		{"zz/", nil},
		{"top/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			var got []string
			err := d.List(context.Background(), tt.prefix, func(info blob.Info) error {
				if info.Size != int64(sizes[info.Key]) {
					t.Errorf("List: %s has size %d, want %d", info.Key, info.Size, sizes[info.Key])
				}
				if info.ModTime.IsZero() {
					t.Errorf("List: %s has no ModTime", info.Key)
				}
				got = append(got, info.Key)
				return nil
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q; want %q", tt.prefix, got, tt.want)
			}
		})
	}
}

func testListStops(t *testing.T, d blob.Driver) {
	for i := range 5 {
		mustPut(t, d, fmt.Sprintf("k/%d", i), []byte{byte(i)})
	}
	calls := 0
	err := d.List(context.Background(), "", func(blob.Info) error {
		calls++
		if calls == 2 {
			return errBoom
		}
		return nil
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("List error = %v; want the callback's error", err)
	}
	if calls != 2 {
		t.Errorf("callback ran %d times; want the walk to stop after the error (2)", calls)
	}
}

func testSeek(t *testing.T, d blob.Driver) {
	data := randomBytes(5, 1<<20+123)
	size := int64(len(data))
	mustPut(t, d, "seek", data)
	r, _, err := d.Open(context.Background(), "seek")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		offset int64
		whence int
		want   int64 // resulting position
		n      int   // bytes to read there
	}{
		{0, io.SeekStart, 0, 10},
		{1000, io.SeekStart, 1000, 5000},
		{-10, io.SeekEnd, size - 10, 10},
		{0, io.SeekEnd, size, 0},
		{500_000, io.SeekStart, 500_000, 1},
		{-100, io.SeekCurrent, 500_000 + 1 - 100, 300_000},
		{7, io.SeekStart, 7, 1 << 20},
		{0, io.SeekCurrent, 7 + 1<<20, 116},
		{0, io.SeekStart, 0, len(data)},
	}
	for _, tt := range tests {
		pos, err := r.Seek(tt.offset, tt.whence)
		if err != nil || pos != tt.want {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", tt.offset, tt.whence, pos, err, tt.want)
		}
		buf := make([]byte, tt.n)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("after Seek(%d, %d): reading %d bytes: %v", tt.offset, tt.whence, tt.n, err)
		}
		if !bytes.Equal(buf, data[pos:pos+int64(tt.n)]) {
			t.Fatalf("after Seek(%d, %d): wrong bytes at %d", tt.offset, tt.whence, pos)
		}
	}
	// At the end a read reports io.EOF.
	if _, err := r.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read at end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Errorf("Seek to a negative offset succeeded")
	}
}

func testServeContent(t *testing.T, d blob.Driver) {
	data := randomBytes(6, 300_000)
	mustPut(t, d, "served", data)
	tests := []struct {
		rangeHeader string
		status      int
		parts       [][2]int // [start, end) of each expected part
	}{
		{"", http.StatusOK, [][2]int{{0, len(data)}}},
		{"bytes=10-19", http.StatusPartialContent, [][2]int{{10, 20}}},
		{"bytes=-5", http.StatusPartialContent, [][2]int{{len(data) - 5, len(data)}}},
		{"bytes=299000-", http.StatusPartialContent, [][2]int{{299_000, len(data)}}},
		{"bytes=0-0,200000-200009", http.StatusPartialContent, [][2]int{{0, 1}, {200_000, 200_010}}},
		{"bytes=400000-", http.StatusRequestedRangeNotSatisfiable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.rangeHeader, func(t *testing.T) {
			r, info, err := d.Open(context.Background(), "served")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			req := httptest.NewRequest(http.MethodGet, "/served", nil)
			if tt.rangeHeader != "" {
				req.Header.Set("Range", tt.rangeHeader)
			}
			w := httptest.NewRecorder()
			http.ServeContent(w, req, "", info.ModTime, r)
			if w.Code != tt.status {
				t.Fatalf("status %d; want %d", w.Code, tt.status)
			}
			got := splitParts(t, w)
			if len(got) != len(tt.parts) {
				t.Fatalf("got %d parts; want %d", len(got), len(tt.parts))
			}
			for i, p := range tt.parts {
				if !bytes.Equal(got[i], data[p[0]:p[1]]) {
					t.Errorf("part %d: wrong bytes for range %d-%d", i, p[0], p[1]-1)
				}
			}
		})
	}
}

// splitParts returns the body of a response, or each part of a
// multipart/byteranges body; nothing for an error status.
func splitParts(t *testing.T, w *httptest.ResponseRecorder) [][]byte {
	t.Helper()
	if w.Code >= 400 {
		return nil
	}
	mediaType, params, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if mediaType != "multipart/byteranges" {
		return [][]byte{w.Body.Bytes()}
	}
	var parts [][]byte
	mr := multipart.NewReader(w.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatalf("multipart body: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("multipart body: %v", err)
		}
		parts = append(parts, b)
	}
}

// failingReader yields data and then fails with err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testFailingReader(t *testing.T, d blob.Driver) {
	old := []byte("the earlier object")
	tests := []struct {
		name  string
		after int   // bytes delivered before the error
		size  int64 // passed to Put; -1 or after
	}{
		{"Immediately", 0, -1},
		{"Midway", 1000, -1},
		{"AllBytesKnownSize", 1000, 1000}, // the error replaces io.EOF, as in verification
		{"AfterManyMiB", 20 << 20, -1},    // past the first part of a multipart upload
		{"AfterManyMiBKnownSize", 20 << 20, 20 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &failingReader{r: io.LimitReader(randomReader(7), int64(tt.after)), err: errBoom}
			mustPut(t, d, "existing", old)
			err := d.Put(context.Background(), "existing", r, tt.size)
			if !errors.Is(err, errBoom) {
				t.Errorf("Put over an object = %v; want the reader's error", err)
			}
			assertContent(t, d, "existing", old)

			r = &failingReader{r: io.LimitReader(randomReader(7), int64(tt.after)), err: errBoom}
			err = d.Put(context.Background(), "fresh", r, tt.size)
			if !errors.Is(err, errBoom) {
				t.Errorf("Put to a new key = %v; want the reader's error", err)
			}
			assertAbsent(t, d, "fresh")
		})
	}
}

func testSizeMismatch(t *testing.T, d blob.Driver) {
	data := randomBytes(8, 10_000)
	for _, size := range []int64{0, 9_999, 10_001, 1 << 30} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			mustPut(t, d, "existing", []byte("old"))
			if err := d.Put(context.Background(), "existing", bytes.NewReader(data), size); err == nil {
				t.Errorf("Put of %d bytes announced as %d succeeded", len(data), size)
			}
			assertContent(t, d, "existing", []byte("old"))
			if err := d.Put(context.Background(), "fresh", bytes.NewReader(data), size); err == nil {
				t.Errorf("Put of %d bytes announced as %d succeeded", len(data), size)
			}
			assertAbsent(t, d, "fresh")
		})
	}
}

// cancellingReader cancels its context once it has delivered after bytes,
// and keeps delivering.
type cancellingReader struct {
	r      io.Reader
	n      int
	after  int
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

func testCancel(t *testing.T, d blob.Driver) {
	old := []byte("the earlier object")
	for _, after := range []int{1, 100_000, 12 << 20} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			mustPut(t, d, "existing", old)
			for _, key := range []string{"existing", "fresh"} {
				ctx, cancel := context.WithCancel(context.Background())
				r := &cancellingReader{r: io.LimitReader(randomReader(9), 16<<20), after: after, cancel: cancel}
				err := d.Put(ctx, key, r, -1)
				cancel()
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Put(%q) = %v; want context.Canceled", key, err)
				}
			}
			assertContent(t, d, "existing", old)
			assertAbsent(t, d, "fresh")
		})
	}
}

// InvalidKeys lists keys that every driver must refuse.
var InvalidKeys = []string{
	"", "/", "/abs", "trailing/", "double//slash", ".", "..", "../escape", "a/../b", "a/./b",
	".hidden", "dir/.hidden", "back\\slash", "spa ce", "new\nline", "nul\x00", "ünï", "star*", "q?",
	strings.Repeat("a", 256), strings.Repeat("a/", 512) + "a",
}

func testInvalidKeys(t *testing.T, d blob.Driver) {
	ctx := context.Background()
	for _, key := range InvalidKeys {
		t.Run(fmt.Sprintf("%.20q", key), func(t *testing.T) {
			if err := d.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put = %v; want ErrInvalidKey", err)
			}
			if r, _, err := d.Open(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				if err == nil {
					r.Close()
				}
				t.Errorf("Open = %v; want ErrInvalidKey", err)
			}
			if _, err := d.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Stat = %v; want ErrInvalidKey", err)
			}
			if err := d.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Delete = %v; want ErrInvalidKey", err)
			}
			// A trailing slash, or nothing at all, is a valid List prefix.
			if key != "" && key != "trailing/" {
				err := d.List(ctx, key, func(blob.Info) error { return nil })
				if !errors.Is(err, blob.ErrInvalidKey) {
					t.Errorf("List = %v; want ErrInvalidKey", err)
				}
			}
		})
	}
	if keys := listKeys(t, d, ""); len(keys) != 0 {
		t.Errorf("invalid keys left objects: %q", keys)
	}
}

func testConcurrentPut(t *testing.T, d blob.Driver) {
	const writers = 8
	contents := make([][]byte, writers)
	for i := range contents {
		contents[i] = randomBytes(uint64(100+i), 50_000+i*30_000)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			size := int64(len(contents[i]))
			if i%2 == 1 {
				size = -1
			}
			errs[i] = d.Put(context.Background(), "contended", bytes.NewReader(contents[i]), size)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	got := mustRead(t, d, "contended")
	if !slices.ContainsFunc(contents, func(c []byte) bool { return bytes.Equal(c, got) }) {
		t.Errorf("after concurrent Puts the object (%d bytes) is none of the written contents", len(got))
	}
	if keys := listKeys(t, d, ""); !slices.Equal(keys, []string{"contended"}) {
		t.Errorf("List = %q; want [contended]", keys)
	}
}

func testPutVerified(t *testing.T, d blob.Driver) {
	data := randomBytes(10, 200_000)
	oid := sha256Hex(data)
	tests := []struct {
		name    string
		body    []byte
		sha     string
		size    int64
		wantErr string // "" for success, else a word the message must contain
	}{
		{"OK", data, oid, int64(len(data)), ""},
		{"Empty", nil, sha256Hex(nil), 0, ""},
		{"WrongHash", data, sha256Hex([]byte("other")), int64(len(data)), "hash"},
		{"Truncated", data[:len(data)-1], oid, int64(len(data)), "size"},
		{"TooLong", append(slices.Clone(data), 0), oid, int64(len(data)), "size"},
		{"SizeClaimedSmaller", data, oid, 100, "size"},
		{"CorruptByte", append(append(slices.Clone(data[:1000]), data[1000]^1), data[1001:]...), oid, int64(len(data)), "hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "verified/" + tt.name
			err := blob.PutVerified(context.Background(), d, key, bytes.NewReader(tt.body), tt.sha, tt.size)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("PutVerified: %v", err)
				}
				assertContent(t, d, key, tt.body)
				return
			}
			var herr *haven.Error
			if !errors.As(err, &herr) || herr.Code != haven.EInvalid {
				t.Fatalf("PutVerified = %v; want a *haven.Error with code %s", err, haven.EInvalid)
			}
			if !strings.Contains(strings.ToLower(herr.Message), tt.wantErr) {
				t.Errorf("message %q does not mention %s", herr.Message, tt.wantErr)
			}
			assertAbsent(t, d, key)
		})
	}
	// A failed verification leaves an existing object alone.
	mustPut(t, d, "kept", []byte("kept"))
	if err := blob.PutVerified(context.Background(), d, "kept", bytes.NewReader(data), sha256Hex(nil), int64(len(data))); err == nil {
		t.Fatal("PutVerified with a wrong hash succeeded")
	}
	assertContent(t, d, "kept", []byte("kept"))
}

func testRedirect(t *testing.T, d blob.Driver) {
	rd, ok := d.(blob.Redirector)
	if !ok {
		t.Skip("driver does not implement blob.Redirector")
	}
	data := randomBytes(11, 5000)
	mustPut(t, d, "dir/obj", data)
	for _, filename := range []string{"", "model.safetensors", "with space.bin"} {
		t.Run(filename, func(t *testing.T) {
			u, err := rd.RedirectURL(context.Background(), "dir/obj", time.Minute, filename)
			if err != nil {
				t.Fatalf("RedirectURL: %v", err)
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("GET presigned URL: status %d, %d bytes; want 200 and the object", resp.StatusCode, len(body))
			}
			got := resp.Header.Get("Content-Disposition")
			_, params, _ := mime.ParseMediaType(got)
			if filename != "" && params["filename"] != filename {
				t.Errorf("Content-Disposition = %q; want the file name %q", got, filename)
			}
			if filename == "" && got != "" {
				t.Errorf("Content-Disposition = %q; want none without a file name", got)
			}
		})
	}
	if _, err := rd.RedirectURL(context.Background(), "../x", time.Minute, ""); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("RedirectURL(invalid key) = %v; want ErrInvalidKey", err)
	}
}

// heapPeak samples HeapInuse until stop is called and returns the highest
// value seen above the level at the start.
func heapPeak() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak - base
	}
}

func testLargeStreaming(t *testing.T, d blob.Driver) {
	if testing.Short() {
		t.Skip("64 MiB object; skipped in -short mode")
	}
	ctx := context.Background()
	const limit = LargeSize / 2
	for _, size := range []int64{LargeSize, -1} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			h := sha256.New()
			src := io.TeeReader(io.LimitReader(randomReader(12), LargeSize), h)
			stop := heapPeak()
			err := d.Put(ctx, "large", src, size)
			grew := stop()
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			t.Logf("Put of %d MiB: heap grew by %.1f MiB at most", LargeSize>>20, float64(grew)/(1<<20))
			if grew > limit {
				t.Errorf("Put of %d MiB grew the heap by %d MiB; want under %d MiB", LargeSize>>20, grew>>20, limit>>20)
			}

			stop = heapPeak()
			r, info, err := d.Open(ctx, "large")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := sha256.New()
			n, err := io.Copy(got, r)
			r.Close()
			grew = stop()
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			t.Logf("read of %d MiB: heap grew by %.1f MiB at most", LargeSize>>20, float64(grew)/(1<<20))
			if grew > limit {
				t.Errorf("reading %d MiB grew the heap by %d MiB; want under %d MiB", LargeSize>>20, grew>>20, limit>>20)
			}
			if n != LargeSize || info.Size != LargeSize || !bytes.Equal(got.Sum(nil), h.Sum(nil)) {
				t.Errorf("read back %d bytes (Info.Size %d) with a different hash; want the %d bytes written", n, info.Size, LargeSize)
			}
		})
	}
}

// BenchmarkPut measures Put of LargeSize-byte objects with known size.
func BenchmarkPut(b *testing.B, d blob.Driver) {
	data := randomBytes(13, LargeSize)
	b.SetBytes(LargeSize)
	for i := 0; b.Loop(); i++ {
		if err := d.Put(context.Background(), fmt.Sprintf("bench/put/%d", i%4), bytes.NewReader(data), LargeSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenRead measures Open and a full read of a LargeSize-byte object.
func BenchmarkOpenRead(b *testing.B, d blob.Driver) {
	data := randomBytes(14, LargeSize)
	if err := d.Put(context.Background(), "bench/read", bytes.NewReader(data), LargeSize); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(LargeSize)
	for b.Loop() {
		r, _, err := d.Open(context.Background(), "bench/read")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != LargeSize {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
}
