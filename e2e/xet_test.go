package e2e

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/xet"
)

// xetToken fetches a CAS token from the Hub API and returns it with the CAS URL.
func (a *api) xetToken(typePlural, id, kind, rev string) (casURL, token string) {
	a.t.Helper()
	var out struct {
		CasURL      string `json:"casUrl"`
		AccessToken string `json:"accessToken"`
		Exp         int64  `json:"exp"`
	}
	a.json("GET", "/api/"+typePlural+"/"+id+"/xet-"+kind+"-token/"+rev, nil, http.StatusOK, &out)
	if out.CasURL == "" || out.AccessToken == "" || out.Exp < time.Now().Unix() {
		a.t.Fatalf("xet-%s-token answer incomplete: %+v", kind, out)
	}
	return out.CasURL, out.AccessToken
}

// xetUpload is a file prepared the way a Xet client prepares it: chunks
// packed into one xorb, and a shard that registers the file.
type xetUpload struct {
	data      []byte
	xorb      []byte
	xorbHash  xet.Hash
	shard     *xet.Shard
	fileHash  xet.Hash
	sha256Hex string
}

func prepareXet(t *testing.T, data []byte) *xetUpload {
	t.Helper()
	var chunks [][]byte
	rest := data
	for _, n := range xet.Chunks(data) {
		chunks = append(chunks, rest[:n])
		rest = rest[n:]
	}
	u := &xetUpload{data: data}
	u.xorb, u.xorbHash = xet.EncodeXorb(chunks)
	var refs []xet.ChunkRef
	var hashes []xet.Hash
	xi := xet.XorbInfo{Hash: u.xorbHash, BytesOnDisk: uint32(len(u.xorb))}
	for _, c := range chunks {
		h := xet.ChunkHash(c)
		xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: h, Offset: xi.BytesInXorb, Size: uint32(len(c))})
		xi.BytesInXorb += uint32(len(c))
		refs = append(refs, xet.ChunkRef{Hash: h, Size: uint64(len(c))})
		hashes = append(hashes, h)
	}
	u.fileHash = xet.FileHash(refs)
	u.sha256Hex = sha256Hex(data)
	// The shard carries the SHA-256 in the protocol's hash byte order, so
	// that its string form is the usual hex digest.
	sumHash, _ := xet.ParseHash(u.sha256Hex)
	u.shard = &xet.Shard{
		Files: []xet.FileInfo{{
			Hash:      u.fileHash,
			Terms:     []xet.FileTerm{{Xorb: u.xorbHash, Size: xi.BytesInXorb, Start: 0, End: uint32(len(chunks)), Verification: xet.VerificationHash(hashes)}},
			Verified:  true,
			SHA256:    sumHash,
			HasSHA256: true,
		}},
		Xorbs: []xet.XorbInfo{xi},
	}
	return u
}

// cas sends one CAS request and returns the status and body.
func casDo(t *testing.T, method, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

// xetFiles lists the objects the server keeps under blobs/xet.
func xetFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dataDir, "blobs", "xet")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// TestXetPython runs e2e/python_xet: the default huggingface_hub client with
// hf_xet (no HF_HUB_DISABLE_XET) uploads and downloads through Xet, and the
// files are then fetched with git + git-lfs and plain ranged HTTP.
func TestXetPython(t *testing.T) {
	runXetPython(t, serverOpts{})
}

// TestXetPythonS3 runs the same suite against a server whose blob store is
// HAVEN_TEST_S3_URL: xorbs, file records and indexes live in S3, reads of
// chunk ranges are ranged GETs, and the sweep's listings are S3 listings.
func TestXetPythonS3(t *testing.T) {
	if os.Getenv("HAVEN_TEST_S3_URL") == "" {
		if requireOK {
			t.Fatal("HAVEN_TEST_S3_URL must be set when HAVEN_TEST_REQUIRE_SERVICES=1")
		}
		t.Skip("HAVEN_TEST_S3_URL is not set")
	}
	runXetPython(t, serverOpts{S3: true})
}

