package upstream

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/blob"
)

// Blob keys. Metadata keys hash their parts (an upstream, a repository, a
// revision or commit, a request) so that any name fits the blob store's key
// rules; file contents are keyed by their own hash, so one copy serves every
// repository and revision that holds it.
const (
	refsPrefix = "upstream/refs"
	metaPrefix = "upstream/meta"
	lfsPrefix  = "upstream/lfs"
	gitPrefix  = "upstream/git"
)

// stateKey is the key of what the upstream host said about revision rev
// ("" for the default branch) of repository id.
func stateKey(host string, t haven.RepoType, id, rev string) string {
	return hashedKey(refsPrefix, host, string(t), id, rev)
}

// metaKey is the key of a metadata answer (kind "info", "tree", "paths" or
// "entry", for the canonical request query) about repository id at commit.
// Commits never change, so neither does what is stored under it.
func metaKey(host string, t haven.RepoType, id, commit, kind, query string) string {
	return hashedKey(metaPrefix, host, string(t), id, commit, kind, query)
}

func hashedKey(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		// Length-prefixed, so that no two lists of parts hash alike.
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return prefix + "/" + sum[:2] + "/" + sum
}

// contentKey is the key of a file's content: its LFS SHA-256, or for a file
// stored in git, its git blob id.
func contentKey(e *entry) string {
	if e.LFS != nil {
		return lfsPrefix + "/" + e.LFS.OID[:2] + "/" + e.LFS.OID[2:4] + "/" + e.LFS.OID
	}
	return gitPrefix + "/" + e.OID[:2] + "/" + e.OID[2:4] + "/" + e.OID
}

// entry is a file as the upstream's paths-info describes it.
type entry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	OID  string `json:"oid"`
	Size int64  `json:"size"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs,omitempty"`
}

// usable reports whether the entry names its content well enough to fetch
// and verify it.
func (e *entry) usable() bool {
	if e.LFS != nil {
		return blob.ValidOID(e.LFS.OID) && e.LFS.Size >= 0
	}
	return validCommit(e.OID) && e.Size >= 0
}

// size is the size of the file's content.
func (e *entry) size() int64 {
	if e.LFS != nil {
		return e.LFS.Size
	}
	return e.Size
}

// cachedAnswer is a stored metadata answer.
type cachedAnswer struct {
	Link string          `json:"link,omitempty"` // the upstream's pagination Link header
	Body json.RawMessage `json:"body"`
}

func (c *Cache) putBlob(ctx context.Context, key string, b []byte) {
	if err := c.blobs.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
		c.log.Warn("upstream: caching an answer failed", "key", key, "err", err)
	}
}

// maxStoredMeta bounds a stored metadata answer read back.
const maxStoredMeta = maxMetaBody + 4096

func (c *Cache) getBlob(ctx context.Context, key string) ([]byte, error) {
	f, _, err := c.blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxStoredMeta))
}

func (c *Cache) putMeta(ctx context.Context, req api.RepoRequest, commit, kind, query string, a cachedAnswer) {
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	c.putBlob(ctx, metaKey(c.host, req.Type, repoID(req), commit, kind, query), b)
}

func (c *Cache) getMeta(ctx context.Context, req api.RepoRequest, commit, kind, query string) (cachedAnswer, bool) {
	var a cachedAnswer
	b, err := c.getBlob(ctx, metaKey(c.host, req.Type, repoID(req), commit, kind, query))
	if err != nil || json.Unmarshal(b, &a) != nil {
		return a, false
	}
	return a, true
}

// meta returns a metadata answer at a commit from the cache, else from get
// (the upstream), keeping it.
func (c *Cache) meta(ctx context.Context, req api.RepoRequest, commit, kind, query string, get func() (cachedAnswer, error)) (cachedAnswer, error) {
	if a, ok := c.getMeta(ctx, req, commit, kind, query); ok {
		return a, nil
	}
	what := repoID(req)
	if c.offline {
		return cachedAnswer{}, c.notCached(what, commit, nil)
	}
	a, err := get()
	if err != nil {
		if unreachable(err) {
			return cachedAnswer{}, c.notCached(what, commit, err)
		}
		return cachedAnswer{}, err
	}
	c.putMeta(ctx, req, commit, kind, query, a)
	return a, nil
}

