package casstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet"
)

// importXorbSize bounds the serialized xorbs Import builds; a chunk is at
// most its length plus its header, so a xorb never exceeds MaxXorbSize.
var importXorbSize = xet.MaxXorbSize

// Import stores the content of an LFS object as a Xet file, so that Xet
// clients can download it chunk by chunk: it cuts r with the content-defined
// chunker that clients use, packs the chunks into xorbs that are stored
// through PutXorb (and so verified like uploaded ones), and registers the
// file through the checks of a shard, with oid as its SHA-256. r must hash
// to oid; nothing is registered otherwise. Content already registered under
// oid is not read again, so Import may be repeated: xorbs stored by an
// interrupted run are found and kept. It returns the file.
func (s *Store) Import(ctx context.Context, oid string, r io.Reader) (*File, error) {
	if f, err := s.FileBySHA256(ctx, oid); err == nil {
		return f, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return nil, err
	}
	want, err := xet.ParseHash(oid)
	if err != nil || !blob.ValidOID(oid) {
		return nil, haven.Errorf(haven.EInvalid, "Invalid oid %q", oid)
	}
	sum := sha256.New()
	chunker := xet.NewChunker(io.TeeReader(r, sum))
	var (
		sh     xet.Shard
		fi     = xet.FileInfo{Verified: true, SHA256: want, HasSHA256: true}
		leaves []xet.ChunkRef
		data   []byte // the xorb being filled
		refs   []xet.ChunkRef
		hashes []xet.Hash
	)
	flush := func() error {
		if len(refs) == 0 {
			return nil
		}
		xh := xet.XorbHash(refs)
		if _, err := s.PutXorb(ctx, xh, bytes.NewReader(data)); err != nil {
			return err
		}
		xi := xet.XorbInfo{Hash: xh, BytesOnDisk: uint32(len(data))}
		for _, c := range refs {
			xi.Chunks = append(xi.Chunks, xet.XorbInfoChunk{Hash: c.Hash, Offset: xi.BytesInXorb, Size: uint32(c.Size)})
			xi.BytesInXorb += uint32(c.Size)
		}
		sh.Xorbs = append(sh.Xorbs, xi)
		fi.Terms = append(fi.Terms, xet.FileTerm{
			Xorb: xh, Size: xi.BytesInXorb, End: uint32(len(refs)), Verification: xet.VerificationHash(hashes),
		})
		data, refs, hashes = data[:0], refs[:0], hashes[:0]
		return nil
	}
	for {
		c, err := chunker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(refs) == xet.MaxXorbChunks || len(data)+8+len(c) > importXorbSize {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		h := xet.ChunkHash(c)
		data = xet.AppendChunk(data, c)
		refs = append(refs, xet.ChunkRef{Hash: h, Size: uint64(len(c))})
		hashes = append(hashes, h)
		leaves = append(leaves, refs[len(refs)-1])
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(leaves) == 0 {
		return nil, haven.Errorf(haven.EInvalid, "LFS object %s is empty", oid)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != oid {
		return nil, haven.Errorf(haven.EInvalid, "LFS object %s hashes to %s", oid, got)
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
