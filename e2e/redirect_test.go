package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBlobRedirect: with --blob-redirect on S3, a download of a large file
// is a redirect to a short-lived URL of the S3 server, as the Hub redirects
// to its CDN; the metadata HEAD is answered by Haven itself, rights are
// checked before any redirect, and the official client follows it.
func TestBlobRedirect(t *testing.T) {
	if !servicesAvailable() {
		skipOrFail(t, "HAVEN_TEST_S3_URL is not set")
	}
	s := startServer(t, serverOpts{S3: true, Args: []string{"--blob-redirect"}})
	f := s.setupAccounts()
	alice := s.api(f.Alice)
	alice.createRepo("model", "alice", "redirected", true)
	data := randomBytes(11, 3<<20+5)
	oid := sha256Hex(data)
	alice.uploadLFS("alice/redirected", data)
	alice.commit("models", "alice/redirected", "main", "weights",
		commitLine{Key: "lfsFile", Value: map[string]any{"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}})

	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, u, token, rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resolve := s.URL + "/alice/redirected/resolve/main/w.bin"

	resp, _ := get("GET", resolve, f.Alice, "")
	loc := resp.Header.Get("Location")
	s3, _ := url.Parse(os.Getenv("HAVEN_TEST_S3_URL"))
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, s3.Host) {
		t.Fatalf("GET resolve = %d, Location %q; want 302 to the S3 server %s", resp.StatusCode, loc, s3.Host)
	}
	if got := resp.Header.Get("X-Linked-Etag"); got != `"`+oid+`"` {
		t.Errorf("X-Linked-Etag on the redirect = %q, want the oid", got)
	}
	if got := resp.Header.Get("X-Linked-Size"); got != "3145733" {
		t.Errorf("X-Linked-Size on the redirect = %q", got)
	}
	if resp, body := get("GET", loc, "", ""); resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET of the redirect: %d, %d bytes; want 200 and the %d bytes uploaded", resp.StatusCode, len(body), len(data))
	}
	if resp, body := get("GET", loc, "", "bytes=100-199"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) {
		t.Fatalf("ranged GET of the redirect: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get("HEAD", resolve, f.Alice, ""); resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "3145733" {
		t.Errorf("HEAD resolve = %d, Content-Length %q; want 200 from Haven with the size", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
	for _, token := range []string{"", f.Bob} {
		if resp, _ := get("GET", resolve, token, ""); resp.StatusCode == http.StatusFound || resp.Header.Get("Location") != "" {
			t.Errorf("GET of a private file (token given: %v) was redirected: %d", token != "", resp.StatusCode)
		}
	}

	// The official client follows the redirect, without its token (and
	// without Xet, which would fetch the converted file chunk by chunk).
	py := filepath.Join(repoRoot, ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		skipOrFail(t, "the Python test environment .venv is missing")
	}
	cmd := exec.Command(py, "-c", `
import hashlib, sys
from huggingface_hub import hf_hub_download
p = hf_hub_download("alice/redirected", "w.bin")
print(hashlib.sha256(open(p, "rb").read()).hexdigest())
`)
	cmd.Env = append(s.clientEnv(t, f), "HF_TOKEN="+f.Alice, "HF_HUB_DISABLE_XET=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), oid) {
		t.Fatalf("hf_hub_download through the redirect: %v\n%s", err, out)
	}
}
