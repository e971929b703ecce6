package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/netguard"
)

// newClient returns the HTTP client for the upstream. Unless allowPrivate,
// it refuses to connect to the addresses netguard blocks, checked on the
// address actually dialled (redirects and DNS rebinding included).
func newClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = netguard.DialControl
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	// Bytes are verified and served as the upstream sent them.
	tr.DisableCompression = true
	tr.ResponseHeaderTimeout = time.Minute
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// unreachableError is a failure to get an answer from the upstream: no
// connection, a timeout, or a 5xx or 429 status. On it the cache serves what
// it holds.
type unreachableError struct{ err *haven.Error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

func unreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// downFor is how long requests do not try an upstream that could not be
// reached, so that a silent one (dropped packets) does not cost every request
// the dial timeout.
const downFor = 5 * time.Second

func (c *Cache) down() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Now().Before(c.downUntil) {
		return c.downErr
	}
	return nil
}

func (c *Cache) setDown(err error) {
	c.mu.Lock()
	c.downUntil, c.downErr = time.Now().Add(downFor), err
	c.mu.Unlock()
}

// hubHeaders are the Hub's headers that a redirect carries and its target
// (a CDN, a signed URL) does not.
var hubHeaders = []string{"X-Repo-Commit", "X-Linked-Etag", "X-Linked-Size", "X-Error-Code", "X-Error-Message"}

// maxRedirects bounds the redirects followed for one request.
const maxRedirects = 5

// send asks the upstream for path (escaped, with its query). It follows
// redirects itself when follow is set, so that the token goes only to the
// upstream's own host (a signed URL elsewhere needs none) and the Hub's
// headers of the first answers are kept on the last one.
func (c *Cache) send(ctx context.Context, method, path string, body []byte, hdr http.Header, token string, follow bool) (*http.Response, error) {
	if err := c.down(); err != nil {
		return nil, err
	}
	target := c.base.String() + path
	kept := http.Header{}
	for hop := 0; ; hop++ {
		var rd io.Reader = http.NoBody
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", "haven-upstream/1")
		if token != "" && req.URL.Scheme == c.base.Scheme && req.URL.Host == c.base.Host {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			uerr := &unreachableError{haven.Errorf(haven.EUnavailable, "The upstream %s is unreachable: %s", c.host, shortNetError(err))}
			c.setDown(uerr)
			return nil, uerr
		}
		for _, h := range hubHeaders {
			if v := resp.Header.Get(h); v != "" && kept.Get(h) == "" {
				kept.Set(h, v)
			}
		}
		loc := resp.Header.Get("Location")
		redirect := resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.StatusCode != http.StatusNotModified && loc != ""
		if !follow || !redirect {
			for h := range kept {
				if resp.Header.Get(h) == "" {
					resp.Header[h] = kept[h]
				}
			}
			return resp, nil
		}
		resp.Body.Close()
		if hop >= maxRedirects {
			return nil, &unreachableError{haven.Errorf(haven.EUnavailable, "The upstream %s redirected too many times", c.host)}
		}
		next, err := req.URL.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			return nil, &unreachableError{haven.Errorf(haven.EUnavailable, "The upstream %s redirected to an invalid location", c.host)}
		}
		target = next.String()
		if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect && method == http.MethodPost {
			method, body = http.MethodGet, nil
		}
	}
}

// shortNetError names a connection failure without the whole URL.
func shortNetError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// maxMetaBody bounds the metadata answers read into memory.
const maxMetaBody = 64 << 20

// fetch asks the upstream for a metadata answer and reads it whole; an
// error status comes back as the Hub's error naming the upstream.
func (c *Cache) fetch(ctx context.Context, method, path string, body []byte, contentType, token string) (http.Header, []byte, error) {
	hdr := http.Header{"Accept": {"application/json"}}
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	resp, err := c.send(ctx, method, path, body, hdr, token, true)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetaBody+1))
	if err != nil {
		return nil, nil, &unreachableError{haven.Errorf(haven.EUnavailable, "The upstream %s broke off its answer: %s", c.host, shortNetError(err))}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, c.upstreamError(resp, b)
	}
	if len(b) > maxMetaBody {
		return nil, nil, haven.Errorf(haven.ETooLarge, "The upstream %s answered with more than %d bytes", c.host, maxMetaBody)
	}
	return resp.Header, b, nil
}

// statusCodes map the upstream's statuses without a Hub error code.
var statusCodes = map[int]string{
	http.StatusBadRequest:                   haven.EInvalid,
	http.StatusUnauthorized:                 haven.EUnauthorized,
	http.StatusForbidden:                    haven.EForbidden,
	http.StatusNotFound:                     haven.ENotFound,
	http.StatusConflict:                     haven.EConflict,
	http.StatusPreconditionFailed:           haven.EPrecondition,
	http.StatusRequestEntityTooLarge:        haven.ETooLarge,
	http.StatusRequestedRangeNotSatisfiable: haven.ERange,
	http.StatusUnprocessableEntity:          haven.EUnprocessable,
}

// upstreamError turns an error answer of the upstream into the Hub's error
// with the same code, its message prefixed with the upstream's name. Server
// errors and 429 are an unreachableError.
func (c *Cache) upstreamError(resp *http.Response, body []byte) error {
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil {
			msg = e.Error
		}
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	msg = "upstream " + c.host + ": " + strings.TrimSpace(msg)
	switch code := resp.Header.Get("X-Error-Code"); code {
	case haven.ERepoNotFound, haven.ERevisionNotFound, haven.EEntryNotFound, haven.EGatedRepo:
		return haven.Errorf(code, "%s", msg)
	}
	if code, ok := statusCodes[resp.StatusCode]; ok {
		return haven.Errorf(code, "%s", msg)
	}
	return &unreachableError{haven.Errorf(haven.EUnavailable, "%s (status %d)", msg, resp.StatusCode)}
}
