package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
)

// pushState is what a push mirror remembers between syncs: per branch,
// the local commit it last published and the remote commit that made.
type pushState struct {
	Branches map[string]pushedRef `json:"branches"`
	Tags     map[string]string    `json:"tags"` // tag → the local commit it was published at
}

type pushedRef struct {
	Local  string `json:"local"`
	Remote string `json:"remote"`
}

// push publishes the repository's branches and tags to the remote through
// the Hub's HTTP API: for each branch whose head moved since the last
// push, one remote commit that makes the remote branch's files equal to
// the local ones (large files uploaded through LFS first, only those the
// remote lacks), with the local commit's message. The remote commit's
// parent is the remote head read just before, so a concurrent change on
// the remote fails the push (and the next one starts from it) instead of
// being lost.
func (s *Service) push(ctx context.Context, m *haven.Mirror, repo *haven.Repo, h *hub, p Progress) (string, error) {
	var prev pushState
	if m.State != "" {
		json.Unmarshal([]byte(m.State), &prev)
	}
	next := pushState{Branches: map[string]pushedRef{}, Tags: map[string]string{}}
	for k, v := range prev.Branches {
		next.Branches[k] = v
	}
	for k, v := range prev.Tags {
		next.Tags[k] = v
	}
	save := func() string { b, _ := json.Marshal(next); return string(b) }

	g, err := s.cfg.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return "", err
	}
	refs, err := g.Refs()
	if err != nil {
		return "", err
	}
	if len(prev.Branches) == 0 {
		p.Step("creating %s if needed", m.RemoteURL())
		if err := h.createRepo(ctx, m.RemoteType, m.RemoteID, repo.Private, repo.SDK); err != nil {
			return "", err
		}
	}
	branches := refs.Branches
	// The default branch first: other branches start from it remotely.
	sort.SliceStable(branches, func(i, j int) bool {
		return branches[i].Name == repo.DefaultBranch() && branches[j].Name != repo.DefaultBranch()
	})
	for _, b := range branches {
		if prev.Branches[b.Name].Local == b.Target {
			continue
		}
		remote, err := s.pushBranch(ctx, m, repo, g, h, b, prev.Branches[b.Name], p)
		if err != nil {
			// What earlier branches published stays recorded.
			return save(), fmt.Errorf("publishing branch %s: %w", b.Name, err)
		}
		next.Branches[b.Name] = pushedRef{Local: b.Target, Remote: remote}
	}
	published := map[string]string{} // local commit → remote commit
	for _, v := range next.Branches {
		published[v.Local] = v.Remote
	}
	for _, t := range refs.Tags {
		if next.Tags[t.Name] == t.Target {
			continue
		}
		remote, ok := published[t.Target]
		if !ok {
			// Tags of commits that no branch head published have no
			// remote commit to point at.
			continue
		}
		if err := h.tag(ctx, m.RemoteType, m.RemoteID, t.Name, remote); err != nil {
			return save(), fmt.Errorf("publishing tag %s: %w", t.Name, err)
		}
		next.Tags[t.Name] = t.Target
	}
	return save(), nil
}

