// Package gitstore keeps every repository as a bare git repository on disk
// and performs the git operations the hub needs: resolving revisions,
// reading trees and blobs, committing file operations with compare-and-swap
// on refs, branches, tags, history, squashing and git smart HTTP.
//
// Reads and object writes go through go-git in process; ref updates and the
// smart-HTTP transport go through the git command line, so that ref locking
// stays compatible with git receive-pack running beside it.
package gitstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/havenhub/haven"
)

// Store is a directory of bare repositories laid out as
// root/{models|datasets|spaces}/{namespace}/{name}.git.
type Store struct {
	root string

	mu    sync.Mutex
	repos map[string]*Repo // open handles by path; refs are never cached in them
}

// initConfig is the configuration every new repository gets.
var initConfig = [][2]string{
	// Deleting the default branch through a push would leave HEAD dangling.
	{"receive.denyDeleteCurrent", "refuse"},
	// Force pushes are allowed, as on the Hub.
	{"receive.denyNonFastForwards", "false"},
	{"uploadpack.allowFilter", "true"},
	// Lets clients fetch a commit by its sha even when no ref points at it.
	{"uploadpack.allowAnySHA1InWant", "true"},
}

// New returns a store of bare repositories under root, creating root if needed.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("gitstore: git command not found: %w", err)
	}
	return &Store{root: abs, repos: make(map[string]*Repo)}, nil
}

// Path returns the directory of the bare repository of id.
func (s *Store) Path(t haven.RepoType, id haven.RepoID) string {
	return filepath.Join(s.root, t.Plural(), id.Namespace, id.Name+".git")
}

// Init creates an empty bare repository whose HEAD points at refs/heads/main.
// It fails with haven.EConflict if the repository exists.
func (s *Store) Init(ctx context.Context, t haven.RepoType, id haven.RepoID) error {
	if err := checkID(id); err != nil {
		return err
	}
	path := s.Path(t, id)
	if exists(path) {
		return haven.Errorf(haven.EConflict, "Repository %s already exists", id)
	}
	// Build the repository aside and rename it into place, so that a
	// half-initialised repository is never visible and concurrent Inits of
	// one name cannot both succeed.
	tmp, err := s.tempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := runGit(ctx, "", nil, "init", "--quiet", "--bare", "--template=", "--initial-branch=main", tmp); err != nil {
		return err
	}
	for _, kv := range initConfig {
		if _, err := runGit(ctx, tmp, nil, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		if exists(path) {
			return haven.Errorf(haven.EConflict, "Repository %s already exists", id)
		}
		return err
	}
	return nil
}

// Remove deletes the repository of id. Removing a missing repository is not
// an error, so that metadata and storage can be brought back in step.
func (s *Store) Remove(ctx context.Context, t haven.RepoType, id haven.RepoID) error {
	if err := checkID(id); err != nil {
		return err
	}
	path := s.Path(t, id)
	s.forget(path)
	if !exists(path) {
		return nil
	}
	// Rename first so the repository disappears at once, then delete at leisure.
	tmp, err := s.tempDir()
	if err != nil {
		return err
	}
	trash := filepath.Join(tmp, "repo.git")
	if err := os.Rename(path, trash); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return os.RemoveAll(tmp)
}

// Move renames the repository from to to, within one repository type.
// A missing source is haven.ERepoNotFound; an existing target haven.EConflict.
func (s *Store) Move(ctx context.Context, t haven.RepoType, from, to haven.RepoID) error {
	if err := checkID(from); err != nil {
		return err
	}
	if err := checkID(to); err != nil {
		return err
	}
	src, dst := s.Path(t, from), s.Path(t, to)
	if !exists(src) {
		return haven.Errorf(haven.ERepoNotFound, "Repository not found")
	}
	if exists(dst) {
		return haven.Errorf(haven.EConflict, "Repository %s already exists", to)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	s.forget(src)
	if err := os.Rename(src, dst); err != nil {
		if exists(dst) {
			return haven.Errorf(haven.EConflict, "Repository %s already exists", to)
		}
		return err
	}
	return nil
}

// Open returns a handle on the repository of id; a missing repository is
// haven.ERepoNotFound. Handles are cached and safe for concurrent use.
func (s *Store) Open(ctx context.Context, t haven.RepoType, id haven.RepoID) (*Repo, error) {
	if err := checkID(id); err != nil {
		return nil, haven.Errorf(haven.ERepoNotFound, "Repository not found")
	}
	return s.open(s.Path(t, id))
}

func (s *Store) open(path string) (*Repo, error) {
	// The stat keeps a cached handle honest when another server removed or
	// moved the repository.
	if !exists(path) {
		s.forget(path)
		return nil, haven.Errorf(haven.ERepoNotFound, "Repository not found")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[path]; ok {
		return r, nil
	}
	r := openRepo(path)
	s.repos[path] = r
	return r, nil
}

func (s *Store) forget(path string) {
	s.mu.Lock()
	delete(s.repos, path)
	s.mu.Unlock()
}

// tempDir makes a fresh directory on the store's file system, so that
// renames out of it are atomic.
func (s *Store) tempDir() (string, error) {
	dir := filepath.Join(s.root, ".tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, hex.EncodeToString(b[:]))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	return tmp, nil
}

// checkID keeps path segments from escaping the store.
func checkID(id haven.RepoID) error {
	if !haven.ValidName(id.Namespace) || !haven.ValidName(id.Name) {
		return haven.Errorf(haven.EInvalid, "Invalid repo id: %q", id.String())
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(filepath.Join(path, "HEAD"))
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
