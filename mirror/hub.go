package mirror

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/netguard"
)

// hub is a client of another Hugging Face-compatible hub: the few calls of
// its git, LFS and REST protocols that mirrors use.
type hub struct {
	base  string // "https://hub.example", no trailing slash
	token string // "" for anonymous access
	http  *http.Client
}

// newHub returns a client of base. Unless allowPrivate, it refuses to
// connect to loopback, private and link-local addresses, checked on the
// address actually dialled.
func newHub(base, token string, allowPrivate bool) *hub {
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = netguard.DialControl
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute,
		MaxIdleConnsPerHost:   8,
	}
	return &hub{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Transport: tr}}
}

// name is the hub's host, to say which hub an error came from.
func (h *hub) name() string {
	if u, err := url.Parse(h.base); err == nil && u.Host != "" {
		return u.Host
	}
	return h.base
}

// gitURL is the git remote of a repository of the hub.
func (h *hub) gitURL(t haven.RepoType, id haven.RepoID) string {
	return h.base + "/" + t.URLPrefix() + id.String() + ".git"
}

// gitHeader is the header git sends: the token as a password, which the
// Hub and Haven both accept for git and LFS.
func (h *hub) gitHeader() string {
	if h.token == "" {
		return ""
	}
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("mirror:"+h.token))
}

// apiPath is "/api/{types}/{ns}/{name}".
func apiPath(t haven.RepoType, id haven.RepoID) string {
	return "/api/" + t.Plural() + "/" + id.String()
}

// remoteError is an answer of the hub that is not a success, in words
// that name the hub.
type remoteError struct {
	hub    string
	status int
	code   string // X-Error-Code
	msg    string
}

