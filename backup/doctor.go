package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// Check is what Doctor examines.
type Check struct {
	Meta     *meta.Store
	Git      *gitstore.Store
	ReposDir string // the folder of the git store, to find repositories the database lacks
	Blobs    blob.Driver
	CAS      *casstore.Store
}

// Report is what Doctor found. Problems make a data folder unhealthy;
// orphaned blobs (which garbage collection removes) do not.
type Report struct {
	Repos       int
	GitRepos    int
	Refs        int
	LFSObjects  int // distinct LFS objects the refs reach
	XetObjects  int // of which stored through Xet
	OrphanBlobs int // LFS objects no ref reaches
	OrphanBytes int64
	Problems    []string
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d repositories in the database, %d git repositories, %d refs\n", r.Repos, r.GitRepos, r.Refs)
	fmt.Fprintf(&b, "%d LFS objects reachable from refs (%d stored through Xet)\n", r.LFSObjects, r.XetObjects)
	fmt.Fprintf(&b, "%d orphaned LFS objects (%d bytes), left for garbage collection\n", r.OrphanBlobs, r.OrphanBytes)
	if r.OK() {
		b.WriteString("no problems found\n")
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:\n", len(r.Problems))
	for _, p := range r.Problems {
		b.WriteString("  - " + p + "\n")
	}
	return b.String()
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// where an LFS object is referred to from.
type lfsRef struct {
	size            int64
	repo, ref, path string
}

// Doctor checks that the database and the git repositories agree, that
// every ref's history is complete, and that every LFS object a ref
// reaches is stored (as an LFS object or as a Xet file whose xorbs are
// there). It changes nothing. The error is for failures to check at all;
// what is wrong with the data is in the report.
func Doctor(ctx context.Context, c Check) (*Report, error) {
	rep := &Report{}
	repos, err := c.Meta.ListRepos(ctx, meta.RepoFilter{SeeAll: true, Sort: "id"})
	if err != nil {
		return nil, err
	}
	rep.Repos = len(repos)
	inDB := map[string]bool{}
	lfsObjs := map[string]lfsRef{}
	for _, r := range repos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := string(r.Type) + " " + r.FullName()
		p := c.Git.Path(r.Type, r.RepoID())
		inDB[filepath.Clean(p)] = true
		if _, err := os.Stat(filepath.Join(p, "HEAD")); err != nil {
			rep.problem("%s: no git repository (%s)", name, p)
			continue
		}
		rep.GitRepos++
		checkRefs(ctx, rep, name, p)
		g, err := c.Git.Open(ctx, r.Type, r.RepoID())
		if err != nil {
			rep.problem("%s: opening the git repository: %v", name, err)
			continue
		}
		files, err := g.LFSFiles(ctx)
		if err != nil {
			rep.problem("%s: listing its LFS files: %v", name, err)
			continue
		}
		for _, f := range files {
			if _, seen := lfsObjs[f.Pointer.OID]; !seen {
				lfsObjs[f.Pointer.OID] = lfsRef{size: f.Pointer.Size, repo: name, ref: f.Ref, path: f.Path}
			}
		}
	}
	if c.ReposDir != "" {
		onDisk, err := listRepos(c.ReposDir)
		if err != nil {
			return nil, err
		}
		for _, rel := range onDisk {
			if !inDB[filepath.Clean(filepath.Join(c.ReposDir, rel))] {
				rep.problem("git repository %s has no repository in the database", filepath.ToSlash(rel))
			}
		}
	}

	rep.LFSObjects = len(lfsObjs)
	oids := make([]string, 0, len(lfsObjs))
	for oid := range lfsObjs {
		oids = append(oids, oid)
	}
	sort.Strings(oids)
	for _, oid := range oids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ref := lfsObjs[oid]
		where := fmt.Sprintf("%s, %s at %s", ref.repo, ref.path, strings.TrimPrefix(ref.ref, "refs/heads/"))
		info, err := c.Blobs.Stat(ctx, blob.LFSKey(oid))
		if err == nil {
			if info.Size != ref.size {
				rep.problem("LFS object %s (%s) has %d bytes, its pointer says %d", oid, where, info.Size, ref.size)
			}
			continue
		}
		if !errors.Is(err, blob.ErrNotFound) {
			return nil, fmt.Errorf("blob store: %w", err)
		}
		if c.CAS != nil {
			f, err := c.CAS.FileBySHA256(ctx, oid)
			if err == nil {
				rep.XetObjects++
				if f.Size != ref.size {
					rep.problem("LFS object %s (%s) is a Xet file of %d bytes, its pointer says %d", oid, where, f.Size, ref.size)
				}
				if missing := missingXorbs(ctx, c.CAS, f.Terms); missing != "" {
					rep.problem("LFS object %s (%s) is a Xet file whose xorb %s is missing", oid, where, missing)
				}
				continue
			}
			if !errors.Is(err, blob.ErrNotFound) {
				return nil, fmt.Errorf("the Xet store: %w", err)
			}
		}
		rep.problem("LFS object %s (%d bytes; %s) is missing from the blob store", oid, ref.size, where)
	}

	err = c.Blobs.List(ctx, "lfs/", func(i blob.Info) error {
		oid := path.Base(i.Key)
		if _, live := lfsObjs[oid]; blob.ValidOID(oid) && !live {
			rep.OrphanBlobs++
			rep.OrphanBytes += i.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the blob store: %w", err)
	}
	return rep, nil
}

// missingXorbs returns the first xorb of terms that is not stored, or "".
func missingXorbs(ctx context.Context, cas *casstore.Store, terms []xet.FileTerm) string {
	seen := map[xet.Hash]bool{}
	for _, t := range terms {
		if seen[t.Xorb] {
			continue
		}
		seen[t.Xorb] = true
		rc, _, err := cas.OpenXorb(ctx, t.Xorb)
		if err != nil {
			return t.Xorb.String()
		}
		rc.Close()
	}
	return ""
}

// checkRefs checks that every ref of the repository at dir points at a
// commit (through tags) whose whole history is present.
func checkRefs(ctx context.Context, rep *Report, name, dir string) {
	out, err := git(ctx, dir, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		rep.problem("%s: reading refs: %v", name, err)
		return
	}
	var tips []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		oid, ref, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		rep.Refs++
		typ, err := git(ctx, dir, "cat-file", "-t", oid+"^{commit}")
		if err != nil || strings.TrimSpace(string(typ)) != "commit" {
			rep.problem("%s: %s points at %s, which is not a commit in the repository", name, ref, oid)
			continue
		}
		tips = append(tips, oid)
	}
	if err := checkObjects(ctx, dir, tips); err != nil {
		rep.problem("%s: history incomplete: %v", name, err)
	}
}
