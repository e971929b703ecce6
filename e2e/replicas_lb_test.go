package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// balancer is a round-robin load balancer over the replicas: each request
// goes to the next replica; one that refuses the connection is skipped for
// a while, and an idempotent request whose body was not read yet is sent
// to the next one instead.
type balancer struct {
	backends []*url.URL
	next     atomic.Uint64
	tr       *http.Transport

	mu     sync.Mutex
	down   map[int]time.Time
	served []int
	// forwarded, when set, is told of each request sent to a replica.
	forwarded func(r *http.Request, backend int)
}

func newBalancer(urls ...string) *balancer {
	b := &balancer{down: map[int]time.Time{}, served: make([]int, len(urls))}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			panic(err)
		}
		b.backends = append(b.backends, u)
	}
	b.tr = http.DefaultTransport.(*http.Transport).Clone()
	b.tr.MaxIdleConnsPerHost = 64
	return b
}

// start serves the balancer on a test server and returns its URL.
func (b *balancer) start(t *testing.T) *httptest.Server {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(b.backends[0]) // the transport picks the replica
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: b,
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv
}

// readGuard keeps a request body open across attempts and says whether
// any of it was read.
type readGuard struct {
	io.ReadCloser
	read atomic.Bool
}

func (g *readGuard) Read(p []byte) (int, error) {
	g.read.Store(true)
	return g.ReadCloser.Read(p)
}

func (g *readGuard) Close() error { return nil } // the server closes the real body

func (b *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	var guard *readGuard
	if req.Body != nil && req.Body != http.NoBody {
		guard = &readGuard{ReadCloser: req.Body}
		req.Body = guard
	}
	idempotent := false
	switch req.Method {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE":
		idempotent = true
	}
	n := len(b.backends)
	first := int(b.next.Add(1) % uint64(n))
	var lastErr error
	for k := range n {
		i := (first + k) % n
		if b.isDown(i) && k < n-1 {
			continue
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = b.backends[i].Scheme, b.backends[i].Host
		b.mu.Lock()
		b.served[i]++
		hook := b.forwarded
		b.mu.Unlock()
		if hook != nil {
			hook(out, i)
		}
		resp, err := b.tr.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return nil, err
		}
		b.markDown(i)
		if !idempotent || (guard != nil && guard.read.Load()) {
			return nil, err
		}
	}
	return nil, lastErr
}

func (b *balancer) isDown(i int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Before(b.down[i])
}

func (b *balancer) markDown(i int) {
	b.mu.Lock()
	b.down[i] = time.Now().Add(5 * time.Second)
	b.mu.Unlock()
}

func (b *balancer) counts() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.served...)
}

// commitStatus commits one small file through base and returns the status.
func commitStatus(base, token, id, path string) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.Encode(commitLine{Key: "header", Value: map[string]any{"summary": "add " + path}})
	enc.Encode(commitLine{Key: "file", Value: map[string]any{"path": path, "encoding": "base64", "content": b64([]byte(path))}})
	req, err := http.NewRequest("POST", base+"/api/models/"+id+"/commit/main", &buf)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// lbFlows is what a user of the Python client does every day; each call
// goes to the next replica behind the balancer.
const lbFlows = `
import hashlib, os
from huggingface_hub import HfApi, hf_hub_download

tok = os.environ["HAVEN_TOKEN"]
api = HfApi(token=tok)
repo = "alice/balanced"
api.create_repo(repo)
api.upload_file(path_or_fileobj=b"# balanced\n", path_in_repo="README.md", repo_id=repo)
big = os.urandom(12 << 20)
api.upload_file(path_or_fileobj=big, path_in_repo="weights.bin", repo_id=repo)
want = hashlib.sha256(big).hexdigest()
for i in range(6):
    p = hf_hub_download(repo, "weights.bin", token=tok, force_download=True)
    got = hashlib.sha256(open(p, "rb").read()).hexdigest()
    assert got == want, (i, got, want)
    p = hf_hub_download(repo, "README.md", token=tok, force_download=True)
    assert open(p, "rb").read() == b"# balanced\n"
files = sorted(api.list_repo_files(repo))
assert files == [".gitattributes", "README.md", "weights.bin"], files
info = api.model_info(repo, files_metadata=True)
lfs = {s.rfilename: s.lfs for s in info.siblings}
assert lfs["weights.bin"] is not None and lfs["weights.bin"].sha256 == want, lfs
assert lfs["README.md"] is None, lfs
print("flows ok", info.sha)
`