func runXetPython(t *testing.T, opts serverOpts) {
	pytest := pytestPath(t)
	if err := exec.Command(filepath.Join(repoRoot, ".venv", "bin", "python"), "-c", "import hf_xet").Run(); err != nil {
		skipOrFail(t, "hf_xet is not installed in .venv")
	}
	g := newGitEnv(t)
	s := startServer(t, opts)
	f := s.setupAccounts()
	cmd := exec.Command(pytest, filepath.Join(repoRoot, "e2e", "python_xet"), "-q", "-rfEs", "-p", "no:cacheprovider")
	cmd.Dir = repoRoot
	env := filterEnv(s.clientEnv(t, f), "HF_HUB_DISABLE_XET=", "HOME=", "GIT_")
	report := filepath.Join(t.TempDir(), "converted")
	cmd.Env = append(env,
		"HAVEN_XORBS_DIR="+s.xorbsDir(),
		"HAVEN_XET_REPORT="+report,
		"PATH="+filepath.Join(repoRoot, ".venv", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, kv := range g.env {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	runLogged(t, 15*time.Minute, cmd)
	checkXetRoutes(t, s.log.String(), report)
	if opts.S3 {
		// The uploads must have gone to S3, not to the data folder.
		if got := xetFiles(t, s.DataDir); len(got) > 0 {
			t.Errorf("with --blob-store s3://… Xet data was written to the data folder: %v", got[:min(len(got), 5)])
		}
	}
}

// checkXetRoutes checks in the server's request log that the client used
// the routes it prefers (upload grants and /v2/shards) and never needed
// to fall back to /v1, and that the file uploaded as a plain LFS object was
// downloaded through a reconstruction once converted.
func checkXetRoutes(t *testing.T, log, report string) {
	t.Helper()
	for _, want := range []string{
		"method=POST path=/v1/xorb-grants/default/",
		"method=PUT path=/v1/xorb-uploads/",
		"method=POST path=/v1/xorb-commits/default/",
		"method=POST path=/v2/shards status=200",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the server log has no %q: the client did not use that route", want)
		}
	}
	for _, fallback := range []string{"method=POST path=/v1/xorbs/", "method=POST path=/v1/shards "} {
		if n := strings.Count(log, fallback); n > 0 {
			t.Errorf("the client fell back to %q %d times", fallback, n)
		}
	}
	hash, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("the conversion test wrote no report: %v", err)
	}
	if want := "path=/v2/reconstructions/" + string(hash) + " status=200"; !strings.Contains(log, want) {
		t.Errorf("the server log has no %q: the converted file was not downloaded through Xet", want)
	}
}

// xorbsDir is the local folder in which s keeps xorbs: under the data folder,
// or, for the S3 server that scripts/start-s3.sh starts (versitygw keeping
// each object as a file under HAVEN_TEST_S3_DIR/data/<bucket>/<key>), under
// that. It is "-" for any other S3 service.
func (s *server) xorbsDir() string {
	store := ""
	for i, a := range s.extra {
		if a == "--blob-store" && i+1 < len(s.extra) {
			store = s.extra[i+1]
		}
	}
	if store == "" {
		return filepath.Join(s.DataDir, "blobs", "xet", "xorbs")
	}
	dir := os.Getenv("HAVEN_TEST_S3_DIR")
	u, err := url.Parse(store)
	if dir == "" || err != nil {
		return "-"
	}
	return filepath.Join(dir, "data", filepath.FromSlash(strings.Trim(u.Path, "/")), "xet", "xorbs")
}

// TestXetUploadVerification uploads through the CAS API directly: a valid
// xorb and shard register a file that a commit can name by SHA-256, and
// corrupt xorbs and shards are refused with 400 and leave nothing behind.
func TestXetUploadVerification(t *testing.T) {
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "cas", false)
	cas, tok := alice.xetToken("models", "alice/cas", "write", "main")
	_, readTok := s.api(f.AliceRead).xetToken("models", "alice/cas", "read", "main")

	up := prepareXet(t, randomBytes(41, 3<<20))
	xorbURL := cas + "/v1/xorbs/default/" + up.xorbHash.String()

	t.Run("corrupt uploads are refused", func(t *testing.T) {
		flipped := append([]byte(nil), up.xorb...)
		flipped[len(flipped)/2] ^= 1
		other := prepareXet(t, randomBytes(42, 100<<10))
		missingXorb := other.shard.MarshalUpload()
		badVerification := *up.shard
		badVerification.Files = append([]xet.FileInfo(nil), up.shard.Files...)
		badVerification.Files[0].Terms = append([]xet.FileTerm(nil), up.shard.Files[0].Terms...)
		badVerification.Files[0].Terms[0].Verification[0] ^= 1
		wrongSHA := *up.shard
		wrongSHA.Files = append([]xet.FileInfo(nil), up.shard.Files...)
		wrongSHA.Files[0].SHA256[3] ^= 1
		cases := []struct {
			name, url, token string
			body             []byte
			want             int
			msg              string
		}{
			{"xorb with a flipped byte", xorbURL, tok, flipped, 400, "hash"},
			{"truncated xorb", xorbURL, tok, up.xorb[:len(up.xorb)-100], 400, "truncated"},
			{"xorb under another hash (wrong merkle root)", cas + "/v1/xorbs/default/" + other.xorbHash.String(), tok, up.xorb, 400, "xorb hash mismatch"},
			{"xorb with a read token", xorbURL, readTok, up.xorb, 403, "read-only"},
			{"xorb without a token", xorbURL, "", up.xorb, 401, "token"},
			{"shard naming a missing xorb", cas + "/v1/shards", tok, missingXorb, 400, "not uploaded"},
			{"truncated shard", cas + "/v1/shards", tok, up.shard.MarshalUpload()[:200], 400, "truncated"},
			{"not a shard", cas + "/v1/shards", tok, []byte("hello"), 400, "magic"},
		}
		for _, c := range cases {
			status, body := casDo(t, "POST", c.url, c.token, c.body)
			if status != c.want || !strings.Contains(string(body), c.msg) {
				t.Errorf("%s: status %d, body %s; want %d mentioning %q", c.name, status, truncate(body, 300), c.want, c.msg)
			}
		}
		if left := xetFiles(t, s.DataDir); len(left) != 0 {
			t.Fatalf("refused uploads left objects behind: %v", left)
		}
		// Now store the xorb, then send shards that lie about it.
		if status, body := casDo(t, "POST", xorbURL, tok, up.xorb); status != 200 || !strings.Contains(string(body), `"was_inserted":true`) {
			t.Fatalf("valid xorb: status %d: %s", status, body)
		}
		before := len(xetFiles(t, s.DataDir))
		for name, sh := range map[string]*xet.Shard{"wrong verification hash": &badVerification, "wrong SHA-256": &wrongSHA} {
			if status, body := casDo(t, "POST", cas+"/v1/shards", tok, sh.MarshalUpload()); status != 400 {
				t.Errorf("shard with %s: status %d: %s", name, status, truncate(body, 300))
			}
		}
		if after := len(xetFiles(t, s.DataDir)); after != before {
			t.Errorf("refused shards stored %d objects", after-before)
		}
	})

	t.Run("valid upload, commit, download, dedup query", func(t *testing.T) {
		casDo(t, "POST", xorbURL, tok, up.xorb)
		status, body := casDo(t, "POST", xorbURL, tok, up.xorb)
		if status != 200 || !strings.Contains(string(body), `"was_inserted":false`) {
			t.Fatalf("second xorb upload: status %d: %s", status, body)
		}
		if status, body := casDo(t, "POST", cas+"/v1/shards", tok, up.shard.MarshalUpload()); status != 200 {
			t.Fatalf("shard: status %d: %s", status, body)
		}
		alice.commit("models", "alice/cas", "main", "add weights", commitLine{Key: "lfsFile", Value: map[string]any{
			"path": "weights.bin", "algo": "sha256", "oid": up.sha256Hex, "size": len(up.data)}})
		got, hdr := alice.resolve("", "alice/cas", "main", "weights.bin")
		if !bytes.Equal(got, up.data) {
			t.Fatal("resolve returned other bytes than uploaded")
		}
		if hdr.Get("X-Xet-Hash") != up.fileHash.String() || !strings.Contains(hdr.Get("Link"), `rel="xet-auth"`) {
			t.Errorf("resolve headers: X-Xet-Hash %q, Link %q", hdr.Get("X-Xet-Hash"), hdr.Get("Link"))
		}
		// Range through resolve, and past the end.
		resp, part := alice.do("GET", "/alice/cas/resolve/main/weights.bin", nil, map[string]string{"Range": "bytes=1000000-1000099"})
		if resp.StatusCode != 206 || !bytes.Equal(part, up.data[1000000:1000100]) {
			t.Errorf("ranged resolve: status %d, %d bytes", resp.StatusCode, len(part))
		}
		// Reconstruction API with a range, and 416 past the end.
		rURL := cas + "/v1/reconstructions/" + up.fileHash.String()
		req, _ := http.NewRequest("GET", rURL, nil)
		req.Header.Set("Authorization", "Bearer "+readTok)
		req.Header.Set("Range", "bytes=100000-199999")
		rresp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Offset int64 `json:"offset_into_first_range"`
			Terms  []struct {
				Hash  string                   `json:"hash"`
				Range struct{ Start, End int } `json:"range"`
			} `json:"terms"`
			FetchInfo map[string][]struct {
				URL      string                     `json:"url"`
				URLRange struct{ Start, End int64 } `json:"url_range"`
			} `json:"fetch_info"`
		}
		json.NewDecoder(rresp.Body).Decode(&rec)
		rresp.Body.Close()
		if rresp.StatusCode != 200 || len(rec.Terms) != 1 || rec.Offset <= 0 || len(rec.FetchInfo[up.xorbHash.String()]) != 1 {
			t.Fatalf("reconstruction: status %d, %+v", rresp.StatusCode, rec)
		}
		fi := rec.FetchInfo[up.xorbHash.String()][0]
		freq, _ := http.NewRequest("GET", fi.URL, nil)
		freq.Header.Set("Range", "bytes="+itoa(fi.URLRange.Start)+"-"+itoa(fi.URLRange.End))
		fresp, err := http.DefaultClient.Do(freq)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		raw.ReadFrom(fresp.Body)
		fresp.Body.Close()
		decoded, err := xet.DecodeChunks(nil, raw.Bytes())
		if err != nil || !bytes.Equal(decoded[rec.Offset:rec.Offset+100000], up.data[100000:200000]) {
			t.Fatalf("xorb range (status %d) does not decode to the requested bytes: %v", fresp.StatusCode, err)
		}
		req.Header.Set("Range", "bytes="+itoa(int64(len(up.data)))+"-")
		if rresp, err := http.DefaultClient.Do(req); err != nil || rresp.StatusCode != 416 {
			t.Errorf("reconstruction past the end: %v, status %v", err, rresp.StatusCode)
		}
		testReconstructionV2(t, cas, tok, readTok, up)
		// The first chunk of every file answers a dedup query.
		first := up.shard.Xorbs[0].Chunks[0].Hash
		status, shard := casDo(t, "GET", cas+"/v1/chunks/default-merkledb/"+first.String(), readTok, nil)
		if sh, err := xet.ParseShard(shard); status != 200 || err != nil || len(sh.Xorbs) != 1 || sh.Xorbs[0].Hash != up.xorbHash {
			t.Errorf("dedup query: status %d, %v", status, err)
		}
		var unknown xet.Hash
		unknown[0] = 7
		if status, _ := casDo(t, "GET", cas+"/v1/chunks/default-merkledb/"+unknown.String(), readTok, nil); status != 404 {
			t.Errorf("dedup query for an unknown chunk: status %d, want 404", status)
		}
		// git-lfs downloads through the batch API get the reconstructed bytes too.
		obj := alice.lfsBatch("alice/cas", "download", up.sha256Hex, int64(len(up.data)))
		dl, ok := obj.Actions["download"]
		if !ok {
			t.Fatalf("LFS batch download offers no action: %+v", obj)
		}
		resp, got = s.api("").do("GET", dl.Href, nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(got, up.data) {
			t.Errorf("LFS download of a Xet file: status %d, equal %v", resp.StatusCode, bytes.Equal(got, up.data))
		}
	})

	t.Run("garbage collection", func(t *testing.T) {
		keep := prepareXet(t, randomBytes(43, 500<<10))
		casDo(t, "POST", cas+"/v1/xorbs/default/"+keep.xorbHash.String(), tok, keep.xorb)
		casDo(t, "POST", cas+"/v1/shards", tok, keep.shard.MarshalUpload())
		before := alice.commit("models", "alice/cas", "main", "add kept", commitLine{Key: "lfsFile", Value: map[string]any{
			"path": "kept.bin", "algo": "sha256", "oid": keep.sha256Hex, "size": len(keep.data)}})
		alice.commit("models", "alice/cas", "main", "remove weights", commitLine{Key: "deletedFile", Value: map[string]any{"path": "weights.bin"}})
		// History still reaches the old file: nothing may go yet.
		out := s.admin("gc", "--grace", "0s")
		if _, hdr := alice.resolve("", "alice/cas", before, "weights.bin"); hdr.Get("X-Xet-Hash") == "" {
			t.Fatalf("gc removed a file that history still reaches (%s)", out)
		}
		alice.json("POST", "/api/models/alice/cas/super-squash/main", map[string]any{"message": "squash"}, http.StatusOK, nil)
		// A grace period protects recent objects.
		if out := s.admin("gc", "--grace", "1h"); !strings.Contains(out, "0 xorbs") {
			t.Errorf("gc with a grace period removed xorbs: %s", out)
		}
		out = s.admin("gc", "--grace", "0s")
		if !strings.Contains(out, "1 xorbs") {
			t.Errorf("gc after super-squash: %s; want 1 xorb removed", out)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, "blobs", "xet", "xorbs", up.xorbHash.String()[:2], up.xorbHash.String())); err == nil {
			t.Error("the unreachable xorb is still stored")
		}
		if got, _ := alice.resolve("", "alice/cas", "main", "kept.bin"); !bytes.Equal(got, keep.data) {
			t.Error("gc broke a file the branch still has")
		}
	})
}

