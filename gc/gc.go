// Package gc removes large objects that no git ref reaches any more: LFS
// objects and the Xet data (file records, xorbs, index entries) behind
// them, after deleted files, super-squashes and deleted repositories.
//
// It is a mark-and-sweep over the whole hub. The mark phase walks every
// blob reachable from any ref of every repository and collects the LFS
// pointers among them. The sweep deletes what is not marked, except objects
// younger than a grace period: an upload writes its objects before the
// commit that refers to them, so a young unreferenced object may be part of
// an upload in progress.
package gc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/xet"
	"github.com/havenhub/haven/xet/casstore"
)

// DefaultGrace is how old an unreferenced object must be to be removed.
const DefaultGrace = time.Hour

// Stats reports what a run found and removed.
type Stats struct {
	Repos        int
	LiveObjects  int
	LFSObjects   int // LFS objects removed
	Xet          casstore.SweepStats
	BytesRemoved int64
}

func (s Stats) String() string {
	return fmt.Sprintf("%d repositories, %d live objects; removed %d LFS objects, %d Xet files, %d xorbs, %d index entries (%d bytes)",
		s.Repos, s.LiveObjects, s.LFSObjects, s.Xet.Files, s.Xet.Xorbs, s.Xet.SHA256Entries+s.Xet.ChunkEntries, s.BytesRemoved)
}

// Collector runs collections over one hub's stores.
type Collector struct {
	Meta  *meta.Store
	Git   *gitstore.Store
	Blobs blob.Driver
	CAS   *casstore.Store
	// Grace protects objects written within this duration before the run.
	Grace time.Duration
}

// Run marks and sweeps once. Any error while marking aborts the run before
// anything is deleted: an object must never be removed because a
// repository could not be read.
func (c *Collector) Run(ctx context.Context) (Stats, error) {
	var st Stats
	cutoff := time.Now().Add(-c.Grace)
	live, repos, err := c.mark(ctx)
	if err != nil {
		return st, err
	}
	st.Repos, st.LiveObjects = repos, len(live)

	var dead []blob.Info
	err = c.Blobs.List(ctx, "lfs/", func(i blob.Info) error {
		oid := path.Base(i.Key)
		if blob.ValidOID(oid) && !live[oid] && i.ModTime.Before(cutoff) {
			dead = append(dead, i)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, i := range dead {
		if err := c.Blobs.Delete(ctx, i.Key); err != nil && !isNotFound(err) {
			return st, err
		}
		st.LFSObjects++
		st.BytesRemoved += i.Size
	}
	// Bucket files are stored by Xet hash alone: no LFS oid reaches them.
	hashes, err := c.Meta.BucketXetHashes(ctx)
	if err != nil {
		return st, err
	}
	liveFiles := map[xet.Hash]bool{}
	for _, v := range hashes {
		if h, err := xet.ParseHash(v); err == nil {
			liveFiles[h] = true
		}
	}
	xs, err := c.CAS.Sweep(ctx, live, liveFiles, cutoff)
	st.Xet = xs
	st.BytesRemoved += xs.Bytes
	return st, err
}

func isNotFound(err error) bool { return errors.Is(err, blob.ErrNotFound) }

// mark returns the LFS oids that any ref of any repository reaches.
func (c *Collector) mark(ctx context.Context) (map[string]bool, int, error) {
	live := map[string]bool{}
	repos, err := c.Meta.ListRepos(ctx, meta.RepoFilter{SeeAll: true, Sort: "id"})
	if err != nil {
		return nil, 0, err
	}
	for _, r := range repos {
		g, err := c.Git.Open(ctx, r.Type, r.RepoID())
		if err != nil {
			if haven.IsCode(err, haven.ERepoNotFound) {
				continue // deleted since the listing
			}
			return nil, 0, fmt.Errorf("gc: opening %s: %w", r.FullName(), err)
		}
		err = g.WalkBlobs(ctx, func(_, oid string) error {
			rc, size, err := g.Blob(oid)
			if err != nil {
				return err
			}
			defer rc.Close()
			if size > 1024 {
				return nil
			}
			data, err := io.ReadAll(rc)
			if err != nil {
				return err
			}
			if p, ok := lfs.Parse(data); ok {
				live[p.OID] = true
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("gc: walking %s: %w", r.FullName(), err)
		}
	}
	return live, len(repos), nil
}
