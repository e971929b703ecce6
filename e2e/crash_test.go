package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// lfsObject is one object of an LFS batch answer.
type lfsObject struct {
	Oid     string `json:"oid"`
	Size    int64  `json:"size"`
	Actions map[string]struct {
		Href   string            `json:"href"`
		Header map[string]string `json:"header"`
	} `json:"actions"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// lfsBatch calls the LFS batch API of a model repository for one object.
func (a *api) lfsBatch(id, operation, oid string, size int64) lfsObject {
	a.t.Helper()
	body := map[string]any{
		"operation": operation,
		"transfers": []string{"basic"},
		"hash_algo": "sha256",
		"ref":       map[string]string{"name": "main"},
		"objects":   []map[string]any{{"oid": oid, "size": size}},
	}
	resp, data := a.do("POST", "/"+id+".git/info/lfs/objects/batch", body, map[string]string{
		"Accept":       "application/vnd.git-lfs+json",
		"Content-Type": "application/vnd.git-lfs+json",
	})
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("LFS batch %s %s: status %d: %s", operation, oid, resp.StatusCode, truncate(data, 500))
	}
	var out struct {
		Transfer string      `json:"transfer"`
		Objects  []lfsObject `json:"objects"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Objects) != 1 {
		a.t.Fatalf("LFS batch %s: answer %s (%v)", operation, truncate(data, 500), err)
	}
	if out.Transfer != "" && out.Transfer != "basic" {
		a.t.Fatalf("LFS batch chose transfer %q, want basic", out.Transfer)
	}
	return out.Objects[0]
}

// streamReader yields n deterministic pseudo-random bytes. If gate is set,
// it stops after pauseAt bytes, signals reached, and then returns the error
// received from gate.
type streamReader struct {
	rng     *rand.ChaCha8
	left    int64
	sent    int64
	pauseAt int64
	reached chan struct{}
	gate    chan error
	paused  atomic.Bool
}

func newStream(seed byte, n int64) *streamReader {
	return &streamReader{rng: rand.NewChaCha8([32]byte{seed, 42}), left: n, pauseAt: -1}
}

