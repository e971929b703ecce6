package casstore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet"
)

// importXorbSize bounds the serialized xorbs Import builds; a chunk is at
// most its length plus its header, so a xorb never exceeds MaxXorbSize.
var importXorbSize = xet.MaxXorbSize

// Import stores the content of an LFS object as a Xet file, so that Xet
// clients can download it chunk by chunk, and returns the file. It reads r
// twice. The first pass cuts it with the content-defined chunker that
// clients use, hashes each chunk and the whole content, and plans the
// xorbs; r must hash to oid, and nothing is stored otherwise. The second
// pass, from the start of r again, serializes the chunks of each xorb as
// PutXorb reads them, so that a xorb streams to the blob store (and is
// verified like an uploaded one) with one chunk in memory rather than being
// built whole first. The file is then registered through the checks of a
// shard, with oid as its SHA-256. Content already registered under oid is
// not read again, and xorbs stored by an interrupted run are kept, so
// Import may be repeated.
func (s *Store) Import(ctx context.Context, oid string, r io.ReadSeeker) (*File, error) {
	if f, err := s.FileBySHA256(ctx, oid); err == nil {
		return f, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return nil, err
	}
	want, err := xet.ParseHash(oid)
	if err != nil || !blob.ValidOID(oid) {
		return nil, haven.Errorf(haven.EInvalid, "Invalid oid %q", oid)
	}
	leaves, ends, err := planImport(r, oid)
	if err != nil {
		return nil, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var (
		sh xet.Shard
		fi = xet.FileInfo{Verified: true, SHA256: want, HasSHA256: true}
		xr = &xorbReader{r: r, src: bufio.NewReaderSize(r, 256<<10)}
	)
	for i, start := range append([]int{0}, ends[:len(ends)-1]...) {
		refs := leaves[start:ends[i]]
		xh := xet.XorbHash(refs)
		xi := xet.XorbInfo{Hash: xh}
		hashes := make([]xet.Hash, len(refs))
		for j, c := range refs {
			xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: c.Hash, Offset: xi.BytesInXorb, Size: uint32(c.Size)})
			xi.BytesInXorb += uint32(c.Size)
			hashes[j] = c.Hash
		}
		// A xorb stored by an earlier run is skipped unread rather than
		// serialized again for PutXorb to discard. The blob store is asked,
		// not the cache, which may predate a sweep.
		stored, err := s.exists(ctx, xorbMetaKey(xh))
		if err != nil {
			return nil, err
		}
		if stored {
			if err := xr.skip(int64(xi.BytesInXorb)); err != nil {
				return nil, fmt.Errorf("casstore: importing %s: %w", oid, err)
			}
		} else {
			xr.refs = refs
			if _, err := s.PutXorb(ctx, xh, xr); err != nil {
				return nil, err
			}
			if len(xr.refs) > 0 || len(xr.pending) > 0 {
				return nil, fmt.Errorf("casstore: importing %s: xorb %s was stored before it was read to the end", oid, xh)
			}
		}
		sh.Xorbs = append(sh.Xorbs, xi)
		fi.Terms = append(fi.Terms, xet.FileTerm{
			Xorb: xh, Size: xi.BytesInXorb, End: uint32(len(refs)), Verification: xet.VerificationHash(hashes),
		})
	}
	fi.Hash = xet.FileHash(leaves)
	sh.Files = []xet.FileInfo{fi}
	// The SHA-256 was computed here over the very bytes that were chunked,
	// and the file hash ties those chunks to the stored xorbs.
	if _, err := s.registerShard(ctx, &sh, nil, oid); err != nil {
		return nil, err
	}
	return s.File(ctx, fi.Hash)
}

// planImport is Import's first pass: it returns the chunks of r and, for
// each xorb, the index in the chunks where it ends. It fails with EInvalid
// when r is empty or does not hash to oid.
func planImport(r io.Reader, oid string) (leaves []xet.ChunkRef, ends []int, err error) {
	sum := sha256.New()
	chunker := xet.NewChunker(io.TeeReader(r, sum))
	chunker.Reuse()
	size, start := 0, 0 // the bound on the serialized size of the xorb being planned, and its first chunk
	for {
		c, err := chunker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if len(leaves)-start == xet.MaxXorbChunks || size+8+len(c) > importXorbSize {
			ends = append(ends, len(leaves))
			size, start = 0, len(leaves)
		}
		size += 8 + len(c)
		leaves = append(leaves, xet.ChunkRef{Hash: xet.ChunkHash(c), Size: uint64(len(c))})
	}
	if len(leaves) == 0 {
		return nil, nil, haven.Errorf(haven.EInvalid, "LFS object %s is empty", oid)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != oid {
		return nil, nil, haven.Errorf(haven.EInvalid, "LFS object %s hashes to %s", oid, got)
	}
	return leaves, append(ends, len(leaves)), nil
}

// xorbReader serializes the chunks of one planned xorb, read from src, as
// they are asked for: it holds one chunk, never the xorb. Its buffers serve
// every xorb of an import.
type xorbReader struct {
	r       io.ReadSeeker
	src     *bufio.Reader
	refs    []xet.ChunkRef // the chunks not read from src yet
	chunk   []byte         // the current chunk, serialized
	pending []byte         // the part of chunk not returned yet
	raw     []byte
}

func (x *xorbReader) Read(p []byte) (int, error) {
	for len(x.pending) == 0 {
		if len(x.refs) == 0 {
			return 0, io.EOF
		}
		n := int(x.refs[0].Size)
		if cap(x.raw) < n {
			x.raw = make([]byte, n)
		}
		raw := x.raw[:n]
		if _, err := io.ReadFull(x.src, raw); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		x.refs = x.refs[1:]
		x.chunk = xet.AppendChunk(x.chunk[:0], raw)
		x.pending = x.chunk
	}
	n := copy(p, x.pending)
	x.pending = x.pending[n:]
	return n, nil
}

// skip passes over n bytes of content, seeking past what is not buffered.
func (x *xorbReader) skip(n int64) error {
	if b := int64(x.src.Buffered()); n > b {
		if _, err := x.r.Seek(n-b, io.SeekCurrent); err != nil {
			return err
		}
		x.src.Reset(x.r)
		return nil
	}
	_, err := x.src.Discard(int(n))
	return err
}