// pushBranch publishes one branch and returns the remote commit.
func (s *Service) pushBranch(ctx context.Context, m *haven.Mirror, repo *haven.Repo, g *gitstore.Repo, h *hub, b gitstore.Ref, prev pushedRef, p Progress) (string, error) {
	head, err := h.revision(ctx, m.RemoteType, m.RemoteID, b.Name)
	if err != nil {
		return "", err
	}
	if head == "" && b.Name != repo.DefaultBranch() {
		if err := h.createBranch(ctx, m.RemoteType, m.RemoteID, b.Name); err != nil {
			return "", err
		}
		if head, err = h.revision(ctx, m.RemoteType, m.RemoteID, b.Name); err != nil {
			return "", err
		}
	}
	remote := map[string]remoteEntry{}
	if head != "" {
		files, err := h.tree(ctx, m.RemoteType, m.RemoteID, head)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			remote[f.Path] = f
		}
	}
	local, err := g.List(b.Target, "", true)
	if err != nil {
		return "", err
	}
	type change struct {
		e   gitstore.Entry
		ptr *lfs.Pointer // set for files stored in LFS here or bound for LFS there
	}
	var changes []change
	var regular []preuploadFile
	for _, e := range local {
		if e.Type != "file" {
			continue
		}
		r, there := remote[e.Path]
		delete(remote, e.Path)
		if ptr, ok := g.Pointer(e); ok {
			if there && r.LFS != nil && r.LFS.OID == ptr.OID {
				continue
			}
			changes = append(changes, change{e: e, ptr: &ptr})
			continue
		}
		if there && r.LFS == nil && r.OID == e.OID {
			continue
		}
		changes = append(changes, change{e: e})
		sample, err := g.ReadFile(b.Target, e.Path)
		if err != nil {
			return "", err
		}
		regular = append(regular, preuploadFile{Path: e.Path, Size: e.Size, Sample: base64.StdEncoding.EncodeToString(sample[:min(len(sample), 512)])})
	}
	if len(changes) == 0 && len(remote) == 0 && head != "" {
		return head, nil
	}
	modes := map[string]string{}
	if len(regular) > 0 {
		rev := b.Name
		if head == "" {
			rev = repo.DefaultBranch()
		}
		if modes, err = h.preupload(ctx, m.RemoteType, m.RemoteID, rev, regular); err != nil {
			return "", err
		}
	}
	// Regular files the remote wants in LFS get their SHA-256 here.
	contents := map[string][]byte{}
	for i, c := range changes {
		if c.ptr != nil {
			continue
		}
		data, err := g.ReadFile(b.Target, c.e.Path)
		if err != nil {
			return "", err
		}
		contents[c.e.Path] = data
		if modes[c.e.Path] == "lfs" {
			sum := sha256.Sum256(data)
			changes[i].ptr = &lfs.Pointer{OID: hex.EncodeToString(sum[:]), Size: int64(len(data))}
		}
	}
	var uploads []lfs.ObjectSpec
	seen := map[string]bool{}
	for _, c := range changes {
		if c.ptr != nil && !seen[c.ptr.OID] {
			seen[c.ptr.OID] = true
			uploads = append(uploads, lfs.ObjectSpec{OID: c.ptr.OID, Size: c.ptr.Size})
		}
	}
	if len(uploads) > 0 {
		p.Step("uploading up to %d large files to %s", len(uploads), h.name())
		inline := map[string][]byte{}
		for _, c := range changes {
			if c.ptr != nil && contents[c.e.Path] != nil {
				inline[c.ptr.OID] = contents[c.e.Path]
			}
		}
		if err := s.upload(ctx, m, h, uploads, inline); err != nil {
			return "", err
		}
	}
	c, err := g.CommitInfo(b.Target)
	if err != nil {
		return "", err
	}
	summary, description := c.Title, c.Message
	if prev.Local != "" && len(c.Parents) > 0 && c.Parents[0] != prev.Local {
		description = fmt.Sprintf("%s\n\nPublished from %s at %s.", description, repo.FullName(), b.Target)
	}
	header := map[string]any{"summary": summary, "description": description}
	if head != "" {
		header["parentCommit"] = head
	}
	lines := []commitLine{{Key: "header", Value: header}}
	for _, c := range changes {
		if c.ptr != nil {
			lines = append(lines, commitLine{Key: "lfsFile", Value: map[string]any{"path": c.e.Path, "algo": "sha256", "oid": c.ptr.OID, "size": c.ptr.Size}})
			continue
		}
		lines = append(lines, commitLine{Key: "file", Value: map[string]any{"path": c.e.Path, "encoding": "base64",
			"content": base64.StdEncoding.EncodeToString(contents[c.e.Path])}})
	}
	gone := make([]string, 0, len(remote))
	for path := range remote {
		gone = append(gone, path)
	}
	sort.Strings(gone)
	for _, path := range gone {
		lines = append(lines, commitLine{Key: "deletedFile", Value: map[string]any{"path": path}})
	}
	p.Step("committing %d changed and %d deleted files to %s@%s", len(changes), len(gone), m.RemoteID, b.Name)
	return h.commit(ctx, m.RemoteType, m.RemoteID, b.Name, lines)
}

// upload sends the objects the remote lacks through its LFS API. inline
// holds the bytes of objects that are regular files here.
func (s *Service) upload(ctx context.Context, m *haven.Mirror, h *hub, objs []lfs.ObjectSpec, inline map[string][]byte) error {
	for start := 0; start < len(objs); start += 100 {
		resp, err := h.lfsBatch(ctx, m.RemoteType, m.RemoteID, "upload", objs[start:min(start+100, len(objs))])
		if err != nil {
			return err
		}
		for _, o := range resp.Objects {
			if o.Error != nil {
				return fmt.Errorf("%s refuses the large file %s: %s", h.name(), o.OID, o.Error.Message)
			}
			up := o.Actions["upload"]
			if up == nil {
				continue // the remote has it
			}
			if err := s.sendObject(ctx, h, o, up, inline[o.OID]); err != nil {
				return err
			}
			if v := o.Actions["verify"]; v != nil {
				b, _ := json.Marshal(lfs.ObjectSpec{OID: o.OID, Size: o.Size})
				hdr := http.Header{"Content-Type": {"application/vnd.git-lfs+json"}}
				for k, val := range v.Header {
					hdr.Set(k, val)
				}
				vr, err := h.do(ctx, http.MethodPost, v.Href, bytes.NewReader(b), hdr)
				if err != nil {
					return fmt.Errorf("verifying %s: %w", o.OID, err)
				}
				vr.Body.Close()
			}
		}
	}
	return nil
}

// sendObject uploads one object's bytes: data, or the stored object.
func (s *Service) sendObject(ctx context.Context, h *hub, o lfs.ObjectResult, up *lfs.Action, data []byte) error {
	var body io.Reader = bytes.NewReader(data)
	if data == nil {
		f, _, err := s.cfg.Open(ctx, o.OID)
		if err != nil {
			return fmt.Errorf("large file %s: %w", o.OID, err)
		}
		defer f.Close()
		body = f
	}
	resp, err := h.action(ctx, http.MethodPut, up, body, o.Size)
	if err != nil {
		return fmt.Errorf("uploading %s: %w", o.OID, err)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
