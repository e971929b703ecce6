package portable

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet/casstore"
)

// ExportOptions say which repository Export writes where.
type ExportOptions struct {
	Type haven.RepoType
	ID   haven.RepoID
	// Dir is the folder of the export; it must not exist or be empty.
	Dir string
	// Version is the exporting Haven's version, recorded in the manifest.
	Version string
	// Now is the export time; zero means time.Now.
	Now time.Time
}

// Export writes the repository as a bare git repository in opts.Dir with
// every ref, its LFS objects under lfs/objects (those stored through Xet
// rebuilt as plain bytes, every one checked against its SHA-256 while
// written) and the manifest last. It reads the stores as they are, so it
// works while the server runs. On failure it leaves nothing in opts.Dir.
func Export(ctx context.Context, st Stores, opts ExportOptions) (man *Manifest, err error) {
	repo, err := st.Meta.RepoByName(ctx, opts.Type, opts.ID.Namespace, opts.ID.Name)
	if err != nil {
		return nil, err
	}
	g, err := st.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			clearDir(dir)
		}
	}()
	branch := repo.DefaultBranch()
	if _, err := git(ctx, "", nil, nil, "init", "--quiet", "--bare", "--template=", "--initial-branch="+branch, dir); err != nil {
		return nil, err
	}
	// One fetch takes every ref and the objects they reach as of one
	// moment, even while pushes go on.
	if _, err := git(ctx, dir, nil, nil, "fetch", "--quiet", "--no-write-fetch-head", g.Path(), "+refs/*:refs/*"); err != nil {
		return nil, fmt.Errorf("copying the git repository of %s: %w", repo.FullName(), err)
	}
	refs, err := listRefs(ctx, dir, "refs/")
	if err != nil {
		return nil, err
	}
	man = &Manifest{
		Format:        FormatVersion,
		Type:          repo.Type,
		ID:            repo.FullName(),
		Private:       repo.Private,
		Gated:         repo.Gated,
		DefaultBranch: branch,
		CardData:      repo.CardData,
		Refs:          map[string]string{},
		LFSObjects:    []Object{},
		HavenVersion:  opts.Version,
		ExportedAt:    opts.Now.UTC(),
	}
	if opts.Now.IsZero() {
		man.ExportedAt = time.Now().UTC()
	}
	revs := make([]string, 0, len(refs))
	for _, r := range refs {
		man.Refs[r.Name] = r.Target
		revs = append(revs, r.Target)
	}
	ptrs, err := scanPointers(ctx, dir, revs)
	if err != nil {
		return nil, err
	}
	cas := casstore.New(st.Blobs)
	for _, p := range ptrs {
		obj, err := exportObject(ctx, st.Blobs, cas, filepath.Join(dir, "lfs"), p)
		if err != nil {
			return nil, err
		}
		man.LFSObjects = append(man.LFSObjects, obj)
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, ManifestName), append(b, '\n')); err != nil {
		return nil, err
	}
	return man, nil
}

// exportObject copies one LFS object into lfsDir, from the blob store or
// rebuilt from Xet, and checks its size and SHA-256 on the way.
func exportObject(ctx context.Context, blobs blob.Driver, cas *casstore.Store, lfsDir string, p pointer) (Object, error) {
	obj := Object{OID: p.OID, Size: p.Size}
	var (
		r    io.ReadCloser
		size int64
	)
	f, info, err := blobs.Open(ctx, blob.LFSKey(p.OID))
	switch {
	case err == nil:
		r, size = f, info.Size
	case errors.Is(err, blob.ErrNotFound):
		x, n, xerr := cas.OpenSHA256(ctx, p.OID)
		if xerr != nil {
			if errors.Is(xerr, blob.ErrNotFound) {
				return obj, fmt.Errorf("LFS object %s (%s, %d bytes) is not stored in Haven, neither as an LFS object nor through Xet", p.OID, p.Path, p.Size)
			}
			return obj, fmt.Errorf("LFS object %s (%s): %w", p.OID, p.Path, xerr)
		}
		r, size, obj.Xet = x, n, true
	default:
		return obj, fmt.Errorf("LFS object %s (%s): %w", p.OID, p.Path, err)
	}
	defer r.Close()
	if size != p.Size {
		return obj, fmt.Errorf("LFS object %s (%s) has %d bytes in Haven, its pointer says %d", p.OID, p.Path, size, p.Size)
	}
	dst := lfsObjectPath(lfsDir, p.OID)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return obj, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return obj, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return obj, fmt.Errorf("LFS object %s (%s): %w", p.OID, p.Path, err)
	}
	obj.SHA256 = hex.EncodeToString(h.Sum(nil))
	if n != p.Size || obj.SHA256 != p.OID {
		return obj, fmt.Errorf("LFS object %s (%s) read back from Haven as %d bytes with SHA-256 %s: the store is damaged (run haven doctor)",
			p.OID, p.Path, n, obj.SHA256)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return obj, err
	}
	return obj, os.Rename(tmp.Name(), dst)
}

// emptyDir makes sure dir exists and is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: export writes into a new or empty folder", dir)
	}
	return nil
}

// clearDir removes what a failed export wrote, keeping dir itself.
func clearDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
