package casstore

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet"
)

// PlanTerm is one term of a reconstruction answer: chunks [Start, End) of a
// xorb, which are bytes [ByteStart, ByteEnd) of its stored chunk section and
// Size bytes once decoded.
type PlanTerm struct {
	Xorb               xet.Hash
	Start, End         uint32
	Size               uint32
	ByteStart, ByteEnd uint32
}

// Plan is how to rebuild bytes [From, To) of a file: decode the terms in
// order, drop Skip bytes from the front and keep To-From bytes.
type Plan struct {
	From, To int64
	Skip     int64
	Terms    []PlanTerm
}

// Reconstruct plans the download of bytes [from, to) of a file (to is
// clamped to the file size). The caller checks that from < size.
func (s *Store) Reconstruct(ctx context.Context, f *File, from, to int64) (*Plan, error) {
	to = min(to, f.Size)
	p := &Plan{From: from, To: to}
	var off int64
	for _, t := range f.Terms {
		tEnd := off + int64(t.Size)
		if tEnd <= from || off >= to {
			off = tEnd
			continue
		}
		x, err := s.Xorb(ctx, t.Xorb)
		if err != nil {
			return nil, err
		}
		pt := PlanTerm{Xorb: t.Xorb}
		cOff := off
		first, last := -1, -1
		for i := int(t.Start); i < int(t.End); i++ {
			c := x.Chunks[i]
			cEnd := cOff + int64(c.Size)
			if cEnd > from && cOff < to {
				if first < 0 {
					first = i
					if len(p.Terms) == 0 {
						p.Skip = from - cOff
					}
				}
				last = i
				pt.Size += c.Size
			}
			cOff = cEnd
		}
		pt.Start, pt.End = uint32(first), uint32(last+1)
		pt.ByteStart, pt.ByteEnd = x.Chunks[first].Start, x.Chunks[last].End
		p.Terms = append(p.Terms, pt)
		off = tEnd
	}
	return p, nil
}

// DedupShard answers a global dedup query: a shard listing the xorb that
// holds the chunk, with chunk hashes keyed by a fresh secret so that the
// answer reveals only chunks the client already has. ok is false when the
// chunk is not indexed.
func (s *Store) DedupShard(ctx context.Context, chunk xet.Hash) (data []byte, ok bool, err error) {
	xh, err := s.ChunkXorb(ctx, chunk)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	x, err := s.Xorb(ctx, xh)
	if err != nil {
		// The index may outlive a collected xorb; that is a miss.
		return nil, false, nil
	}
	xi := xet.XorbInfo{Hash: xh, BytesOnDisk: uint32(x.DataLen)}
	var off uint32
	for _, c := range x.Chunks {
		xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: c.Hash, Offset: off, Size: c.Size})
		off += c.Size
	}
	xi.BytesInXorb = off
	sh := &xet.Shard{Xorbs: []xet.XorbInfo{xi}, Expiry: time.Now().Add(7 * 24 * time.Hour)}
	rand.Read(sh.HMACKey[:])
	return sh.Marshal(), true, nil
}