func (e *remoteError) Error() string {
	s := fmt.Sprintf("%s answered %d", e.hub, e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.msg != "" {
		s += ": " + e.msg
	}
	return s
}

// do sends a request to the hub with the token and returns a response
// whose status is below 300, or the hub's error.
func (h *hub) do(ctx context.Context, method, target string, body io.Reader, header http.Header) (*http.Response, error) {
	if strings.HasPrefix(target, "/") {
		target = h.base + target
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// The token goes only to the hub itself: signed object URLs on other
	// hosts (a storage service) carry their own authorization.
	if h.token != "" && req.Header.Get("Authorization") == "" && sameHost(req.URL, h.base) {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.name(), err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	e := &remoteError{hub: h.name(), status: resp.StatusCode, code: resp.Header.Get("X-Error-Code"), msg: resp.Header.Get("X-Error-Message")}
	if e.msg == "" {
		var b struct {
			Error string `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(raw, &b) == nil && b.Error != "" {
			e.msg = b.Error
		} else {
			e.msg = strings.TrimSpace(string(raw))
		}
	}
	return nil, e
}

func sameHost(u *url.URL, base string) bool {
	b, err := url.Parse(base)
	return err == nil && strings.EqualFold(u.Host, b.Host)
}

// getJSON decodes the answer of a GET into out.
func (h *hub) getJSON(ctx context.Context, path string, out any) error {
	resp, err := h.do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// postJSON sends in as JSON and decodes the answer into out (nil: ignored).
func (h *hub) postJSON(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := h.do(ctx, http.MethodPost, path, bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// remoteRepo is what repo info says that mirrors use.
type remoteRepo struct {
	ID      string `json:"id"`
	SHA     string `json:"sha"`
	Private bool   `json:"private"`
	Gated   any    `json:"gated"`
}

// repoInfo reads a repository's info.
func (h *hub) repoInfo(ctx context.Context, t haven.RepoType, id haven.RepoID) (*remoteRepo, error) {
	var r remoteRepo
	if err := h.getJSON(ctx, apiPath(t, id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// lfsBatch asks the hub's LFS API for the actions of objs.
func (h *hub) lfsBatch(ctx context.Context, t haven.RepoType, id haven.RepoID, op string, objs []lfs.ObjectSpec) (*lfs.BatchResponse, error) {
	req := lfs.BatchRequest{Operation: op, Transfers: []string{"basic"}, Objects: objs, HashAlgo: "sha256"}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hdr := http.Header{"Accept": {"application/vnd.git-lfs+json"}, "Content-Type": {"application/vnd.git-lfs+json"}}
	if h.token != "" {
		hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("mirror:"+h.token)))
	}
	resp, err := h.do(ctx, http.MethodPost, h.gitURL(t, id)+"/info/lfs/objects/batch", bytes.NewReader(b), hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out lfs.BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: LFS batch answer: %w", h.name(), err)
	}
	return &out, nil
}

// actionRequest sends an LFS action's request (download or upload).
func (h *hub) action(ctx context.Context, method string, a *lfs.Action, body io.Reader, size int64) (*http.Response, error) {
	hdr := http.Header{}
	for k, v := range a.Header {
		hdr.Set(k, v)
	}
	if body != nil {
		hdr.Set("Content-Type", "application/octet-stream")
		req, err := http.NewRequestWithContext(ctx, method, a.Href, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		req.Header = hdr
		resp, err := h.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.name(), err)
		}
		if resp.StatusCode >= 300 {
			defer resp.Body.Close()
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return nil, &remoteError{hub: h.name(), status: resp.StatusCode, code: resp.Header.Get("X-Error-Code"), msg: strings.TrimSpace(string(msg))}
		}
		return resp, nil
	}
	return h.do(ctx, method, a.Href, nil, hdr)
}

// remoteEntry is a file of a tree listing.
type remoteEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	OID  string `json:"oid"`
	Size int64  `json:"size"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// tree lists every file of a revision, following the listing's pages.
func (h *hub) tree(ctx context.Context, t haven.RepoType, id haven.RepoID, rev string) ([]remoteEntry, error) {
	next := apiPath(t, id) + "/tree/" + url.PathEscape(rev) + "?recursive=true&expand=false"
	var out []remoteEntry
	for next != "" {
		resp, err := h.do(ctx, http.MethodGet, next, nil, nil)
		if err != nil {
			return nil, err
		}
		var page []remoteEntry
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: tree listing: %w", h.name(), err)
		}
		for _, e := range page {
			if e.Type == "file" {
				out = append(out, e)
			}
		}
		next = nextLink(resp.Header.Get("Link"))
	}
	return out, nil
}

// nextLink finds the rel="next" URL of a Link header.
func nextLink(link string) string {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}

// revision resolves a branch of the repository to its commit; "" when
// the branch does not exist.
func (h *hub) revision(ctx context.Context, t haven.RepoType, id haven.RepoID, branch string) (string, error) {
	var r remoteRepo
	err := h.getJSON(ctx, apiPath(t, id)+"/revision/"+url.PathEscape(branch), &r)
	var re *remoteError
	if asRemote(err, &re) && re.status == http.StatusNotFound && re.code == "RevisionNotFound" {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return r.SHA, nil
}

// createRepo creates the repository on the hub; one that exists is fine.
func (h *hub) createRepo(ctx context.Context, t haven.RepoType, id haven.RepoID, private bool, sdk string) error {
	body := map[string]any{"name": id.Name, "organization": id.Namespace, "type": string(t), "private": private}
	if t == haven.Space {
		if sdk == "" {
			sdk = "static"
		}
		body["sdk"] = sdk
	}
	err := h.postJSON(ctx, "/api/repos/create", body, nil)
	var re *remoteError
	if asRemote(err, &re) && re.status == http.StatusConflict {
		return nil
	}
	return err
}

// createBranch makes branch on the hub, starting at the default branch.
func (h *hub) createBranch(ctx context.Context, t haven.RepoType, id haven.RepoID, branch string) error {
	err := h.postJSON(ctx, apiPath(t, id)+"/branch/"+url.PathEscape(branch), map[string]any{}, nil)
	var re *remoteError
	if asRemote(err, &re) && re.status == http.StatusConflict {
		return nil
	}
	return err
}

// preupload asks the hub which of files must go through LFS.
func (h *hub) preupload(ctx context.Context, t haven.RepoType, id haven.RepoID, rev string, files []preuploadFile) (map[string]string, error) {
	var out struct {
		Files []struct {
			Path       string `json:"path"`
			UploadMode string `json:"uploadMode"`
		} `json:"files"`
	}
	modes := map[string]string{}
	for len(files) > 0 {
		n := min(len(files), 250)
		if err := h.postJSON(ctx, apiPath(t, id)+"/preupload/"+url.PathEscape(rev), map[string]any{"files": files[:n]}, &out); err != nil {
			return nil, err
		}
		for _, f := range out.Files {
			modes[f.Path] = f.UploadMode
		}
		files = files[n:]
	}
	return modes, nil
}

type preuploadFile struct {
	Path   string `json:"path"`
	Sample string `json:"sample"`
	Size   int64  `json:"size"`
}

// commitLine is one line of a commit's NDJSON body.
type commitLine struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// commit makes one commit on branch, whose head must be parent.
func (h *hub) commit(ctx context.Context, t haven.RepoType, id haven.RepoID, branch string, lines []commitLine) (string, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return "", err
		}
	}
	resp, err := h.do(ctx, http.MethodPost, apiPath(t, id)+"/commit/"+url.PathEscape(branch), &body,
		http.Header{"Content-Type": {"application/x-ndjson"}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		CommitOID string `json:"commitOid"`
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&out); err != nil {
		return "", fmt.Errorf("%s: commit answer: %w", h.name(), err)
	}
	return out.CommitOID, nil
}

// tag creates a tag on the hub at rev; an existing tag is fine.
func (h *hub) tag(ctx context.Context, t haven.RepoType, id haven.RepoID, tag, rev string) error {
	err := h.postJSON(ctx, apiPath(t, id)+"/tag/"+url.PathEscape(rev), map[string]any{"tag": tag}, nil)
	var re *remoteError
	if asRemote(err, &re) && re.status == http.StatusConflict {
		return nil
	}
	return err
}

func asRemote(err error, target **remoteError) bool { return err != nil && errors.As(err, target) }

// remoteRefs is the Hub's refs listing.
type remoteRefs struct {
	Branches     []remoteRef `json:"branches"`
	Tags         []remoteRef `json:"tags"`
	Converts     []remoteRef `json:"converts"`
	PullRequests []remoteRef `json:"pullRequests"`
}

type remoteRef struct {
	Name         string `json:"name"`
	Ref          string `json:"ref"`
	TargetCommit string `json:"targetCommit"`
}

// refs lists the repository's branches, tags, conversions and pull
// request refs.
func (h *hub) refs(ctx context.Context, t haven.RepoType, id haven.RepoID) (*remoteRefs, error) {
	var out remoteRefs
	if err := h.getJSON(ctx, apiPath(t, id)+"/refs?include_prs=1", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// remoteCommit is an entry of the Hub's commit listing.
type remoteCommit struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Message string `json:"message"`
	Date    string `json:"date"`
	Authors []struct {
		User string `json:"user"`
	} `json:"authors"`
}

// commits lists the history of rev, newest first, until stop says to (the
// rest is already known) or it ends.
func (h *hub) commits(ctx context.Context, t haven.RepoType, id haven.RepoID, rev string, stop func(string) bool) ([]remoteCommit, error) {
	next := apiPath(t, id) + "/commits/" + url.PathEscape(rev)
	var out []remoteCommit
	for next != "" {
		resp, err := h.do(ctx, http.MethodGet, next, nil, nil)
		if err != nil {
			return nil, err
		}
		var page []remoteCommit
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: commit listing: %w", h.name(), err)
		}
		for _, c := range page {
			if stop(c.ID) {
				return out, nil
			}
			out = append(out, c)
		}
		next = nextLink(resp.Header.Get("Link"))
	}
	return out, nil
}

// download opens a file of a commit through resolve.
func (h *hub) download(ctx context.Context, t haven.RepoType, id haven.RepoID, commit, file string) (io.ReadCloser, error) {
	segs := strings.Split(file, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	resp, err := h.do(ctx, http.MethodGet, "/"+t.URLPrefix()+id.String()+"/resolve/"+commit+"/"+strings.Join(segs, "/"), nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
