package portable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet/casstore"
)

// ImportOptions say what Import creates from which folder.
type ImportOptions struct {
	// Dir is an export, a git repository (a clone or a bare repository) or
	// a huggingface_hub cache folder (models--ns--name).
	Dir string
	// Type and ID name the new repository. Zero values take what the
	// source says (an export's manifest, a cache folder's name); a git
	// repository does not say, so it needs ID. The type defaults to model.
	Type haven.RepoType
	ID   haven.RepoID
	// Private makes the repository private; an export of a private
	// repository is imported private in any case.
	Private bool
	// Refresh derives the repository's metadata once its refs are in (see
	// api.Refresher); nil leaves that to the next push.
	Refresh func(ctx context.Context, repo *haven.Repo) error
}

// ImportResult tells what Import did.
type ImportResult struct {
	Repo   *haven.Repo
	Source string // what Dir was: "Haven export", "git repository", "huggingface_hub cache"
	Refs   int
	// LFSObjects counts the objects the history refers to; Stored those
	// written, the others Haven held already.
	LFSObjects, Stored int
}

// source is a git repository to import, with its LFS objects.
type source struct {
	kind    string
	gitDir  string
	refs    []ref
	head    string // default branch
	typ     haven.RepoType
	id      haven.RepoID // zero when the source does not say
	private bool
	gated   string
	// object returns the file holding an LFS object, or "".
	object  func(oid string) string
	cleanup func()
}

// importRefs are the ref namespaces a repository of the Hub has.
var importRefs = []string{"refs/heads/", "refs/tags/", "refs/pr/", "refs/convert/"}

