package casapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// xetTestServer is a Server with at most one xorb upload at once; it
// returns the server, its URL, a CAS write token and the folder of its blob
// store.
func xetTestServer(t *testing.T) (*Server, string, string, string) {
	t.Helper()
	st := storetest.Open(t)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	s, err := New(Config{Store: casstore.New(st.Blobs), PublicURL: ts.URL, Secret: []byte("test-secret-test-secret-test-secret"), MaxUploads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = s
	tok := Token(s.secret, Claims{Repo: 1, Write: true, Exp: time.Now().Add(time.Hour).Unix()})
	return s, ts.URL, tok, filepath.Join(st.Dir, "blobs")
}

// testXetFile is a file packed into one xorb and the shard that registers
// it, as a Xet client prepares them.
func testXetFile(seed uint64, n int) (xorb []byte, xh xet.Hash, shard *xet.Shard) {
	data := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(data)
	var chunks [][]byte
	for rest, sizes := data, xet.Chunks(data); len(sizes) > 0; sizes = sizes[1:] {
		chunks = append(chunks, rest[:sizes[0]])
		rest = rest[sizes[0]:]
	}
	xorb, xh = xet.EncodeXorb(chunks)
	xi := xet.XorbInfo{Hash: xh}
	var refs []xet.ChunkRef
	var hashes []xet.Hash
	for _, c := range chunks {
		h := xet.ChunkHash(c)
		xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: h, Offset: xi.BytesInXorb, Size: uint32(len(c))})
		xi.BytesInXorb += uint32(len(c))
		refs = append(refs, xet.ChunkRef{Hash: h, Size: uint64(len(c))})
		hashes = append(hashes, h)
	}
	sum := sha256.Sum256(data)
	sha, _ := xet.ParseHash(hex.EncodeToString(sum[:]))
	shard = &xet.Shard{
		Xorbs: []xet.XorbInfo{xi},
		Files: []xet.FileInfo{{
			Hash:     xet.FileHash(refs),
			Terms:    []xet.FileTerm{{Xorb: xh, Size: xi.BytesInXorb, End: uint32(len(chunks)), Verification: xet.VerificationHash(hashes)}},
			Verified: true, SHA256: sha, HasSHA256: true,
		}},
	}
	return xorb, xh, shard
}

func casPost(t *testing.T, url, tok string, body io.Reader) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, body)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// storedFiles lists the files under the blob store's xet/ folder and its
// temporary folder.
func storedFiles(dir string) []string {
	var out []string
	for _, sub := range []string{"xet", "tmp"} {
		filepath.WalkDir(filepath.Join(dir, sub), func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// TestXorbUploadRefusals sends corrupt and truncated xorbs and a shard with
// the wrong SHA-256 through the HTTP API: each is refused with 400 and the
// reason, and nothing is stored.
func TestXorbUploadRefusals(t *testing.T) {
	_, url, tok, dir := xetTestServer(t)
	xorb, xh, shard := testXetFile(1, 1<<20)
	xorbURL := url + "/v1/xorbs/default/" + xh.String()
	flipped := bytes.Clone(xorb)
	flipped[len(flipped)/2] ^= 1
	wrongSHA := *shard
	wrongSHA.Files = []xet.FileInfo{shard.Files[0]}
	wrongSHA.Files[0].SHA256[0] ^= 1
	for _, c := range []struct {
		name, url string
		body      []byte
		msg       string
	}{
		{"flipped byte", xorbURL, flipped, "chunk"},
		{"truncated", xorbURL, xorb[:len(xorb)-1000], "truncated"},
		{"cut at a chunk boundary", xorbURL, xorb[:0], "no chunks"},
	} {
		res := casPost(t, c.url, tok, bytes.NewReader(c.body))
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 400 || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s: %d %s; want 400 mentioning %q", c.name, res.StatusCode, body, c.msg)
		}
	}
	if left := storedFiles(dir); len(left) > 0 {
		t.Fatalf("refused xorbs left %v", left)
	}
	if res := casPost(t, xorbURL, tok, bytes.NewReader(xorb)); res.StatusCode != 200 {
		t.Fatalf("valid xorb: %d", res.StatusCode)
	}
	before := len(storedFiles(dir))
	res := casPost(t, url+"/v1/shards", tok, bytes.NewReader(wrongSHA.MarshalUpload()))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(body), "SHA-256") {
		t.Errorf("shard with a wrong SHA-256: %d %s", res.StatusCode, body)
	}
	if after := len(storedFiles(dir)); after != before {
		t.Errorf("refused shard stored %d objects", after-before)
	}
	if res := casPost(t, url+"/v1/shards", tok, bytes.NewReader(shard.MarshalUpload())); res.StatusCode != 200 {
		t.Fatalf("valid shard: %d", res.StatusCode)
	}
}

// TestXorbUploadCap fills the one upload slot: the next upload waits, then
// is answered 503 with Retry-After and stores nothing; once the slot is
// free it goes through.
func TestXorbUploadCap(t *testing.T) {
	s, url, tok, dir := xetTestServer(t)
	defer func(d time.Duration) { xorbSlotWait = d }(xorbSlotWait)
	xorbSlotWait = 100 * time.Millisecond
	xorb, xh, _ := testXetFile(2, 300<<10)
	xorbURL := url + "/v1/xorbs/default/" + xh.String()

	s.xorbSlots <- struct{}{}
	res := casPost(t, xorbURL, tok, bytes.NewReader(xorb))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("upload past the cap: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if left := storedFiles(dir); len(left) > 0 {
		t.Fatalf("refused upload stored %v", left)
	}
	// A slot that comes free while the upload waits is taken.
	go func() {
		time.Sleep(20 * time.Millisecond)
		<-s.xorbSlots
	}()
	if res := casPost(t, xorbURL, tok, bytes.NewReader(xorb)); res.StatusCode != 200 {
		t.Fatalf("upload after the slot came free: %d", res.StatusCode)
	}
	if n := len(s.xorbSlots); n != 0 {
		t.Fatalf("%d slots still taken after the uploads", n)
	}
}