// TestReplicasBalanced runs three replicas on one PostgreSQL database, S3
// bucket prefix, git folder and secret key behind a round-robin balancer,
// and uses them through it as one hub.
func TestReplicasBalanced(t *testing.T) {
	if !servicesAvailable() {
		skipOrFail(t, "PostgreSQL and S3 are not configured (HAVEN_TEST_POSTGRES_DSN, HAVEN_TEST_S3_URL)")
	}
	py := filepath.Join(repoRoot, ".venv", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		skipOrFail(t, "the Python test environment .venv is missing")
	}
	keyFile := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("3c", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := []string{
		"--database", freshDatabase(t),
		"--blob-store", freshS3Store(t),
		"--repos-dir", filepath.Join(t.TempDir(), "repos"),
	}
	// The balancer's address is known before the replicas start: it is
	// their public URL, so the links they sign lead through it.
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var urls []string
	for _, p := range ports {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", p))
	}
	lb := newBalancer(urls...)
	front := lb.start(t)
	var replicas []*server
	for _, p := range ports {
		needBinary(t)
		s := &server{t: t, DataDir: t.TempDir(), Port: p}
		s.URL = fmt.Sprintf("http://127.0.0.1:%d", p)
		s.extra = shared
		s.opts = serverOpts{Args: []string{"--public-url", front.URL, "--secret-key-file", keyFile}}
		s.start()
		t.Cleanup(func() {
			s.Stop()
			if t.Failed() {
				t.Logf("replica log (%s):\n%s", s.URL, tail(s.log.String(), 32<<10))
			}
		})
		replicas = append(replicas, s)
	}
	f := replicas[0].setupAccounts()

	t.Run("PythonClient", func(t *testing.T) {
		before := lb.counts()
		cmd := exec.Command(py, "-c", lbFlows)
		cmd.Env = append(replicas[0].clientEnv(t, f), "HF_ENDPOINT="+front.URL)
		runLogged(t, 4*time.Minute, cmd)
		after := lb.counts()
		for i := range after {
			if after[i]-before[i] < 5 {
				t.Errorf("replica %d served %d of the client's requests: %v → %v", i, after[i]-before[i], before, after)
			}
		}
	})

	t.Run("ConcurrentCommits", func(t *testing.T) {
		onLB := &api{t: t, base: front.URL, token: f.Alice}
		onLB.createRepo("model", "alice", "busy", false)
		var before []any
		onLB.json("GET", "/api/models/alice/busy/commits/main", nil, http.StatusOK, &before)
		const writers = 12
		var wg sync.WaitGroup
		var kept, refused atomic.Int32
		errs := make(chan string, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, err := commitStatus(front.URL, f.Alice, "alice/busy", fmt.Sprintf("w%d.txt", i))
				switch {
				case err != nil:
					errs <- err.Error()
				case status == http.StatusOK:
					kept.Add(1)
				case status == http.StatusPreconditionFailed:
					refused.Add(1)
				default:
					errs <- fmt.Sprintf("commit w%d.txt: status %d", i, status)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for msg := range errs {
			t.Error(msg)
		}
		var after []any
		onLB.json("GET", "/api/models/alice/busy/commits/main", nil, http.StatusOK, &after)
		if len(after) != len(before)+int(kept.Load()) {
			t.Errorf("%d commits after %d accepted ones (%d refused) on top of %d", len(after), kept.Load(), refused.Load(), len(before))
		}
		t.Logf("%d commits kept, %d refused with 412", kept.Load(), refused.Load())
	})

	t.Run("SettingSeenEverywhere", func(t *testing.T) {
		onA := replicas[0].api(f.Alice)
		onA.t = t
		onA.createRepo("model", "alice", "flip", false)
		// Every replica caches the public repository first.
		for _, r := range replicas {
			anon := r.api("")
			anon.t = t
			if resp, _ := anon.do("GET", "/api/models/alice/flip", nil, nil); resp.StatusCode != 200 {
				t.Fatalf("anonymous repo info on %s: %d", r.URL, resp.StatusCode)
			}
		}
		onA.json("PUT", "/api/models/alice/flip/settings", map[string]any{"private": true}, http.StatusOK, nil)
		for _, r := range replicas[1:] {
			anon := r.api("")
			anon.t = t
			if msg := within(time.Second, func() string {
				if resp, _ := anon.do("GET", "/api/models/alice/flip", nil, nil); resp.StatusCode == 200 {
					return r.URL + " still serves the repository made private on " + replicas[0].URL
				}
				return ""
			}); msg != "" {
				t.Error(msg)
			}
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		for _, r := range replicas {
			resp, err := http.Get(r.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("/metrics on %s: %d", r.URL, resp.StatusCode)
			}
			parser := expfmt.NewTextParser(model.UTF8Validation)
			fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("parsing /metrics of %s: %v", r.URL, err)
			}
			if v := sampleValue(fams, "haven_http_requests_total", map[string]string{"route": "api", "code": "2xx"}); v < 1 {
				t.Errorf("%s counts %v successful API requests", r.URL, v)
			}
		}
	})

	t.Run("ReplicaKilledDuringUpload", func(t *testing.T) {
		onLB := &api{t: t, base: front.URL, token: f.Alice}
		const size = 64 << 20
		oid := streamSHA256(9, size)
		obj := onLB.lfsBatch("alice/balanced", "upload", oid, size)
		up, ok := obj.Actions["upload"]
		if !ok || !strings.HasPrefix(up.Href, front.URL) {
			t.Fatalf("upload action %+v does not lead through the balancer", obj)
		}
		target := make(chan int, 4)
		lb.mu.Lock()
		lb.forwarded = func(r *http.Request, i int) {
			if r.Method == "PUT" {
				select {
				case target <- i:
				default:
				}
			}
		}
		lb.mu.Unlock()
		defer func() { lb.mu.Lock(); lb.forwarded = nil; lb.mu.Unlock() }()

		body := newStream(9, size)
		body.pauseAt = 16 << 20
		body.reached = make(chan struct{})
		body.gate = make(chan error, 1)
		type result struct {
			resp *http.Response
			err  error
		}
		done := make(chan result, 1)
		go func() {
			resp, err := put(context.Background(), up.Href, up.Header, body, size)
			done <- result{resp, err}
		}()
		victim := <-target
		select {
		case <-body.reached:
		case r := <-done:
			t.Fatalf("the upload ended before the replica was killed: %v %v", r.resp, r.err)
		case <-time.After(time.Minute):
			t.Fatal("16 MiB did not stream within a minute")
		}
		replicas[victim].Kill()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			body.gate <- errors.New("the client gave up")
			r = <-done
		}
		body.gate <- io.ErrUnexpectedEOF
		if r.err == nil && r.resp.StatusCode/100 == 2 {
			t.Fatalf("the upload to the killed replica succeeded: %d", r.resp.StatusCode)
		}
		if r.err == nil {
			t.Logf("the interrupted upload answered %d", r.resp.StatusCode)
		} else {
			t.Logf("the interrupted upload failed: %v", r.err)
		}
		// Nothing of it is visible: the hub still asks for the object, and
		// has none to give.
		if obj := onLB.lfsBatch("alice/balanced", "upload", oid, size); obj.Actions["upload"].Href == "" {
			t.Errorf("after the interrupted upload the hub does not ask for the object again: %+v", obj)
		}
		if obj := onLB.lfsBatch("alice/balanced", "download", oid, size); obj.Error == nil {
			t.Errorf("the interrupted object is offered for download: %+v", obj)
		}

		// The client's retry through the balancer reaches a live replica.
		var retry *http.Response
		var err error
		for range 3 {
			retry, err = put(context.Background(), up.Href, up.Header, newStream(9, size), size)
			if err == nil && retry.StatusCode/100 == 2 {
				break
			}
		}
		if err != nil || retry.StatusCode/100 != 2 {
			t.Fatalf("the retried upload: %v %v", retry, err)
		}
		if got := <-target; got == victim {
			t.Logf("the first retry went to the killed replica and was passed on")
		}
		onLB.commit("models", "alice/balanced", "main", "large",
			commitLine{Key: "lfsFile", Value: map[string]any{"path": "large.bin", "algo": "sha256", "oid": oid, "size": size}})
		resp, err := http.Get(front.URL + "/alice/balanced/resolve/main/large.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, _ := io.Copy(h, resp.Body)
		if got := hex.EncodeToString(h.Sum(nil)); resp.StatusCode != 200 || n != size || got != oid {
			t.Errorf("large.bin after the retry: %d, %d bytes, sha256 %s", resp.StatusCode, n, got)
		}

		// The killed replica comes back and serves what the others stored.
		replicas[victim].start()
		back := replicas[victim].api("")
		back.t = t
		if resp, body := back.do("GET", "/alice/balanced/resolve/main/large.bin", nil, nil); resp.StatusCode != 200 || int64(len(body)) != size {
			t.Errorf("large.bin on the replica that came back: %d, %d bytes", resp.StatusCode, len(body))
		}
	})
}
