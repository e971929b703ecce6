package spaces

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
)

// preloadDir is where a checkout keeps the files of preload_from_hub, in
// the layout of huggingface_hub's cache; the app finds them through
// HF_HUB_CACHE.
const preloadDir = ".haven-preload/hub"

// preloadEntry is one line of a card's preload_from_hub: a model id, the
// files to fetch (all when none) and the revision (the default branch when
// empty).
type preloadEntry struct {
	repo     string
	files    []string
	revision string
}

// parsePreload reads "repo_id [file1,file2] [revision]".
func parsePreload(s string) (preloadEntry, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 3 {
		return preloadEntry{}, &configError{msg: fmt.Sprintf("Invalid preload_from_hub entry %q: expected \"repo_id [file1,file2] [revision]\"", s)}
	}
	e := preloadEntry{repo: fields[0]}
	if ns, name, ok := strings.Cut(e.repo, "/"); !ok || !haven.ValidName(name) || ns == "" || strings.Contains(name, "/") {
		return preloadEntry{}, &configError{msg: fmt.Sprintf("Invalid preload_from_hub entry %q: %q is not a model id", s, e.repo)}
	}
	if len(fields) > 1 {
		for _, f := range strings.Split(fields[1], ",") {
			if f = strings.TrimSpace(f); f != "" {
				e.files = append(e.files, f)
			}
		}
	}
	if len(fields) > 2 {
		e.revision = fields[2]
		if strings.Contains(e.revision, "..") || strings.HasPrefix(e.revision, "/") {
			return preloadEntry{}, &configError{msg: fmt.Sprintf("Invalid preload_from_hub entry %q: bad revision", s)}
		}
	}
	return e, nil
}

// preload writes the models that the card's preload_from_hub names, from
// this hub's own store, into the checkout files (once per checkout), as
// huggingface_hub's cache lays them out. As on the Hub, only public models
// can be preloaded.
func (s *Service) preload(ctx context.Context, entries []string, files string, log io.Writer) error {
	if len(entries) == 0 {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.Join(entries, "\n")))
	done := filepath.Join(files, ".haven-preload", ".done-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(done); err == nil {
		fmt.Fprintln(log, "Preloaded models: already in place")
		return nil
	}
	for _, line := range entries {
		e, err := parsePreload(line)
		if err != nil {
			return err
		}
		if err := s.preloadOne(ctx, e, filepath.Join(files, preloadDir), log); err != nil {
			return err
		}
	}
	return os.WriteFile(done, nil, 0o644)
}

func (s *Service) preloadOne(ctx context.Context, e preloadEntry, cache string, log io.Writer) error {
	ns, name, _ := strings.Cut(e.repo, "/")
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Model, ns, name)
	if err != nil || repo.Private {
		return &configError{msg: fmt.Sprintf("preload_from_hub: %s is not a public model on this hub (private models cannot be preloaded)", e.repo)}
	}
	if repo.Gated != "" {
		return &configError{msg: fmt.Sprintf("preload_from_hub: %s is gated; gated models cannot be preloaded", e.repo)}
	}
	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return err
	}
	rev := e.revision
	if rev == "" {
		rev = repo.DefaultBranch()
	}
	sha, err := g.Resolve(rev)
	if err != nil {
		return &configError{msg: fmt.Sprintf("preload_from_hub: %s has no revision %q", e.repo, rev)}
	}
	entries, err := g.List(sha, "", true)
	if err != nil {
		return err
	}
	byPath := map[string]gitstore.Entry{}
	for _, f := range entries {
		if f.Type == gitstore.TypeFile {
			byPath[f.Path] = f
		}
	}
	want := e.files
	if len(want) == 0 {
		for p := range byPath {
			want = append(want, p)
		}
	}
	root := filepath.Join(cache, "models--"+ns+"--"+name)
	fmt.Fprintf(log, "Preloading %s at %s: %d files\n", e.repo, short(sha), len(want))
	for _, p := range want {
		f, ok := byPath[path.Clean(p)]
		if !ok || strings.HasPrefix(path.Clean(p), "..") {
			return &configError{msg: fmt.Sprintf("preload_from_hub: %s has no file %s at %s", e.repo, p, short(sha))}
		}
		etag := f.OID
		if ptr, ok := g.Pointer(f); ok {
			etag = ptr.OID
		}
		blob := filepath.Join(root, "blobs", etag)
		if _, err := os.Stat(blob); err != nil {
			if err := g.WriteEntry(ctx, f, blob, s.cfg.Open); err != nil {
				return fmt.Errorf("preloading %s/%s: %w", e.repo, p, err)
			}
		}
		link := filepath.Join(root, "snapshots", sha, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(link), blob)
		if err != nil {
			return err
		}
		os.Remove(link)
		if err := os.Symlink(rel, link); err != nil {
			return err
		}
	}
	if e.revision != sha {
		ref := filepath.Join(root, "refs", filepath.FromSlash(rev))
		if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(ref, []byte(sha), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// preloads are the card's preload_from_hub entries the build fetches: a
// Docker Space's own Dockerfile decides its files, so it gets none.
func preloads(cfg *appConfig, log io.Writer) []string {
	if cfg.SDK == SDKDocker {
		if len(cfg.Preload) > 0 {
			fmt.Fprintln(log, "WARNING: preload_from_hub is not applied to Docker Spaces: download the files in the Dockerfile")
		}
		return nil
	}
	return cfg.Preload
}
