package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
)

// stagingPrefix is where a pull fetches the source's refs before they
// become the mirror's own, once every object they need is stored.
const stagingPrefix = "refs/haven-mirror/"

// pullState is what a pull mirror remembers between syncs.
type pullState struct {
	Refs    map[string]string `json:"refs"` // the source's refs at the last sync
	Objects int               `json:"objects,omitempty"`
	// Via is "git", or "rest" for a source that does not serve git; a
	// mirror keeps the way of its first sync, since the two give
	// different commit ids.
	Via string `json:"via,omitempty"`
	// Commits maps each source commit to the commit rebuilt from it ("rest").
	Commits map[string]string `json:"commits,omitempty"`
}

// Progress hears how a sync goes; the command line prints it.
type Progress interface {
	// Step says what the sync does now.
	Step(format string, args ...any)
	// Bytes counts large-file bytes stored so far out of a total.
	Bytes(done, total int64)
	// Git receives git's own progress output, or is nil.
	Git() io.Writer
}

type quiet struct{}

func (quiet) Step(string, ...any) {}
func (quiet) Bytes(int64, int64)  {}
func (quiet) Git() io.Writer      { return nil }

// pull brings a pull mirror's repository in step with its source: fetch
// the source's refs and objects aside, store every LFS object the new
// commits point to (each verified by its SHA-256), then move all the
// mirror's refs at once. An interrupted pull leaves the last good state
// visible; the next one starts over, keeping what was stored.
func (s *Service) pull(ctx context.Context, m *haven.Mirror, repo *haven.Repo, h *hub, p Progress) (string, error) {
	var st pullState
	if m.State != "" {
		if err := json.Unmarshal([]byte(m.State), &st); err != nil {
			return "", fmt.Errorf("the mirror's state: %w", err)
		}
	}
	if st.Via != "rest" {
		state, err := s.pullGit(ctx, m, repo, h, p)
		if err == nil || st.Via == "git" || !noGitServed(err) {
			return state, err
		}
		// A first sync: a source that answers its API but not git is
		// rebuilt through the API.
		if _, rerr := h.refs(ctx, m.RemoteType, m.RemoteID); rerr != nil {
			return "", err
		}
		st = pullState{Via: "rest"}
	}
	st, err := s.pullREST(ctx, m, repo, h, st, p)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(st)
	return string(b), nil
}

// noGitServed tells a fetch that failed because the server does not serve
// git at that URL.
func noGitServed(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "not found") || strings.Contains(msg, "not valid: is this a git repository")
}

// pullGit syncs a pull mirror through git.
func (s *Service) pullGit(ctx context.Context, m *haven.Mirror, repo *haven.Repo, h *hub, p Progress) (string, error) {
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return "", err
	}
	p.Step("fetching %s", m.RemoteURL())
	if err := g.FetchInto(ctx, gitstore.Remote{URL: h.gitURL(m.RemoteType, m.RemoteID), Header: h.gitHeader(), Progress: p.Git()}, stagingPrefix); err != nil {
		return "", describeFetchError(h, err)
	}
	staged, err := g.RefTargets(ctx, stagingPrefix)
	if err != nil {
		return "", err
	}
	current, err := mirroredRefs(ctx, g)
	if err != nil {
		return "", err
	}
	source := map[string]string{}
	for name, sha := range staged {
		source["refs/"+strings.TrimPrefix(name, stagingPrefix)] = sha
	}
	var tips, have []string
	for ref, sha := range source {
		if current[ref] != sha {
			tips = append(tips, sha)
		}
	}
	for _, sha := range current {
		have = append(have, sha)
	}
	pointers, err := g.NewPointers(ctx, tips, have)
	if err != nil {
		return "", err
	}
	stored, err := s.storeObjects(ctx, m, h, pointers, p)
	if err != nil {
		return "", err
	}
	var updates []haven.RefUpdate
	for ref, sha := range source {
		if current[ref] != sha {
			updates = append(updates, haven.RefUpdate{Ref: ref, OldSHA: current[ref], NewSHA: sha})
		}
	}
	for ref, sha := range current {
		if _, ok := source[ref]; !ok {
			updates = append(updates, haven.RefUpdate{Ref: ref, OldSHA: sha})
		}
	}
	sort.Slice(updates, func(i, j int) bool { return updates[i].Ref < updates[j].Ref })
	if len(updates) > 0 {
		p.Step("moving %d refs", len(updates))
		if err := s.apply(ctx, repo, func() error { return g.UpdateRefs(ctx, updates) }); err != nil {
			return "", err
		}
	}
	state, _ := json.Marshal(pullState{Refs: source, Objects: stored, Via: "git"})
	p.Step("in step with %s: %d refs, %d refs moved, %d large files stored", m.RemoteURL(), len(source), len(updates), stored)
	return string(state), nil
}