func (r *streamReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.pauseAt >= 0 && r.sent >= r.pauseAt {
		if r.paused.CompareAndSwap(false, true) {
			close(r.reached)
		}
		return 0, <-r.gate
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	if r.pauseAt >= 0 && r.sent+int64(len(p)) > r.pauseAt {
		p = p[:r.pauseAt-r.sent]
	}
	n, _ := r.rng.Read(p)
	r.left -= int64(n)
	r.sent += int64(n)
	return n, nil
}

// streamSHA256 hashes the stream newStream(seed, n) would produce.
func streamSHA256(seed byte, n int64) string {
	h := sha256.New()
	io.Copy(h, newStream(seed, n))
	return hex.EncodeToString(h.Sum(nil))
}

// put uploads body to an LFS upload action the way git-lfs does: no
// Authorization, the action's headers, a known Content-Length.
func put(ctx context.Context, href string, header map[string]string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "PUT", href, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// uploadLFS uploads a whole object through batch + PUT (+ verify when offered).
func (a *api) uploadLFS(id string, data []byte) {
	a.t.Helper()
	oid := sha256Hex(data)
	obj := a.lfsBatch(id, "upload", oid, int64(len(data)))
	if obj.Error != nil {
		a.t.Fatalf("LFS batch upload %s: object error %d %s", oid, obj.Error.Code, obj.Error.Message)
	}
	up, ok := obj.Actions["upload"]
	if !ok {
		return // already stored
	}
	resp, err := put(context.Background(), up.Href, up.Header, bytes.NewReader(data), int64(len(data)))
	if err != nil || resp.StatusCode/100 != 2 {
		a.t.Fatalf("PUT %d bytes to the upload action: %v %v", len(data), err, resp)
	}
	a.verifyLFS(obj, oid, int64(len(data)))
}

// verifyLFS calls the verify action, if the batch answer has one.
func (a *api) verifyLFS(obj lfsObject, oid string, size int64) {
	a.t.Helper()
	v, ok := obj.Actions["verify"]
	if !ok {
		return
	}
	hdr := map[string]string{"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}
	for k, val := range v.Header {
		hdr[k] = val
	}
	resp, data := a.do("POST", v.Href, map[string]any{"oid": oid, "size": size}, hdr)
	if resp.StatusCode/100 != 2 {
		a.t.Fatalf("LFS verify %s: status %d: %s", oid, resp.StatusCode, truncate(data, 300))
	}
}

// TestCrashRecovery kills the server in the middle of a large LFS upload and
// checks that the restarted server lost nothing committed and kept nothing
// of the interrupted upload.
func TestCrashRecovery(t *testing.T) {
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	const id = "alice/crash"
	alice.createRepo("model", "alice", "crash", false)

	// Some history first: regular files and a small LFS file.
	small := randomBytes(3, 1<<20)
	alice.uploadLFS(id, small)
	type version struct {
		commit string
		files  map[string][]byte
	}
	var history []version
	c1 := alice.commit("models", id, "main", "first",
		commitLine{Key: "file", Value: map[string]any{"path": "a.txt", "encoding": "base64", "content": b64([]byte("one\n"))}})
	history = append(history, version{c1, map[string][]byte{"a.txt": []byte("one\n")}})
	c2 := alice.commit("models", id, "main", "second",
		commitLine{Key: "file", Value: map[string]any{"path": "a.txt", "encoding": "base64", "content": b64([]byte("two\n"))}},
		commitLine{Key: "lfsFile", Value: map[string]any{"path": "small.bin", "algo": "sha256", "oid": sha256Hex(small), "size": len(small)}})
	history = append(history, version{c2, map[string][]byte{"a.txt": []byte("two\n"), "small.bin": small}})

	// Start a 200 MB upload and kill the server when half of it is sent.
	const size = 200 << 20
	const seed = 9
	bigOid := streamSHA256(seed, size)
	obj := alice.lfsBatch(id, "upload", bigOid, size)
	up, ok := obj.Actions["upload"]
	if obj.Error != nil || !ok {
		t.Fatalf("LFS batch for a new object should ask for an upload; got %+v", obj)
	}
	body := newStream(seed, size)
	body.pauseAt = size / 2
	body.reached = make(chan struct{})
	body.gate = make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	putErr := make(chan error, 1)
	go func() {
		resp, err := put(ctx, up.Href, up.Header, body, size)
		if err == nil && resp.StatusCode/100 == 2 {
			err = fmt.Errorf("the interrupted upload succeeded with %s", resp.Status)
		}
		putErr <- err
	}()
	select {
	case <-body.reached:
	case err := <-putErr:
		t.Fatalf("the upload ended before half of it was sent: %v", err)
	case <-ctx.Done():
		t.Fatal("timed out sending the first half of the upload")
	}
	time.Sleep(300 * time.Millisecond) // let the server write what it received
	s.Kill()
	body.gate <- errors.New("server killed")
	if err := <-putErr; err == nil {
		t.Fatal("the PUT to a killed server did not fail")
	}

	s.start()

	t.Run("history survives", func(t *testing.T) {
		alice := s.api(f.Alice)
		for _, v := range history {
			var info struct {
				Sha string `json:"sha"`
			}
			alice.json("GET", "/api/models/"+id+"/revision/"+v.commit, nil, http.StatusOK, &info)
			if info.Sha != v.commit {
				t.Errorf("revision %s: sha %q", v.commit, info.Sha)
			}
			for path, want := range v.files {
				got, _ := alice.resolve("", id, v.commit, path)
				if !bytes.Equal(got, want) {
					t.Errorf("%s at %s: %d bytes (sha256 %s), want %d bytes (sha256 %s)",
						path, v.commit[:7], len(got), sha256Hex(got), len(want), sha256Hex(want))
				}
			}
		}
		var commits []struct {
			ID string `json:"id"`
		}
		alice.json("GET", "/api/models/"+id+"/commits/main", nil, http.StatusOK, &commits)
		if len(commits) != 3 || commits[0].ID != c2 || commits[1].ID != c1 {
			t.Errorf("commits on main = %+v, want [%s %s <initial commit>]", commits, c2, c1)
		}
	})

	t.Run("interrupted object is absent", func(t *testing.T) {
		alice := s.api(f.Alice)
		obj := alice.lfsBatch(id, "upload", bigOid, size)
		if _, ok := obj.Actions["upload"]; !ok || obj.Error != nil {
			t.Errorf("after the crash the batch API should ask for the object again; got %+v", obj)
		}
		dl := alice.lfsBatch(id, "download", bigOid, size)
		if _, ok := dl.Actions["download"]; ok {
			t.Errorf("the batch API offers a download of an object whose upload was interrupted: %+v", dl)
		}
		resp, data := alice.do("POST", "/api/models/"+id+"/commit/main", ndjson(
			commitLine{Key: "header", Value: map[string]any{"summary": "refer to a missing object", "description": ""}},
			commitLine{Key: "lfsFile", Value: map[string]any{"path": "big.bin", "algo": "sha256", "oid": bigOid, "size": size}},
		), map[string]string{"Content-Type": "application/x-ndjson"})
		if resp.StatusCode == http.StatusOK {
			t.Errorf("a commit naming the interrupted object was accepted: %s", truncate(data, 300))
		}
		// Nothing of the half-sent 100 MB may be left behind in the data folder.
		filepath.WalkDir(s.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err == nil && info.Size() >= 16<<20 {
				t.Errorf("stray file after restart: %s (%d bytes)", path, info.Size())
			}
			if strings.Contains(d.Name(), bigOid) {
				t.Errorf("a file named after the interrupted object exists: %s", path)
			}
			return nil
		})
	})

	t.Run("full upload then succeeds", func(t *testing.T) {
		alice := s.api(f.Alice)
		obj := alice.lfsBatch(id, "upload", bigOid, size)
		up, ok := obj.Actions["upload"]
		if !ok {
			t.Fatalf("no upload action: %+v", obj)
		}
		resp, err := put(context.Background(), up.Href, up.Header, newStream(seed, size), size)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("full PUT: %v %v", err, resp)
		}
		alice.verifyLFS(obj, bigOid, size)
		if again := alice.lfsBatch(id, "upload", bigOid, size); again.Actions["upload"].Href != "" {
			t.Errorf("after the upload the batch API still asks for the object")
		}
		commit := alice.commit("models", id, "main", "big file",
			commitLine{Key: "lfsFile", Value: map[string]any{"path": "big.bin", "algo": "sha256", "oid": bigOid, "size": size}})
		req, _ := http.NewRequest("GET", s.URL+"/"+id+"/resolve/"+commit+"/big.bin", nil)
		get, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer get.Body.Close()
		if get.StatusCode != http.StatusOK {
			t.Fatalf("resolve big.bin: %s", get.Status)
		}
		h := sha256.New()
		n, err := io.Copy(h, get.Body)
		if err != nil || n != size || hex.EncodeToString(h.Sum(nil)) != bigOid {
			t.Fatalf("resolve big.bin: %d bytes, sha256 %x (%v); want %d bytes, %s", n, h.Sum(nil), err, size, bigOid)
		}
	})
}

// ndjson encodes commit lines, one JSON object per line.
func ndjson(lines ...commitLine) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, l := range lines {
		enc.Encode(l)
	}
	return buf.Bytes()
}
