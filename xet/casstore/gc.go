package casstore

import (
	"context"
	"errors"
	"path"
	"time"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet"
)

// SweepStats counts what a sweep removed.
type SweepStats struct {
	SHA256Entries, Files, Xorbs, ChunkEntries int
	Bytes                                     int64
}

// Sweep deletes the Xet data that no live LFS oid reaches: index entries of
// dead oids, file records no live entry names, xorbs no live file uses and
// dedup entries of removed xorbs. Anything written after cutoff is kept
// whatever refers to it, so uploads in progress (xorbs, then a shard, then
// the commit) survive a concurrent sweep; so is everything a kept object
// refers to.
func (s *Store) Sweep(ctx context.Context, liveOIDs map[string]bool, cutoff time.Time) (SweepStats, error) {
	var st SweepStats
	young := func(i blob.Info) bool { return !i.ModTime.Before(cutoff) }

	liveFiles := map[xet.Hash]bool{}
	var deadSHA []blob.Info
	err := s.blobs.List(ctx, PrefixSHA256, func(i blob.Info) error {
		oid := path.Base(i.Key)
		if liveOIDs[oid] || young(i) {
			f, err := s.FileBySHA256(ctx, oid)
			if err == nil {
				liveFiles[f.Hash] = true
			} else if !errors.Is(err, blob.ErrNotFound) {
				return err
			}
			return nil
		}
		deadSHA = append(deadSHA, i)
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, i := range deadSHA {
		if err := s.delete(ctx, i, &st); err != nil {
			return st, err
		}
		st.SHA256Entries++
		s.mu.Lock()
		delete(s.shas, path.Base(i.Key))
		s.mu.Unlock()
	}

	liveXorbs := map[xet.Hash]bool{}
	var deadFiles []blob.Info
	err = s.blobs.List(ctx, PrefixFiles, func(i blob.Info) error {
		h, err := xet.ParseHash(path.Base(i.Key))
		if err != nil {
			return nil
		}
		if !liveFiles[h] && !young(i) {
			deadFiles = append(deadFiles, i)
			return nil
		}
		f, err := s.File(ctx, h)
		if err != nil {
			return err
		}
		for _, t := range f.Terms {
			liveXorbs[t.Xorb] = true
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, i := range deadFiles {
		if err := s.delete(ctx, i, &st); err != nil {
			return st, err
		}
		st.Files++
		if h, err := xet.ParseHash(path.Base(i.Key)); err == nil {
			s.mu.Lock()
			delete(s.files, h)
			s.mu.Unlock()
		}
	}

	deadXorbs := map[xet.Hash]bool{}
	var deadMeta []blob.Info
	err = s.blobs.List(ctx, PrefixXorbMeta, func(i blob.Info) error {
		h, err := xet.ParseHash(path.Base(i.Key))
		if err != nil || liveXorbs[h] || young(i) {
			return nil
		}
		deadXorbs[h] = true
		deadMeta = append(deadMeta, i)
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, i := range deadMeta {
		h, _ := xet.ParseHash(path.Base(i.Key))
		// Metadata first: without it the xorb counts as absent, so a
		// half-finished removal never leaves metadata for missing data.
		if err := s.delete(ctx, i, &st); err != nil {
			return st, err
		}
		if info, err := s.blobs.Stat(ctx, xorbKey(h)); err == nil {
			if err := s.delete(ctx, info, &st); err != nil {
				return st, err
			}
		}
		st.Xorbs++
		s.mu.Lock()
		delete(s.metas, h)
		s.mu.Unlock()
	}

	// Chunk sections whose metadata never got written (an upload that
	// failed between the two writes).
	var orphans []blob.Info
	err = s.blobs.List(ctx, PrefixXorbs, func(i blob.Info) error {
		h, err := xet.ParseHash(path.Base(i.Key))
		if err != nil || young(i) {
			return nil
		}
		if ok, err := s.exists(ctx, xorbMetaKey(h)); err != nil || ok {
			return err
		}
		orphans = append(orphans, i)
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, i := range orphans {
		if err := s.delete(ctx, i, &st); err != nil {
			return st, err
		}
	}

	var deadChunks []blob.Info
	err = s.blobs.List(ctx, PrefixChunks, func(i blob.Info) error {
		if young(i) {
			return nil
		}
		data, err := s.get(ctx, i.Key, 128)
		if err != nil {
			return nil
		}
		if xh, err := xet.ParseHash(string(data)); err != nil || deadXorbs[xh] {
			deadChunks = append(deadChunks, i)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, i := range deadChunks {
		if err := s.delete(ctx, i, &st); err != nil {
			return st, err
		}
		st.ChunkEntries++
	}
	return st, nil
}

func (s *Store) delete(ctx context.Context, i blob.Info, st *SweepStats) error {
	err := s.blobs.Delete(ctx, i.Key)
	if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	st.Bytes += i.Size
	return nil
}