// Import creates a repository from opts.Dir. Every LFS object the history
// refers to must be in the source (or in Haven already) and is stored with
// its SHA-256 checked; only then do the refs appear, all at once. The
// namespace must exist and the repository must not. A failure before the
// refs are in removes what was created.
func Import(ctx context.Context, st Stores, opts ImportOptions) (*ImportResult, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	src, err := openSource(ctx, dir, opts.Type)
	if err != nil {
		return nil, err
	}
	if src.cleanup != nil {
		defer src.cleanup()
	}
	typ := src.typ
	if opts.Type != "" {
		typ = opts.Type
	}
	if typ == "" {
		typ = haven.Model
	}
	id := src.id
	if opts.ID != (haven.RepoID{}) {
		id = opts.ID
	}
	if id == (haven.RepoID{}) {
		return nil, fmt.Errorf("%s is a %s that does not say which repository it is: name it with --as NAMESPACE/NAME", dir, src.kind)
	}
	owner, err := st.Meta.UserByName(ctx, id.Namespace)
	if haven.IsCode(err, haven.ENotFound) {
		return nil, fmt.Errorf("namespace %q does not exist: create the user or organisation first (haven user create, haven org create)", id.Namespace)
	}
	if err != nil {
		return nil, err
	}
	id.Namespace = owner.Name
	if _, err := st.Meta.RepoByName(ctx, typ, id.Namespace, id.Name); err == nil {
		return nil, fmt.Errorf("%s %s already exists: import only creates new repositories", typ, id)
	} else if !haven.IsCode(err, haven.ERepoNotFound) && !haven.IsCode(err, haven.ENotFound) {
		return nil, err
	}
	if !hasRef(src.refs, "refs/heads/"+src.head) {
		return nil, fmt.Errorf("%s has no branch %q, its default branch", dir, src.head)
	}

	// Check the LFS objects before creating anything.
	revs := make([]string, 0, len(src.refs))
	for _, r := range src.refs {
		revs = append(revs, r.Target)
	}
	ptrs, err := scanPointers(ctx, src.gitDir, revs)
	if err != nil {
		return nil, err
	}
	cas := casstore.New(st.Blobs)
	var missing []string
	for _, p := range ptrs {
		if f := src.object(p.OID); f != "" {
			fi, err := os.Stat(f)
			if err != nil {
				return nil, err
			}
			if fi.Size() != p.Size {
				return nil, fmt.Errorf("LFS object %s (%s) in %s has %d bytes, its pointer says %d", p.OID, p.Path, f, fi.Size(), p.Size)
			}
			continue
		}
		if held, err := haveObject(ctx, st.Blobs, cas, p.OID); err != nil {
			return nil, err
		} else if !held {
			missing = append(missing, p.OID+" ("+p.Path+")")
		}
	}
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 20 {
			shown = shown[:20]
		}
		return nil, fmt.Errorf("%s lacks %d LFS objects that its history refers to (fetch them first, e.g. git lfs fetch --all): %s",
			dir, len(missing), strings.Join(shown, ", "))
	}

	repo := &haven.Repo{Type: typ, Namespace: id.Namespace, Name: id.Name, Private: opts.Private || src.private, Gated: src.gated}
	if src.head != "main" {
		repo.DefaultBranchName = src.head
	}
	if err := st.Meta.CreateRepo(ctx, repo); err != nil {
		return nil, err
	}
	res := &ImportResult{Repo: repo, Source: src.kind, Refs: len(src.refs), LFSObjects: len(ptrs)}
	refsIn := false
	defer func() {
		if !refsIn {
			// The row goes first, so that a half-imported repository is
			// never reachable; then its git repository.
			bg := context.WithoutCancel(ctx)
			st.Meta.DeleteRepo(bg, repo.ID)
			st.Git.Remove(bg, repo.Type, repo.RepoID())
		}
	}()
	if err := st.Git.Init(ctx, repo.Type, repo.RepoID()); err != nil {
		return nil, err
	}
	path := st.Git.Path(repo.Type, repo.RepoID())
	if _, err := git(ctx, path, nil, nil, "symbolic-ref", "HEAD", "refs/heads/"+src.head); err != nil {
		return nil, err
	}
	// The objects come without refs: nothing is visible yet.
	wants := uniqueTargets(src.refs)
	if _, err := git(ctx, path, strings.NewReader(strings.Join(wants, "\n")+"\n"), nil,
		"fetch", "--quiet", "--no-write-fetch-head", "--no-tags", "--stdin", src.gitDir); err != nil {
		return nil, fmt.Errorf("copying git objects from %s: %w", dir, err)
	}
	for _, p := range ptrs {
		stored, err := importObject(ctx, st.Blobs, src.object(p.OID), p)
		if err != nil {
			return nil, err
		}
		if stored {
			res.Stored++
		}
	}
	// All refs in one transaction: every one appears, or none.
	var tx strings.Builder
	for _, r := range src.refs {
		fmt.Fprintf(&tx, "create %s %s\n", r.Name, r.Target)
	}
	if _, err := git(ctx, path, strings.NewReader(tx.String()), nil, "update-ref", "--stdin"); err != nil {
		return nil, err
	}
	refsIn = true
	if opts.Refresh != nil {
		fresh, err := st.Meta.RepoByID(ctx, repo.ID)
		if err == nil {
			err = opts.Refresh(ctx, fresh)
		}
		if err != nil {
			return res, fmt.Errorf("%s %s is imported, but deriving its card and tags failed (a push refreshes them): %w", typ, repo.FullName(), err)
		}
		res.Repo = fresh
	}
	return res, nil
}

// haveObject tells whether Haven holds an LFS object, either way.
func haveObject(ctx context.Context, blobs blob.Driver, cas *casstore.Store, oid string) (bool, error) {
	if _, err := blobs.Stat(ctx, blob.LFSKey(oid)); err == nil {
		return true, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return false, err
	}
	if _, err := cas.FileBySHA256(ctx, oid); err == nil {
		return true, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return false, err
	}
	return false, nil
}

// importObject stores the LFS object in file, its SHA-256 and size checked
// as it streams, unless the blob store has it already; it reports whether it
// wrote it. An empty file means Haven holds the object already.
func importObject(ctx context.Context, blobs blob.Driver, file string, p pointer) (bool, error) {
	if file == "" {
		return false, nil
	}
	if _, err := blobs.Stat(ctx, blob.LFSKey(p.OID)); err == nil {
		return false, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := blob.PutVerified(ctx, blobs, blob.LFSKey(p.OID), f, p.OID, p.Size); err != nil {
		return false, fmt.Errorf("LFS object %s (%s) from %s: %w", p.OID, p.Path, file, err)
	}
	return true, nil
}

func uniqueTargets(refs []ref) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range refs {
		if !seen[r.Target] {
			seen[r.Target] = true
			out = append(out, r.Target)
		}
	}
	sort.Strings(out)
	return out
}

