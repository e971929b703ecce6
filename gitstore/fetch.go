package gitstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lfs"
)

// Remote is a repository of another git server, as fetch reaches it.
type Remote struct {
	URL string // "https://hub.example/ns/name.git"
	// Header is sent with every request ("Authorization: Basic …"). It goes
	// to git through its environment, never its arguments, so that other
	// users of the machine cannot read it in the process list.
	Header string
	// Progress receives git's progress lines; nil keeps git quiet.
	Progress io.Writer
}

// mirroredRefs are the refs a mirror copies: those the Hub serves.
var mirroredRefs = []string{"heads", "tags", "pr", "convert"}

// FetchInto copies every branch, tag, pull request and conversion ref of
// remote, with the objects they need, to refs under prefix
// ("refs/haven-mirror/"): refs/heads/main arrives as prefix+"heads/main".
// Refs under prefix that the remote no longer has are removed. The refs
// under prefix are hidden from this repository's own clients.
func (r *Repo) FetchInto(ctx context.Context, remote Remote, prefix string) error {
	if !strings.HasPrefix(prefix, "refs/") || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("gitstore: fetch prefix %q must be a folder under refs/", prefix)
	}
	// Staging refs stay out of what clones and fetches of this repository see.
	if _, err := runGit(ctx, r.path, nil, "config", "uploadpack.hideRefs", strings.TrimSuffix(prefix, "/")); err != nil {
		return err
	}
	args := []string{"fetch", "--prune", "--no-tags", "--no-write-fetch-head", "--no-auto-gc"}
	if remote.Progress != nil {
		args = append(args, "--progress")
	} else {
		args = append(args, "--quiet")
	}
	args = append(args, remote.URL)
	for _, kind := range mirroredRefs {
		args = append(args, "+refs/"+kind+"/*:"+prefix+kind+"/*")
	}
	cmd := gitCommand(ctx, r.path, args...)
	// Stalled transfers fail instead of hanging a sync for ever.
	config := [][2]string{{"http.lowSpeedLimit", "1000"}, {"http.lowSpeedTime", "120"}}
	if remote.Header != "" {
		config = append(config, [2]string{"http.extraHeader", remote.Header})
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_COUNT="+strconv.Itoa(len(config)))
	for i, kv := range config {
		cmd.Env = append(cmd.Env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if remote.Progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, remote.Progress)
	}
	if err := cmd.Run(); err != nil {
		return &gitError{args: []string{"fetch", remote.URL}, err: err, stderr: lastLines(stderr.String(), 5)}
	}
	r.forgetRefs()
	return nil
}

// lastLines keeps the end of git's output, where its error is.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RefTargets maps the full name of every ref under prefix to the object it
// points at (an annotated tag's own object, not its commit).
func (r *Repo) RefTargets(ctx context.Context, prefix string) (map[string]string, error) {
	out, err := runGit(ctx, r.path, nil, "for-each-ref", "--format=%(objectname) %(refname)", prefix)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if sha, name, ok := strings.Cut(line, " "); ok {
			refs[name] = sha
		}
	}
	return refs, nil
}

// UpdateRefs applies updates as one transaction: all refs move or none
// does. Each update names the value its ref must have now (OldSHA, ""
// for a ref that must not exist) and the one it gets (NewSHA, "" to delete
// it). A ref that moved meanwhile fails the whole transaction with
// haven.EConflict.
func (r *Repo) UpdateRefs(ctx context.Context, updates []haven.RefUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	var in strings.Builder
	for _, u := range updates {
		if !strings.HasPrefix(u.Ref, "refs/") || !checkRefFormat(u.Ref) {
			return invalidRef(u.Ref)
		}
		switch {
		case u.NewSHA == "":
			fmt.Fprintf(&in, "delete %s %s\n", u.Ref, u.OldSHA)
		case u.OldSHA == "":
			fmt.Fprintf(&in, "create %s %s\n", u.Ref, u.NewSHA)
		default:
			fmt.Fprintf(&in, "update %s %s %s\n", u.Ref, u.NewSHA, u.OldSHA)
		}
	}
	_, err := runGit(ctx, r.path, strings.NewReader(in.String()), "update-ref", "--stdin")
	r.forgetRefs()
	if err != nil {
		return haven.Errorf(haven.EConflict, "References moved while they were being updated: %v", err)
	}
	return nil
}

// forgetRefs drops what this process remembers of refs and packs after
// another git process changed them.
func (r *Repo) forgetRefs() {
	r.history.forget()
	r.objs.forgetCached()
}

// NewPointers lists the LFS pointers of the files that the commits
// reachable from tips, and not from the commits in not, hold: the large
// files a fetch of tips brings besides what not already has.
func (r *Repo) NewPointers(ctx context.Context, tips, not []string) ([]lfs.Pointer, error) {
	if len(tips) == 0 {
		return nil, nil
	}
	var revs strings.Builder
	for _, t := range tips {
		revs.WriteString(t + "\n")
	}
	for _, n := range not {
		revs.WriteString("^" + n + "\n")
	}
	objects, err := runGit(ctx, r.path, strings.NewReader(revs.String()), "rev-list", "--objects", "--stdin")
	if err != nil {
		return nil, err
	}
	var ids strings.Builder
	for _, line := range strings.Split(string(objects), "\n") {
		if id, _, _ := strings.Cut(line, " "); id != "" {
			ids.WriteString(id + "\n")
		}
	}
	if ids.Len() == 0 {
		return nil, nil
	}
	// Sizes first: only small blobs can be pointers.
	checked, err := runGit(ctx, r.path, strings.NewReader(ids.String()), "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)")
	if err != nil {
		return nil, err
	}
	var small strings.Builder
	for _, line := range strings.Split(string(checked), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "blob" {
			continue
		}
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil && n <= lfs.MaxPointerSize {
			small.WriteString(f[0] + "\n")
		}
	}
	if small.Len() == 0 {
		return nil, nil
	}
	return readPointers(ctx, r.path, small.String())
}

// readPointers reads the blobs listed in ids and keeps those that are LFS
// pointers, each oid once.
func readPointers(ctx context.Context, gitDir, ids string) ([]lfs.Pointer, error) {
	cmd := gitCommand(ctx, gitDir, "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(ids)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []lfs.Pointer
	br := bufio.NewReader(stdout)
	readErr := func() error {
		for {
			header, err := br.ReadString('\n')
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			f := strings.Fields(header)
			if len(f) != 3 {
				return fmt.Errorf("gitstore: unexpected cat-file header %q", header)
			}
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return err
			}
			body := make([]byte, n+1) // the content and its newline
			if _, err := io.ReadFull(br, body); err != nil {
				return err
			}
			if p, ok := lfs.Parse(body[:n]); ok && !seen[p.OID] {
				seen[p.OID] = true
				out = append(out, p)
			}
		}
	}()
	waitErr := cmd.Wait()
	if readErr != nil {
		return nil, readErr
	}
	if waitErr != nil {
		return nil, &gitError{args: []string{"cat-file", "--batch"}, err: waitErr, stderr: stderr.String()}
	}
	return out, nil
}
