package casapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/xet"
)

// crc64NVME is the CRC-64/NVME table, for the checksum clients declare.
var crc64NVME = crc64.MakeTable(0x9A6C9329AC4BC9B5)

type testGrant struct {
	ID      string            `json:"id"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
}

func requestGrant(t *testing.T, url, tok string, xh xet.Hash, length int64, crc uint64) (int, *testGrant) {
	t.Helper()
	body := fmt.Sprintf(`{"length": %d, "checksum": {"algo": "crc64nvme", "value": "%d"}}`, length, crc)
	res := casPost(t, url+"/v1/xorb-grants/default/"+xh.String(), tok, strings.NewReader(body))
	var g testGrant
	if res.StatusCode == http.StatusCreated {
		if err := json.NewDecoder(res.Body).Decode(&g); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, &g
}

func sendToGrant(t *testing.T, g *testGrant, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(g.Method, g.URL, bytes.NewReader(body))
	for k, v := range g.Headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(msg)
}

// TestXorbUploadGrants runs the grant flow: a grant for a new xorb (201),
// the upload to its URL without the CAS token, and the commit; uploads
// whose bytes or length differ from the grant are refused and store
// nothing, so that their commit is 404; a stored xorb needs no grant (200)
// and a second upload to a grant is 412; a grant cannot be committed with a
// token of another scope, nor used once expired or altered.
func TestXorbUploadGrants(t *testing.T) {
	s, url, tok, dir := xetTestServer(t)
	xorb, xh, _ := testXetFile(3, 500<<10)
	crc := crc64.Checksum(xorb, crc64NVME)
	commit := func(g *testGrant, tok string) int {
		res := casPost(t, url+"/v1/xorb-commits/default/"+xh.String()+"/grant/"+g.ID, tok, nil)
		return res.StatusCode
	}

	flipped := bytes.Clone(xorb)
	flipped[len(flipped)/3] ^= 1
	for _, c := range []struct {
		name   string
		length int64
		crc    uint64
		body   []byte
		msg    string
	}{
		{"flipped byte", int64(len(xorb)), crc64.Checksum(flipped, crc64NVME), flipped, "chunk"},
		{"other length", int64(len(xorb)) - 1, crc, xorb, "bytes"},
	} {
		code, g := requestGrant(t, url, tok, xh, c.length, c.crc)
		if code != http.StatusCreated {
			t.Fatalf("%s: grant %d", c.name, code)
		}
		if code, msg := sendToGrant(t, g, c.body); code != 400 || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: upload %d %s; want 400 mentioning %q", c.name, code, msg, c.msg)
		}
		if code := commit(g, tok); code != http.StatusNotFound {
			t.Errorf("%s: commit %d, want 404", c.name, code)
		}
	}
	if left := storedFiles(dir); len(left) > 0 {
		t.Fatalf("refused uploads stored %v", left)
	}

	code, g := requestGrant(t, url, tok, xh, int64(len(xorb)), crc)
	if code != http.StatusCreated || g.Method != "PUT" || !strings.HasPrefix(g.URL, url+"/v1/xorb-uploads/") {
		t.Fatalf("grant = %d %+v", code, g)
	}
	other := Token(s.secret, Claims{Repo: 2, Write: true, Exp: time.Now().Add(time.Hour).Unix()})
	tampered := *g
	dot := strings.LastIndex(g.URL, ".")
	tampered.URL = g.URL[:dot] + ".0" + g.URL[dot+1:]
	if code, _ := sendToGrant(t, &tampered, xorb); code != http.StatusForbidden {
		t.Errorf("upload to an altered grant: %d, want 403", code)
	}
	if code, msg := sendToGrant(t, g, xorb); code != 200 {
		t.Fatalf("upload: %d %s", code, msg)
	}
	if code := commit(g, other); code != http.StatusForbidden {
		t.Errorf("commit with another repository's token: %d, want 403", code)
	}
	if code := commit(g, tok); code != 200 {
		t.Errorf("commit: %d", code)
	}
	if code, _ := sendToGrant(t, g, xorb); code != http.StatusPreconditionFailed {
		t.Errorf("second upload to the grant: %d, want 412", code)
	}
	if code, _ := requestGrant(t, url, tok, xh, int64(len(xorb)), crc); code != 200 {
		t.Errorf("grant for a stored xorb: %d, want 200", code)
	}
	if x, err := s.cas.Xorb(t.Context(), xh); err != nil || x.DataLen != len(xorb) {
		t.Errorf("stored xorb = %v, %v", x, err)
	}

	expired := s.grantID(xorbGrant{Xorb: xh.String(), Len: 1, Exp: time.Now().Add(-time.Minute).Unix()})
	if code, msg := sendToGrant(t, &testGrant{Method: "PUT", URL: url + "/v1/xorb-uploads/" + expired}, []byte("x")); code != http.StatusForbidden || !strings.Contains(msg, "expired") {
		t.Errorf("upload to an expired grant: %d %s", code, msg)
	}
	read := Token(s.secret, Claims{Repo: 1, Exp: time.Now().Add(time.Hour).Unix()})
	if code, _ := requestGrant(t, url, read, xh, int64(len(xorb)), crc); code != http.StatusForbidden {
		t.Errorf("grant with a read token: %d, want 403", code)
	}
}

// readFrames reads the NDJSON frames of a /v2/shards answer.
func readFrames(t *testing.T, res *http.Response) []shardEvent {
	t.Helper()
	var out []shardEvent
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var ev shardEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("frame %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// TestShardUploadV2 sends shards to /v2/shards: a malformed one is a plain
// 400, one that fails its checks is a stream ending in a non-retryable
// error frame that registers nothing, and a valid one streams validating,
// committing and result frames and registers its file.
func TestShardUploadV2(t *testing.T) {
	s, url, tok, _ := xetTestServer(t)
	xorb, xh, shard := testXetFile(4, 700<<10)
	if res := casPost(t, url+"/v1/xorbs/default/"+xh.String(), tok, bytes.NewReader(xorb)); res.StatusCode != 200 {
		t.Fatalf("xorb: %d", res.StatusCode)
	}
	oid := shard.Files[0].SHA256.String()

	if res := casPost(t, url+"/v2/shards", tok, strings.NewReader("not a shard")); res.StatusCode != 400 {
		t.Errorf("malformed shard: %d, want 400", res.StatusCode)
	}
	wrongSHA := *shard
	wrongSHA.Files = []xet.FileInfo{shard.Files[0]}
	wrongSHA.Files[0].SHA256[0] ^= 1
	res := casPost(t, url+"/v2/shards", tok, bytes.NewReader(wrongSHA.MarshalUpload()))
	frames := readFrames(t, res)
	last := frames[len(frames)-1]
	if res.StatusCode != 200 || last.Type != "error" || last.Retryable == nil || *last.Retryable || !strings.Contains(last.Message, "SHA-256") {
		t.Errorf("shard with a wrong SHA-256: %d %+v", res.StatusCode, frames)
	}
	if _, err := s.cas.FileBySHA256(t.Context(), wrongSHA.Files[0].SHA256.String()); err == nil {
		t.Error("a refused shard registered its file")
	}

	res = casPost(t, url+"/v2/shards", tok, bytes.NewReader(shard.MarshalUpload()))
	var types []string
	for _, ev := range readFrames(t, res) {
		types = append(types, ev.Type)
	}
	if got := strings.Join(types, ","); res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" || got != "validating,validating,committing,result" {
		t.Errorf("valid shard: %d %q, frames %s", res.StatusCode, res.Header.Get("Content-Type"), got)
	}
	if f, err := s.cas.FileBySHA256(t.Context(), oid); err != nil || f.Hash != shard.Files[0].Hash {
		t.Errorf("registered file = %v, %v", f, err)
	}
	if res := casPost(t, url+"/v2/shards", "xet_bad.token", bytes.NewReader(shard.MarshalUpload())); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", res.StatusCode)
	}
}