// TestXetConvertBackfill stores an LFS object on a server that does not
// convert, then queues its conversion with `haven xet-convert`: the server,
// restarted with conversions on, converts it, and then resolve advertises it
// and its reconstruction serves the same bytes.
func TestXetConvertBackfill(t *testing.T) {
	t.Setenv("HAVEN_XET_CONVERT", "false")
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "old", false)
	data := randomBytes(45, 3<<20)
	alice.uploadLFS("alice/old", data)
	alice.commit("models", "alice/old", "main", "add", commitLine{Key: "lfsFile", Value: map[string]any{
		"path": "w.bin", "algo": "sha256", "oid": sha256Hex(data), "size": len(data)}})
	if _, hdr := alice.resolve("", "alice/old", "main", "w.bin"); hdr.Get("X-Xet-Hash") != "" {
		t.Fatal("a server started with --xet-convert=false converted an upload")
	}

	s.Stop()
	if out := s.admin("xet-convert"); !strings.Contains(out, "queued 1 conversions") {
		t.Fatalf("haven xet-convert: %s", out)
	}
	t.Setenv("HAVEN_XET_CONVERT", "true")
	s.start()
	var xh string
	for deadline := time.Now().Add(time.Minute); xh == ""; time.Sleep(200 * time.Millisecond) {
		got, hdr := alice.resolve("", "alice/old", "main", "w.bin")
		if !bytes.Equal(got, data) {
			t.Fatal("resolve changed the bytes")
		}
		xh = hdr.Get("X-Xet-Hash")
		if xh == "" && time.Now().After(deadline) {
			t.Fatal("the queued conversion did not happen within a minute")
		}
	}
	cas, tok := alice.xetToken("models", "alice/old", "read", "main")
	status, body := casDo(t, "GET", cas+"/v2/reconstructions/"+xh, tok, nil)
	if status != 200 || !strings.Contains(string(body), `"terms"`) {
		t.Fatalf("reconstruction of the converted file: %d %s", status, body)
	}
	if out := s.admin("xet-convert"); !strings.Contains(out, "queued 0 conversions") {
		t.Errorf("haven xet-convert after the conversion: %s", out)
	}
}