// openSource finds out what dir holds.
func openSource(ctx context.Context, dir string, typ haven.RepoType) (*source, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	switch {
	case exists(filepath.Join(dir, ManifestName)):
		return openExport(ctx, dir)
	case exists(filepath.Join(dir, ".git")):
		out, err := git(ctx, "", nil, []string{"GIT_DIR=" + filepath.Join(dir, ".git")}, "rev-parse", "--absolute-git-dir")
		if err != nil {
			return nil, err
		}
		return openGit(ctx, strings.TrimSpace(string(out)), false)
	case exists(filepath.Join(dir, "HEAD")) && exists(filepath.Join(dir, "objects")) && exists(filepath.Join(dir, "refs")):
		return openGit(ctx, dir, true)
	case exists(filepath.Join(dir, "snapshots")):
		return openCache(ctx, dir, typ)
	}
	return nil, fmt.Errorf("%s is neither a Haven export, a git repository nor a huggingface_hub cache folder (models--NS--NAME with snapshots/)", dir)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// openExport reads an export: a bare repository and its manifest.
func openExport(ctx context.Context, dir string) (*source, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var man Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	if man.Format != FormatVersion {
		return nil, fmt.Errorf("%s: export format %d, this Haven reads format %d", dir, man.Format, FormatVersion)
	}
	src, err := openGit(ctx, dir, true)
	if err != nil {
		return nil, err
	}
	src.kind = "Haven export"
	src.typ, src.private, src.gated = man.Type, man.Private, man.Gated
	if man.DefaultBranch != "" {
		src.head = man.DefaultBranch
	}
	id, err := haven.ParseRepoID(man.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	src.id = id
	return src, nil
}

// openGit reads a git repository: its refs in the Hub's namespaces and,
// for a clone, the branches of origin it has no local branch for.
func openGit(ctx context.Context, gitDir string, bare bool) (*source, error) {
	if exists(filepath.Join(gitDir, "shallow")) {
		return nil, fmt.Errorf("%s is a shallow clone, without all of its history: run git fetch --unshallow first", gitDir)
	}
	refs, err := listRefs(ctx, gitDir, importRefs...)
	if err != nil {
		return nil, err
	}
	src := &source{kind: "git repository", gitDir: gitDir}
	have := map[string]bool{}
	for _, r := range refs {
		have[r.Name] = true
	}
	if !bare {
		remote, err := listRefs(ctx, gitDir, "refs/remotes/origin/")
		if err != nil {
			return nil, err
		}
		for _, r := range remote {
			name := "refs/heads/" + strings.TrimPrefix(r.Name, "refs/remotes/origin/")
			if name != "refs/heads/HEAD" && !have[name] {
				refs = append(refs, ref{Name: name, Target: r.Target})
				have[name] = true
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
	src.refs = refs
	// The default branch: where HEAD points, else main, else the first.
	if out, err := git(ctx, gitDir, nil, nil, "symbolic-ref", "--quiet", "HEAD"); err == nil {
		if b := strings.TrimSpace(string(out)); have[b] && strings.HasPrefix(b, "refs/heads/") {
			src.head = strings.TrimPrefix(b, "refs/heads/")
		}
	}
	if src.head == "" {
		for _, r := range refs {
			if r.Name == "refs/heads/main" || (src.head == "" && strings.HasPrefix(r.Name, "refs/heads/")) {
				src.head = strings.TrimPrefix(r.Name, "refs/heads/")
			}
		}
	}
	if src.head == "" {
		return nil, fmt.Errorf("%s has no branch to import", gitDir)
	}
	lfsDir := filepath.Join(gitDir, "lfs")
	src.object = func(oid string) string {
		if p := lfsObjectPath(lfsDir, oid); exists(p) {
			return p
		}
		return ""
	}
	return src, nil
}

// signature is the author and committer of the commits import makes.
func signature(when time.Time) []string {
	date := fmt.Sprintf("%d +0000", when.Unix())
	return []string{"GIT_AUTHOR_NAME=Haven import", "GIT_AUTHOR_EMAIL=import@haven.invalid", "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=Haven import", "GIT_COMMITTER_EMAIL=import@haven.invalid", "GIT_COMMITTER_DATE=" + date}
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func hasRef(refs []ref, name string) bool {
	for _, r := range refs {
		if r.Name == name {
			return true
		}
	}
	return false
}