// describeFetchError words a failed fetch for the mirror's page.
func describeFetchError(h *hub, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Authentication failed") || strings.Contains(msg, "could not read Username") || strings.Contains(msg, "401"):
		return fmt.Errorf("%s refused the credentials (a token with read access is needed for private or gated repositories): %w", h.name(), err)
	case strings.Contains(msg, "not found") || strings.Contains(msg, "404"):
		return fmt.Errorf("%s has no such repository, or it is private: %w", h.name(), err)
	}
	return fmt.Errorf("fetching from %s: %w", h.name(), err)
}

// mirroredRefs maps the mirror's own refs of the kinds a mirror copies to
// their objects.
func mirroredRefs(ctx context.Context, g *gitstore.Repo) (map[string]string, error) {
	all, err := g.RefTargets(ctx, "refs/")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, sha := range all {
		for _, kind := range []string{"refs/heads/", "refs/tags/", "refs/pr/", "refs/convert/"} {
			if strings.HasPrefix(name, kind) {
				out[name] = sha
			}
		}
	}
	return out, nil
}

// downloadWorkers is how many large files a sync downloads at once.
const downloadWorkers = 4

// storeObjects stores the LFS objects of pointers that the store lacks,
// downloaded through the source's LFS API, and returns how many it stored.
func (s *Service) storeObjects(ctx context.Context, m *haven.Mirror, h *hub, pointers []lfs.Pointer, p Progress) (int, error) {
	var missing []lfs.ObjectSpec
	var total int64
	for _, ptr := range pointers {
		ok, err := s.cfg.Has(ctx, ptr.OID)
		if err != nil {
			return 0, err
		}
		if !ok {
			missing = append(missing, lfs.ObjectSpec(ptr))
			total += ptr.Size
		}
	}
	if len(missing) == 0 {
		return 0, nil
	}
	p.Step("downloading %d large files (%d bytes)", len(missing), total)
	var (
		mu       sync.Mutex
		done     int64
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The batch API answers a bounded number of objects per call.
	for start := 0; start < len(missing); start += 100 {
		batch := missing[start:min(start+100, len(missing))]
		resp, err := h.lfsBatch(ctx, m.RemoteType, m.RemoteID, "download", batch)
		if err != nil {
			return 0, err
		}
		jobs := make(chan lfs.ObjectResult)
		var wg sync.WaitGroup
		for range downloadWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for o := range jobs {
					err := s.download(ctx, h, o, func(k int64) {
						mu.Lock()
						done += k
						d := done
						mu.Unlock()
						p.Bytes(d, total)
					})
					if err != nil {
						fail(err)
						cancel()
					}
				}
			}()
		}
		for _, o := range resp.Objects {
			if ctx.Err() != nil {
				break
			}
			jobs <- o
		}
		close(jobs)
		wg.Wait()
		if firstErr != nil {
			return 0, firstErr
		}
	}
	return len(missing), nil
}

// download stores one object from its download action, verified by its
// SHA-256 and size while it streams: bytes that do not match are never
// stored.
func (s *Service) download(ctx context.Context, h *hub, o lfs.ObjectResult, progress func(int64)) error {
	if o.Error != nil {
		return fmt.Errorf("%s cannot send the large file %s: %s", h.name(), o.OID, o.Error.Message)
	}
	a := o.Actions["download"]
	if a == nil {
		return fmt.Errorf("%s gave no download for the large file %s", h.name(), o.OID)
	}
	resp, err := h.action(ctx, "GET", a, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	cr := &countingReader{r: resp.Body, report: progress}
	if err := blob.PutVerified(ctx, s.cfg.Blobs, blob.LFSKey(o.OID), cr, o.OID, o.Size); err != nil {
		return fmt.Errorf("large file %s from %s: %w", o.OID, h.name(), err)
	}
	return nil
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r      io.Reader
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.report(int64(n))
	}
	return n, err
}
