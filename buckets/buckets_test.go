package buckets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/buckets"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casapi"
	"github.com/havenhub/haven/xet/casstore"
)

var secret = []byte("test-secret-test-secret-test-secret")

type hub struct {
	url    string
	svc    *buckets.Service
	tokens map[string]string // "alice", "alice-read", "bob" → token
	actors map[string]*auth.Actor
}

// newHub serves the API with the bucket routes, Xet on, and users alice
// (a write and a read token) and bob.
func newHub(t *testing.T) *hub { return newHubXet(t, true) }

// newHubXet is newHub with Xet on or, as haven serve --xet=false runs, off.
func newHubXet(t *testing.T, xetOn bool) *hub {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	ts := httptest.NewUnstartedServer(nil)
	svc := buckets.New(buckets.Config{Meta: st.Meta, Blobs: st.Blobs, PublicURL: "http://" + ts.Listener.Addr().String(), Secret: secret, XetOff: !xetOn})
	var cas *casapi.Server
	if xetOn {
		var err error
		cas, err = casapi.New(casapi.Config{Store: casstore.New(st.Blobs), Secret: secret, PublicURL: "http://" + ts.Listener.Addr().String()})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: "http://" + ts.Listener.Addr().String(),
		Secret: secret, CAS: cas, Routes: []api.Routes{svc}, Web: svc.Files(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	h := &hub{url: ts.URL, svc: svc, tokens: map[string]string{}, actors: map[string]*auth.Actor{}}
	for _, u := range []struct {
		user, key string
		role      haven.Role
	}{{"alice", "alice", haven.RoleWrite}, {"alice", "alice-read", haven.RoleRead}, {"bob", "bob", haven.RoleWrite}} {
		usr, err := st.Meta.UserByName(ctx, u.user)
		if err != nil {
			usr = &haven.User{Name: u.user}
			if err := st.Meta.CreateUser(ctx, usr, ""); err != nil {
				t.Fatal(err)
			}
		}
		plain, hash := auth.NewToken()
		tok := &haven.Token{UserID: usr.ID, Role: u.role}
		if err := st.Meta.CreateToken(ctx, tok, hash); err != nil {
			t.Fatal(err)
		}
		h.tokens[u.key] = plain
		if h.actors[u.key], err = auth.ForUser(ctx, st.Meta, usr, tok); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// do sends a request as who ("" anonymous) and returns the status and body.
func (h *hub) do(t *testing.T, who, method, path string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, h.url+path, rd)
	if who != "" {
		tok := h.tokens[who]
		if strings.HasPrefix(who, "xet_") {
			tok = who
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out, res.Header
}

func TestBucketAPI(t *testing.T) {
	h := newHub(t)
	steps := []struct {
		name, who, method, path string
		body                    any
		want                    int
		contains                string
	}{
		{"create public", "alice", "POST", "/api/buckets/alice/open", map[string]any{}, 200, `"url":"http://`},
		{"create private in me", "alice", "POST", "/api/buckets/me/secret", map[string]any{"visibility": "private"}, 200, "alice/secret"},
		{"create twice", "alice", "POST", "/api/buckets/alice/secret", nil, 409, ""},
		{"create anonymous", "", "POST", "/api/buckets/alice/x", nil, 401, ""},
		{"create with a read token", "alice-read", "POST", "/api/buckets/alice/x", nil, 403, ""},
		{"create in another namespace", "bob", "POST", "/api/buckets/alice/x", nil, 403, ""},
		{"create a reserved name", "alice", "POST", "/api/buckets/alice/resolve", nil, 400, ""},
		{"info", "alice", "GET", "/api/buckets/alice/secret", nil, 200, `"private":true`},
		{"info of a private bucket for another user", "bob", "GET", "/api/buckets/alice/secret", nil, 404, "Bucket not found"},
		{"info of a private bucket anonymous", "", "GET", "/api/buckets/alice/secret", nil, 401, ""},
		{"info of a public bucket anonymous", "", "GET", "/api/buckets/alice/open", nil, 200, `"totalFiles":0`},
		{"list own", "alice", "GET", "/api/buckets/me", nil, 200, "alice/secret"},
		{"list for another user hides private", "bob", "GET", "/api/buckets/alice", nil, 200, "alice/open"},
		{"list search", "alice", "GET", "/api/buckets/alice?search=SEC", nil, 200, "alice/secret"},
		{"write token for a reader", "alice-read", "GET", "/api/buckets/alice/open/xet-write-token", nil, 403, ""},
		{"read token for another user", "bob", "GET", "/api/buckets/alice/open/xet-read-token", nil, 200, "accessToken"},
		{"write token for another user", "bob", "GET", "/api/buckets/alice/open/xet-write-token", nil, 403, ""},
		{"batch by another user", "bob", "POST", "/api/buckets/alice/open/batch", `{"type":"deleteFile","path":"a"}`, 403, ""},
		{"batch of an unknown hash", "alice", "POST", "/api/buckets/alice/open/batch",
			`{"type":"addFile","path":"a.txt","xetHash":"` + strings.Repeat("ab", 32) + `","mtime":1}`, 422, "upload it first"},
		{"batch of a bad path", "alice", "POST", "/api/buckets/alice/open/batch",
			`{"type":"addFile","path":"../a","xetHash":"` + strings.Repeat("ab", 32) + `"}` + "\n" + `{"type":"deleteFile","path":"gone"}`, 200, `"path":"../a"`},
		{"settings by another user", "bob", "PUT", "/api/buckets/alice/open/settings", map[string]any{"private": true}, 403, ""},
		{"settings", "alice", "PUT", "/api/buckets/alice/open/settings", map[string]any{"private": true}, 200, ""},
		{"now hidden", "bob", "GET", "/api/buckets/alice/open/tree", nil, 404, ""},
		{"delete by another user", "bob", "DELETE", "/api/buckets/alice/secret", nil, 404, ""},
		{"delete", "alice", "DELETE", "/api/buckets/alice/secret", nil, 200, ""},
		{"deleted", "alice", "GET", "/api/buckets/alice/secret", nil, 404, ""},
	}
	for _, s := range steps {
		status, body, hdr := h.do(t, s.who, s.method, s.path, s.body)
		if status != s.want || !strings.Contains(string(body), s.contains) {
			t.Errorf("%s: %s %s = %d %s, want %d containing %q", s.name, s.method, s.path, status, body, s.want, s.contains)
		}
		if s.want == 404 && hdr.Get("X-Error-Code") != "RepoNotFound" {
			t.Errorf("%s: X-Error-Code %q, want RepoNotFound (BucketNotFoundError in Python)", s.name, hdr.Get("X-Error-Code"))
		}
	}
}

// uploadXet uploads data as a Xet client does, with the token of the
// bucket's write-token endpoint, and returns its Xet hash.
func uploadXet(t *testing.T, h *hub, token string, data []byte) string {
	t.Helper()
	var chunks [][]byte
	var leaves []xet.ChunkRef
	var hashes []xet.Hash
	for _, n := range xet.Chunks(data) {
		c := data[:n]
		data = data[n:]
		chunks = append(chunks, c)
		hashes = append(hashes, xet.ChunkHash(c))
		leaves = append(leaves, xet.ChunkRef{Hash: xet.ChunkHash(c), Size: uint64(n)})
	}
	body, xh := xet.EncodeXorb(chunks)
	if status, out, _ := h.do(t, token, "POST", "/v1/xorbs/default/"+xh.String(), body); status != 200 {
		t.Fatalf("xorb upload: %d %s", status, out)
	}
	var size uint32
	for _, c := range chunks {
		size += uint32(len(c))
	}
	file := xet.FileInfo{Hash: xet.FileHash(leaves), Verified: true, Terms: []xet.FileTerm{
		{Xorb: xh, Size: size, Start: 0, End: uint32(len(chunks)), Verification: xet.VerificationHash(hashes)},
	}}
	sh := xet.Shard{Files: []xet.FileInfo{file}}
	if status, out, _ := h.do(t, token, "POST", "/v1/shards", sh.MarshalUpload()); status != 200 {
		t.Fatalf("shard upload: %d %s", status, out)
	}
	return file.Hash.String()
}

// TestXetTokenAcceptedByCAS uploads through the CAS with a bucket's write
// token, adds the file by hash, lists it and downloads it.
// TestXetTokenWithXetOff checks that a server without the Xet CAS hands out
// no bucket tokens: the client would only fail on its first xorb, told its
// credentials are invalid. Buckets themselves are still made and listed.
func TestXetTokenWithXetOff(t *testing.T) {
	h := newHubXet(t, false)
	if status, body, _ := h.do(t, "alice", "POST", "/api/buckets/alice/b", nil); status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	for _, path := range []string{"/api/buckets/alice/b/xet-write-token", "/api/buckets/alice/b/xet-read-token"} {
		status, body, hdr := h.do(t, "alice", "GET", path, nil)
		if status != http.StatusNotImplemented || !strings.Contains(string(body), "--xet=false") || hdr.Get("X-Xet-Access-Token") != "" {
			t.Errorf("%s: %d %s, token %q", path, status, body, hdr.Get("X-Xet-Access-Token"))
		}
	}
	if status, body, _ := h.do(t, "alice", "GET", "/api/buckets/alice/b/tree", nil); status != 200 {
		t.Errorf("tree: %d %s", status, body)
	}
}

func TestXetTokenAcceptedByCAS(t *testing.T) {
	h := newHub(t)
	h.do(t, "alice", "POST", "/api/buckets/alice/b", map[string]any{"visibility": "private"})
	status, body, _ := h.do(t, "alice", "GET", "/api/buckets/alice/b/xet-write-token", nil)
	var tok struct{ AccessToken string }
	if status != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("write token: %d %s", status, body)
	}
	data := bytes.Repeat([]byte("bucket data "), 20000)
	hash := uploadXet(t, h, tok.AccessToken, data)

	batch := fmt.Sprintf(`{"type":"addFile","path":"dir/data.bin","xetHash":%q,"mtime":1700000000123}
{"type":"addFile","path":"top.txt","xetHash":%q,"mtime":1700000000000}
{"type":"addFile","path":"empty","xetHash":%q}
`, hash, hash, xet.FileHash(nil).String())
	if status, body, _ := h.do(t, "alice", "POST", "/api/buckets/alice/b/batch", batch); status != 200 || !strings.Contains(string(body), `"failed":[]`) {
		t.Fatalf("batch: %d %s", status, body)
	}
	// A copy from a bucket the caller cannot see fails; from one it can, works.
	copyLine := fmt.Sprintf(`{"type":"copyFile","path":"copy.bin","xetHash":%q,"sourceRepoType":"bucket","sourceRepoId":"alice/b"}`, hash)
	h.do(t, "bob", "POST", "/api/buckets/bob/mine", nil)
	if status, body, _ := h.do(t, "bob", "POST", "/api/buckets/bob/mine/batch", copyLine); status != 422 {
		t.Errorf("copy from a hidden bucket: %d %s", status, body)
	}
	if status, body, _ := h.do(t, "alice", "POST", "/api/buckets/alice/b/batch", copyLine); status != 200 {
		t.Errorf("copy: %d %s", status, body)
	}

	tests := []struct{ path, want, not string }{
		{"/api/buckets/alice/b/tree", `"path":"dir","type":"directory"`, "data.bin"},
		{"/api/buckets/alice/b/tree?recursive=True", `"path":"dir/data.bin"`, `"directory"`},
		{"/api/buckets/alice/b/tree/dir", `"path":"dir/data.bin"`, "top.txt"},
		{"/api/buckets/alice/b/tree/top.txt", `"path":"top.txt"`, "dir"},
		{"/api/buckets/alice/b", fmt.Sprintf(`"size":%d`, 3*len(data)), ""},
		{"/api/buckets/alice/b", `"totalFiles":4`, ""},
	}
	for _, tt := range tests {
		status, body, _ := h.do(t, "alice", "GET", tt.path, nil)
		if status != 200 || !strings.Contains(string(body), tt.want) || (tt.not != "" && strings.Contains(string(body), tt.not)) {
			t.Errorf("GET %s = %d %s, want %q and not %q", tt.path, status, body, tt.want, tt.not)
		}
	}
	status, body, _ = h.do(t, "alice", "POST", "/api/buckets/alice/b/paths-info", map[string]any{"paths": []string{"top.txt", "missing"}})
	if status != 200 || !strings.Contains(string(body), `"mtime":"2023-11-14T22:13:20.000Z"`) || strings.Contains(string(body), "missing") {
		t.Errorf("paths-info = %d %s", status, body)
	}

	status, body, hdr := h.do(t, "alice", "GET", "/buckets/alice/b/resolve/dir%2Fdata.bin", nil)
	if status != 200 || !bytes.Equal(body, data) || hdr.Get("X-Xet-Hash") != hash || !strings.Contains(hdr.Get("Link"), `/api/buckets/alice/b/xet-read-token>; rel="xet-auth"`) {
		t.Errorf("resolve = %d (%d bytes), headers %v", status, len(body), hdr)
	}
	if status, _, _ := h.do(t, "bob", "GET", "/buckets/alice/b/resolve/dir/data.bin", nil); status != 404 {
		t.Errorf("resolve by another user = %d, want 404", status)
	}
	if status, body, _ := h.do(t, "alice", "GET", "/buckets/alice/b/resolve/empty", nil); status != 200 || len(body) != 0 {
		t.Errorf("resolve of an empty file = %d %q", status, body)
	}
	if status, _, _ := h.do(t, "alice", "GET", "/buckets/alice/b/resolve/nothing", nil); status != 404 {
		t.Errorf("resolve of a missing file = %d, want 404", status)
	}
	// A read token of another user's public bucket cannot write.
	h.do(t, "alice", "PUT", "/api/buckets/alice/b/settings", map[string]any{"private": false})
	_, body, _ = h.do(t, "bob", "GET", "/api/buckets/alice/b/xet-read-token", nil)
	json.Unmarshal(body, &tok)
	if status, _, _ := h.do(t, tok.AccessToken, "POST", "/v1/shards", []byte("x")); status != 403 {
		t.Errorf("shard upload with a read token = %d, want 403", status)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, _ := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	return out
}

func TestMaterializeSyncBack(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice, reader, bob := h.actors["alice"], h.actors["alice-read"], h.actors["bob"]
	if _, err := h.svc.Create(ctx, alice, "alice", "jobs-artifacts", ptr(true)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, several chunks
	src := t.TempDir()
	writeTree(t, src, map[string]string{"script.py": "print(1)\n", "data/big.bin": big, "data/empty": ""})
	os.Symlink("/etc/passwd", filepath.Join(src, "link"))
	if err := h.svc.SyncBack(ctx, alice, "alice/jobs-artifacts", "run-1", src); err != nil {
		t.Fatal(err)
	}
	// Another folder of the bucket is left alone by syncs of run-1.
	other := t.TempDir()
	writeTree(t, other, map[string]string{"keep.txt": "keep"})
	if err := h.svc.SyncBack(ctx, alice, "alice/jobs-artifacts", "run-2", other); err != nil {
		t.Fatal(err)
	}

	dst := t.TempDir()
	if err := h.svc.Materialize(ctx, alice, "alice/jobs-artifacts", "run-1/", dst); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"script.py": "print(1)\n", "data/big.bin": big, "data/empty": ""}
	if got := readTree(t, dst); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("materialized %d files, want %v", len(got), len(want))
	}
	// The client sees the files too.
	if status, body, _ := h.do(t, "alice", "GET", "/buckets/alice/jobs-artifacts/resolve/run-1/data/big.bin", nil); status != 200 || string(body) != big {
		t.Errorf("resolve of a synced file = %d (%d bytes)", status, len(body))
	}

	// The job changes a file, adds one and removes one.
	writeTree(t, dst, map[string]string{"out/result.txt": "42", "script.py": "print(2)\n"})
	os.Remove(filepath.Join(dst, "data", "big.bin"))
	if err := h.svc.SyncBack(ctx, alice, "alice/jobs-artifacts", "run-1", dst); err != nil {
		t.Fatal(err)
	}
	_, body, _ := h.do(t, "alice", "GET", "/api/buckets/alice/jobs-artifacts/tree?recursive=true", nil)
	var entries []struct{ Path string }
	json.Unmarshal(body, &entries)
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.Path)
	}
	if got, want := strings.Join(paths, ","), "run-1/data/empty,run-1/out/result.txt,run-1/script.py,run-2/keep.txt"; got != want {
		t.Errorf("after sync back: %s, want %s", got, want)
	}
	again := t.TempDir()
	if err := h.svc.Materialize(ctx, alice, "alice/jobs-artifacts", "run-1", again); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, again); got["script.py"] != "print(2)\n" || got["out/result.txt"] != "42" || len(got) != 3 {
		t.Errorf("materialized after sync back: %v", got)
	}

	denied := []struct {
		name string
		err  error
		code string
	}{
		{"materialize by another user", h.svc.Materialize(ctx, bob, "alice/jobs-artifacts", "", t.TempDir()), haven.ERepoNotFound},
		{"sync back by another user", h.svc.SyncBack(ctx, bob, "alice/jobs-artifacts", "run-1", t.TempDir()), haven.ERepoNotFound},
		{"sync back with a read token", h.svc.SyncBack(ctx, reader, "alice/jobs-artifacts", "run-1", t.TempDir()), haven.EForbidden},
		{"materialize of an invalid folder", h.svc.Materialize(ctx, alice, "alice/jobs-artifacts", "../x", t.TempDir()), haven.EInvalid},
	}
	for _, d := range denied {
		if haven.ErrorCode(d.err) != d.code {
			t.Errorf("%s: %v, want code %s", d.name, d.err, d.code)
		}
	}
	if err := h.svc.Materialize(ctx, reader, "alice/jobs-artifacts", "run-2", t.TempDir()); err != nil {
		t.Errorf("materialize with a read token: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
