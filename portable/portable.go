// Package portable moves repositories in and out of Haven in standard
// formats, so that nothing stored in Haven is locked in.
//
// Export writes a plain bare git repository with every ref and, beside it,
// the repository's LFS objects where git-lfs looks for them in a bare
// repository (lfs/objects/ab/cd/<oid>): `git clone` and `git lfs pull` work
// on it with no Haven at all. Files stored through Xet are written as their
// plain bytes. A manifest (ManifestName) describes the repository.
//
// Import creates a repository from such an export, from any local git
// repository with its LFS objects (a clone or a bare repository), or from a
// huggingface_hub cache folder, whose snapshots become commits.
package portable

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
)

// Stores are the Haven stores that export reads and import writes.
type Stores struct {
	Meta  *meta.Store
	Git   *gitstore.Store
	Blobs blob.Driver
}

// ManifestName is the file, at the top of an export, that describes it.
const ManifestName = "haven-export.json"

// FormatVersion is the version of the export layout the manifest records.
const FormatVersion = 1

// Manifest describes an export. It is written last, so an export without
// one is incomplete.
type Manifest struct {
	Format        int            `json:"format"`
	Type          haven.RepoType `json:"type"`
	ID            string         `json:"id"`
	Private       bool           `json:"private"`
	Gated         string         `json:"gated,omitempty"`
	DefaultBranch string         `json:"default_branch"`
	CardData      map[string]any `json:"card_data,omitempty"`
	// Refs maps every full ref name to the object it points at (a tag
	// object for annotated tags).
	Refs         map[string]string `json:"refs"`
	LFSObjects   []Object          `json:"lfs_objects"`
	HavenVersion string            `json:"haven_version"`
	ExportedAt   time.Time         `json:"exported_at"`
}

// Object is an LFS object of an export.
type Object struct {
	OID    string `json:"oid"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the bytes written, checked equal to OID
	// Xet is true for a file Haven stored through Xet and rebuilt for the
	// export.
	Xet bool `json:"xet,omitempty"`
}

// lfsObjectPath is where git-lfs keeps an object under its lfs folder.
func lfsObjectPath(lfsDir, oid string) string {
	return lfsDir + "/objects/" + oid[0:2] + "/" + oid[2:4] + "/" + oid
}

// git runs git on gitDir ("" for none) and returns its standard output.
func git(ctx context.Context, gitDir string, stdin io.Reader, env []string, args ...string) ([]byte, error) {
	full := args
	if gitDir != "" {
		full = append([]string{"--git-dir=" + gitDir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", full...)
	// Fixed locale for readable errors, no prompts; the caller's hooks
	// and filters have no business here.
	cmd.Env = append(append(os.Environ(), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// ref is a full ref name and the object it points at.
type ref struct {
	Name   string
	Target string
}

// listRefs lists the refs of gitDir under the given prefixes ("refs/" for
// all), unpeeled.
func listRefs(ctx context.Context, gitDir string, prefixes ...string) ([]ref, error) {
	out, err := git(ctx, gitDir, nil, nil, append([]string{"for-each-ref", "--format=%(objectname) %(refname)"}, prefixes...)...)
	if err != nil {
		return nil, err
	}
	var refs []ref
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if sha, name, ok := strings.Cut(line, " "); ok {
			refs = append(refs, ref{Name: name, Target: sha})
		}
	}
	return refs, nil
}