// fill is a download into the cache in progress; those who want the same
// content wait for it.
type fill struct {
	done chan struct{}
	err  error
}

// maxFillTime bounds one download into the cache.
const maxFillTime = 6 * time.Hour

// content returns the blob key of a file's content, downloading it from
// the upstream (path at commit) first when it is not cached. A download
// goes on when the caller leaves, so that a retry finds it done.
func (c *Cache) content(ctx context.Context, req api.RepoRequest, commit, escapedPath string, e *entry) (string, error) {
	key := contentKey(e)
	if _, err := c.blobs.Stat(ctx, key); err == nil {
		return key, nil
	}
	if c.offline {
		return "", c.notCached(repoID(req)+"/"+e.Path, commit, nil)
	}
	c.mu.Lock()
	f := c.fills[key]
	if f == nil {
		f = &fill{done: make(chan struct{})}
		c.fills[key] = f
		src := "/" + req.Type.URLPrefix() + escapeID(req) + "/resolve/" + commit + "/" + escapedPath
		go c.download(f, key, src, e)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return key, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// download fetches src into key, verifying the bytes as they stream: a
// file whose hash or size is not what the upstream's metadata says is never
// stored, so never served.
func (c *Cache) download(f *fill, key, src string, e *entry) {
	defer func() {
		c.mu.Lock()
		delete(c.fills, key)
		c.mu.Unlock()
		close(f.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), maxFillTime)
	defer cancel()
	resp, err := c.send(ctx, http.MethodGet, src, nil, nil, c.token, true)
	if err != nil {
		f.err = err
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		f.err = c.upstreamError(resp, b)
		return
	}
	start := time.Now()
	if e.LFS != nil {
		err = blob.PutVerified(ctx, c.blobs, key, resp.Body, e.LFS.OID, e.LFS.Size)
	} else {
		err = c.blobs.Put(ctx, key, newGitBlobVerifier(resp.Body, e.OID, e.Size), e.Size)
	}
	if err != nil {
		c.log.Warn("upstream: download discarded", "upstream", c.host, "path", src, "err", err)
		f.err = &unreachableError{haven.Errorf(haven.EUnavailable,
			"The download of %s from the upstream %s failed and was discarded: %s", e.Path, c.host, haven.ErrorMessage(err))}
		return
	}
	level := slog.LevelDebug
	if e.LFS != nil {
		level = slog.LevelInfo
	}
	c.log.Log(ctx, level, "upstream: cached", "upstream", c.host, "path", src, "bytes", e.size(), "took", time.Since(start).Round(time.Millisecond))
}

// gitBlobVerifier hashes what passes through it as git hashes a blob
// ("blob SIZE\x00" then the bytes; SHA-1, or SHA-256 for 64-digit ids) and
// replaces the final io.EOF with an error when the id or size is not the
// expected one, which makes blob.Driver.Put store nothing.
type gitBlobVerifier struct {
	r        io.Reader
	h        hash.Hash
	n, size  int64
	oid      string
	mismatch error
}

func newGitBlobVerifier(r io.Reader, oid string, size int64) *gitBlobVerifier {
	h := sha1.New()
	if len(oid) == 64 {
		h = sha256.New()
	}
	h.Write([]byte("blob " + strconv.FormatInt(size, 10) + "\x00"))
	return &gitBlobVerifier{r: r, h: h, size: size, oid: oid}
}

func (v *gitBlobVerifier) Read(p []byte) (int, error) {
	if v.mismatch != nil {
		return 0, v.mismatch
	}
	// One byte past the size is enough to know the stream is too long.
	if limit := v.size - v.n + 1; int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		v.mismatch = haven.Errorf(haven.EInvalid, "Size mismatch: received more than the expected %d bytes", v.size)
		return n - int(v.n-v.size), v.mismatch
	}
	if err == io.EOF {
		switch {
		case v.n != v.size:
			v.mismatch = haven.Errorf(haven.EInvalid, "Size mismatch: received %d bytes, expected %d", v.n, v.size)
		case hex.EncodeToString(v.h.Sum(nil)) != v.oid:
			v.mismatch = haven.Errorf(haven.EInvalid, "Hash mismatch: content does not have git blob id %s", v.oid)
		}
		if v.mismatch != nil {
			return n, v.mismatch
		}
	}
	return n, err
}