// TestXetDisabled checks that --xet=false (HAVEN_XET=false) hides every
// Xet signal while files stored through Xet stay downloadable.
func TestXetDisabled(t *testing.T) {
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "off", false)
	cas, tok := alice.xetToken("models", "alice/off", "write", "main")
	up := prepareXet(t, randomBytes(44, 1<<20))
	casDo(t, "POST", cas+"/v1/xorbs/default/"+up.xorbHash.String(), tok, up.xorb)
	if status, body := casDo(t, "POST", cas+"/v1/shards", tok, up.shard.MarshalUpload()); status != 200 {
		t.Fatalf("shard: %d %s", status, body)
	}
	alice.commit("models", "alice/off", "main", "add", commitLine{Key: "lfsFile", Value: map[string]any{
		"path": "w.bin", "algo": "sha256", "oid": up.sha256Hex, "size": len(up.data)}})

	t.Setenv("HAVEN_XET", "false")
	s.Stop()
	s.start()
	got, hdr := alice.resolve("", "alice/off", "main", "w.bin")
	if !bytes.Equal(got, up.data) {
		t.Fatal("a Xet-stored file is not downloadable with Xet off")
	}
	if hdr.Get("X-Xet-Hash") != "" || hdr.Get("Link") != "" {
		t.Errorf("resolve advertises Xet while off: %v", hdr)
	}
	if resp, _ := alice.do("GET", "/api/models/alice/off/xet-read-token/main", nil, nil); resp.StatusCode != 404 {
		t.Errorf("xet-read-token while off: status %d, want 404", resp.StatusCode)
	}
	if status, _ := casDo(t, "POST", cas+"/v1/shards", tok, up.shard.MarshalUpload()); status == 200 {
		t.Error("the CAS accepts shards while off")
	}
	_, body := alice.do("GET", "/api/models/alice/off/tree/main", nil, nil)
	if strings.Contains(string(body), "xetHash") {
		t.Errorf("tree lists xetHash while off: %s", body)
	}
	var info map[string]any
	alice.json("GET", "/api/models/alice/off?expand[]=xetEnabled", nil, http.StatusOK, &info)
	if info["xetEnabled"] == true {
		t.Error("repo info says xetEnabled while off")
	}
	resp, data := alice.do("POST", "/alice/off.git/info/lfs/objects/batch", map[string]any{
		"operation": "upload", "transfers": []string{"basic", "xet"},
		"objects": []map[string]any{{"oid": sha256Hex([]byte("x")), "size": 1}},
	}, map[string]string{"Content-Type": "application/vnd.git-lfs+json"})
	if resp.StatusCode != 200 || strings.Contains(string(data), "xet") {
		t.Errorf("LFS batch while off: status %d: %s", resp.StatusCode, data)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestXetHashCapability pins down what a CAS read token grants. The token
// names one repository, but the CAS serves any stored file by its Xet hash,
// as the LFS batch API serves any stored object by its SHA-256: the hash is
// the capability. What keeps it one is that nothing hands a file hash to
// someone who cannot read a repository naming the file: tokens for a
// repository need read access to it, the dedup answer lists xorbs and keyed
// chunk hashes but no file, and xorb bytes are only served on URLs signed in
// a reconstruction answer.
func TestXetHashCapability(t *testing.T) {
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice, bob := s.api(f.Alice), s.api(f.Bob)
	alice.createRepo("model", "alice", "secret", true)
	bob.createRepo("model", "bob", "open", false)
	cas, aliceTok := alice.xetToken("models", "alice/secret", "write", "main")
	up := prepareXet(t, randomBytes(43, 1<<20))
	if status, body := casDo(t, "POST", cas+"/v1/xorbs/default/"+up.xorbHash.String(), aliceTok, up.xorb); status != 200 {
		t.Fatalf("xorb: %d %s", status, body)
	}
	if status, body := casDo(t, "POST", cas+"/v1/shards", aliceTok, up.shard.MarshalUpload()); status != 200 {
		t.Fatalf("shard: %d %s", status, body)
	}

	// Bob gets no token for the private repository.
	if resp, _ := bob.do("GET", "/api/models/alice/secret/xet-read-token/main", nil, nil); resp.StatusCode != 404 && resp.StatusCode != 403 {
		t.Errorf("bob's read token for alice/secret: status %d", resp.StatusCode)
	}
	_, bobTok := bob.xetToken("models", "bob/open", "read", "main")
	// Having the first chunk, he learns where it is, but no file hash.
	status, body := casDo(t, "GET", cas+"/v1/chunks/default-merkledb/"+up.shard.Xorbs[0].Chunks[0].Hash.String(), bobTok, nil)
	if sh, err := xet.ParseShard(body); status != 200 || err != nil || len(sh.Files) != 0 {
		t.Errorf("dedup answer: status %d, %v", status, err)
	}
	// The xorb is not served without a signed URL.
	if status, _ := casDo(t, "GET", cas+"/v1/fetch/"+up.xorbHash.String(), bobTok, nil); status != 403 {
		t.Errorf("unsigned xorb fetch: status %d, want 403", status)
	}
	// With the file hash (which only the content or a readable pointer
	// gives), the file is served whatever repository the token names.
	if status, _ := casDo(t, "GET", cas+"/v1/reconstructions/"+up.fileHash.String(), bobTok, nil); status != 200 {
		t.Errorf("reconstruction by hash with another repository's token: status %d, want 200", status)
	}
	// Without a token, or with a forged one, nothing.
	if status, _ := casDo(t, "GET", cas+"/v1/reconstructions/"+up.fileHash.String(), "", nil); status != 401 {
		t.Errorf("reconstruction without a token: status %d, want 401", status)
	}
	if status, _ := casDo(t, "GET", cas+"/v1/reconstructions/"+up.fileHash.String(), bobTok[:len(bobTok)-2]+"00", nil); status != 401 {
		t.Errorf("reconstruction with a tampered token: status %d, want 401", status)
	}
}

// testReconstructionV2 registers a file whose terms re-use chunks of up's
// xorb, overlapping ([0,2) and [1,3)) and apart ([4,5)), and reads it back
// through /v2/reconstructions: one URL for the xorb, the overlapping ranges
// merged, and both single-range and multi-range GETs of that URL giving
// bytes that decode to the file.
func testReconstructionV2(t *testing.T, cas, tok, readTok string, up *xetUpload) {
	t.Helper()
	xi := up.shard.Xorbs[0]
	chunk := func(i int) []byte {
		c := xi.Chunks[i]
		return up.data[c.Offset : c.Offset+c.Size]
	}
	var content []byte
	var refs []xet.ChunkRef
	var terms []xet.FileTerm
	for _, r := range [][2]int{{0, 2}, {1, 3}, {4, 5}} {
		term := xet.FileTerm{Xorb: up.xorbHash, Start: uint32(r[0]), End: uint32(r[1])}
		var hashes []xet.Hash
		for i := r[0]; i < r[1]; i++ {
			content = append(content, chunk(i)...)
			refs = append(refs, xet.ChunkRef{Hash: xi.Chunks[i].Hash, Size: uint64(xi.Chunks[i].Size)})
			hashes = append(hashes, xi.Chunks[i].Hash)
			term.Size += xi.Chunks[i].Size
		}
		term.Verification = xet.VerificationHash(hashes)
		terms = append(terms, term)
	}
	fh := xet.FileHash(refs)
	sh := &xet.Shard{Files: []xet.FileInfo{{Hash: fh, Terms: terms, Verified: true}}}
	if status, body := casDo(t, "POST", cas+"/v1/shards", tok, sh.MarshalUpload()); status != 200 {
		t.Fatalf("shard re-using chunks: status %d: %s", status, body)
	}
	status, body := casDo(t, "GET", cas+"/v2/reconstructions/"+fh.String(), readTok, nil)
	type span struct{ Start, End int64 }
	var rec struct {
		Offset int64 `json:"offset_into_first_range"`
		Terms  []struct {
			Hash           string `json:"hash"`
			UnpackedLength int    `json:"unpacked_length"`
			Range          span   `json:"range"`
		} `json:"terms"`
		Xorbs map[string][]struct {
			URL    string `json:"url"`
			Ranges []struct {
				Chunks span `json:"chunks"`
				Bytes  span `json:"bytes"`
			} `json:"ranges"`
		} `json:"xorbs"`
	}
	if err := json.Unmarshal(body, &rec); status != 200 || err != nil {
		t.Fatalf("v2 reconstruction: status %d, %v: %s", status, err, truncate(body, 300))
	}
	fetches := rec.Xorbs[up.xorbHash.String()]
	if len(rec.Terms) != 3 || rec.Offset != 0 || len(rec.Xorbs) != 1 || len(fetches) != 1 || len(fetches[0].Ranges) != 2 ||
		fetches[0].Ranges[0].Chunks != (span{0, 3}) || fetches[0].Ranges[1].Chunks != (span{4, 5}) {
		t.Fatalf("v2 reconstruction: %s", truncate(body, 600))
	}
	get := func(rangeHeader string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", fetches[0].URL, nil)
		req.Header.Set("Range", rangeHeader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	// Decoded chunks of each listed range, by chunk index.
	chunks := map[int64][]byte{}
	keep := func(chunkStart int64, raw []byte) {
		decoded, err := xet.DecodeChunks(nil, raw)
		if err != nil {
			t.Fatalf("range from chunk %d does not decode: %v", chunkStart, err)
		}
		for i := chunkStart; len(decoded) > 0; i++ {
			n := int(xi.Chunks[i].Size)
			chunks[i], decoded = decoded[:n], decoded[n:]
		}
	}
	var multi []string
	for _, r := range fetches[0].Ranges {
		h := "bytes=" + itoa(r.Bytes.Start) + "-" + itoa(r.Bytes.End)
		multi = append(multi, itoa(r.Bytes.Start)+"-"+itoa(r.Bytes.End))
		resp, raw := get(h)
		if resp.StatusCode != 206 {
			t.Fatalf("GET %s: status %d", h, resp.StatusCode)
		}
		keep(r.Chunks.Start, raw)
	}
	var rebuilt []byte
	for _, term := range rec.Terms {
		for i := term.Range.Start; i < term.Range.End; i++ {
			rebuilt = append(rebuilt, chunks[i]...)
		}
	}
	if !bytes.Equal(rebuilt, content) {
		t.Fatal("the v2 ranges do not rebuild the file")
	}
	// One multi-range GET answers the same bytes as multipart/byteranges.
	resp, _ := get("bytes=" + strings.Join(multi, ","))
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") {
		t.Errorf("multi-range GET: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
