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

// Sweep deletes the Xet data that no live LFS oid reaches and that is not
// one of the live files (those stored by Xet hash alone, such as bucket
// files): index entries of dead oids, file records no live entry names,
// xorbs no live file uses and dedup entries of removed xorbs. Anything written after cutoff is kept
// whatever refers to it, so uploads in progress (xorbs, then a shard, then
// the commit) survive a concurrent sweep; so is everything a kept object
// refers to.
//
// Age alone does not protect an old xorb or file that a new shard re-uses:
// the shard may be checked before the sweep and its file record written
// after. So PutShard first records a reference time for every xorb and file
// it names (xet/refs/) and only then checks that they exist, and the sweep
// keeps whatever was referenced after cutoff. It removes an object by
// deleting it and then reading its reference time again: a shard that
// referenced the object in between was either checked before the deletion,
// and then the object is put back, or after it, and then it was refused or
// rewrote the record itself.
func (s *Store) Sweep(ctx context.Context, liveOIDs map[string]bool, live map[xet.Hash]bool, cutoff time.Time) (SweepStats, error) {
	var st SweepStats
	young := func(i blob.Info) bool { return !i.ModTime.Before(cutoff) }

	refs := map[xet.Hash]blob.Info{}
	err := s.blobs.List(ctx, PrefixRefs, func(i blob.Info) error {
		if h, err := xet.ParseHash(path.Base(i.Key)); err == nil {
			refs[h] = i
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	referenced := func(h xet.Hash) bool {
		i, ok := refs[h]
		return ok && young(i)
	}
	// remove deletes an object unless h was referenced since the listing
	// of references, in which case it writes it back.
	remove := func(i blob.Info, h xet.Hash) (bool, error) {
		data, err := s.get(ctx, i.Key, 64<<20)
		if errors.Is(err, blob.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if err := s.blobs.Delete(ctx, i.Key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return false, err
		}
		now, err := s.blobs.Stat(ctx, refKey(h))
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			return false, err
		}
		before, had := refs[h]
		if err == nil && (young(now) || !had || !now.ModTime.Equal(before.ModTime)) {
			return false, s.put(ctx, i.Key, data)
		}
		st.Bytes += i.Size
		return true, nil
	}

	liveFiles := map[xet.Hash]bool{}
	for h := range live {
		liveFiles[h] = true
	}
	type shaEntry struct {
		info blob.Info
		file xet.Hash
	}
	var deadSHA []shaEntry
	err = s.blobs.List(ctx, PrefixSHA256, func(i blob.Info) error {
		data, err := s.get(ctx, i.Key, 128)
		if errors.Is(err, blob.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		fh, err := xet.ParseHash(string(data))
		if err != nil {
			deadSHA = append(deadSHA, shaEntry{info: i})
			return nil
		}
		if liveOIDs[path.Base(i.Key)] || young(i) || referenced(fh) {
			liveFiles[fh] = true
			return nil
		}
		deadSHA = append(deadSHA, shaEntry{i, fh})
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, e := range deadSHA {
		ok, err := remove(e.info, e.file)
		if err != nil {
			return st, err
		}
		if !ok {
			liveFiles[e.file] = true
			continue
		}
		st.SHA256Entries++
		s.mu.Lock()
		delete(s.shas, path.Base(e.info.Key))
		s.mu.Unlock()
	}

	// listDead lists the objects under a hash-keyed prefix, and those of
	// them that dead says may go.
	listDead := func(prefix string, dead func(xet.Hash, blob.Info) bool) (map[xet.Hash]bool, []blob.Info, error) {
		all := map[xet.Hash]bool{}
		var out []blob.Info
		err := s.blobs.List(ctx, prefix, func(i blob.Info) error {
			if h, err := xet.ParseHash(path.Base(i.Key)); err == nil {
				all[h] = true
				if dead(h, i) {
					out = append(out, i)
				}
			}
			return nil
		})
		return all, out, err
	}
	// removeAll removes those objects (see remove), takes them out of all
	// and returns the hashes of the removed ones.
	removeAll := func(dead []blob.Info, all map[xet.Hash]bool) ([]xet.Hash, error) {
		var gone []xet.Hash
		for _, i := range dead {
			h, _ := xet.ParseHash(path.Base(i.Key))
			ok, err := remove(i, h)
			if err != nil {
				return gone, err
			}
			if ok {
				delete(all, h)
				gone = append(gone, h)
			}
		}
		return gone, nil
	}

	files, deadFiles, err := listDead(PrefixFiles, func(h xet.Hash, i blob.Info) bool {
		return !liveFiles[h] && !young(i) && !referenced(h)
	})
	if err != nil {
		return st, err
	}
	goneFiles, err := removeAll(deadFiles, files)
	st.Files += len(goneFiles)
	s.mu.Lock()
	for _, h := range goneFiles {
		delete(s.files, h)
	}
	s.mu.Unlock()
	if err != nil {
		return st, err
	}
	// The xorbs of every file still stored are live, including files that
	// a shard registered during this sweep.
	liveXorbs := map[xet.Hash]bool{}
	for h := range files {
		f, err := s.File(ctx, h)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil {
			return st, err
		}
		for _, t := range f.Terms {
			liveXorbs[t.Xorb] = true
		}
	}

	xorbs, deadMeta, err := listDead(PrefixXorbMeta, func(h xet.Hash, i blob.Info) bool {
		return !liveXorbs[h] && !young(i) && !referenced(h)
	})
	if err != nil {
		return st, err
	}
	// Metadata first: without it the xorb counts as absent, so a
	// half-finished removal never leaves metadata for missing data.
	goneXorbs, err := removeAll(deadMeta, xorbs)
	deadXorbs := map[xet.Hash]bool{}
	for _, h := range goneXorbs {
		deadXorbs[h] = true
		st.Xorbs++
		s.mu.Lock()
		if x, ok := s.metas[h]; ok {
			s.metaChunks -= len(x.Chunks)
			delete(s.metas, h)
		}
		s.mu.Unlock()
	}
	if err != nil {
		return st, err
	}
	for _, h := range goneXorbs {
		if info, err := s.blobs.Stat(ctx, xorbKey(h)); err == nil {
			if err := s.delete(ctx, info, &st); err != nil {
				return st, err
			}
		}
	}

	// Chunk sections whose metadata never got written (an upload that
	// failed between the two writes).
	var orphans []blob.Info
	err = s.blobs.List(ctx, PrefixXorbs, func(i blob.Info) error {
		h, err := xet.ParseHash(path.Base(i.Key))
		if err != nil || young(i) || deadXorbs[h] {
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

	// Old references to objects that are gone: the removed ones, and those
	// of shards that were refused. A shard that references such an object
	// again finds it missing, or writes its record anew.
	for h, i := range refs {
		if young(i) || files[h] || xorbs[h] {
			continue
		}
		if now, err := s.blobs.Stat(ctx, i.Key); err != nil || !now.ModTime.Equal(i.ModTime) {
			continue
		}
		if err := s.blobs.Delete(ctx, i.Key); err != nil && !errors.Is(err, blob.ErrNotFound) {
			return st, err
		}
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
