package portable

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/havenhub/haven/lfs"
)

// pointer is an LFS pointer found in a history, with one path it has.
type pointer struct {
	lfs.Pointer
	Path string
}

// scanPointers lists the LFS objects that the history of revs refers to,
// sorted by oid: every blob revs reach that is small enough to be a
// pointer is read and parsed.
func scanPointers(ctx context.Context, gitDir string, revs []string) ([]pointer, error) {
	if len(revs) == 0 {
		return nil, nil
	}
	out, err := git(ctx, gitDir, strings.NewReader(strings.Join(revs, "\n")+"\n"), nil, "rev-list", "--objects", "--stdin")
	if err != nil {
		return nil, err
	}
	paths := map[string]string{} // object → a path, for trees and blobs
	var list bytes.Buffer
	for _, line := range strings.Split(string(out), "\n") {
		sha, path, ok := strings.Cut(line, " ")
		if !ok { // commits carry no path
			continue
		}
		if _, seen := paths[sha]; !seen {
			paths[sha] = path
			list.WriteString(sha + "\n")
		}
	}
	if list.Len() == 0 {
		return nil, nil
	}
	out, err = git(ctx, gitDir, &list, nil, "cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)")
	if err != nil {
		return nil, err
	}
	var small bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
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
	out, err = git(ctx, gitDir, &small, nil, "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	found := map[string]pointer{}
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		header, err := r.ReadString('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		f := strings.Fields(header)
		if len(f) != 3 {
			return nil, fmt.Errorf("git cat-file --batch: unexpected header %q", header)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("git cat-file --batch: unexpected header %q", header)
		}
		body := make([]byte, n+1) // and the newline after it
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, fmt.Errorf("git cat-file --batch: %w", err)
		}
		if p, ok := lfs.Parse(body[:n]); ok {
			if _, dup := found[p.OID]; !dup {
				found[p.OID] = pointer{Pointer: p, Path: paths[f[0]]}
			}
		}
	}
	ptrs := make([]pointer, 0, len(found))
	for _, p := range found {
		ptrs = append(ptrs, p)
	}
	sort.Slice(ptrs, func(i, j int) bool { return ptrs[i].OID < ptrs[j].OID })
	return ptrs, nil
}
