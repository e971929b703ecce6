package buckets

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/havenhub/haven/xet"
)

// xorbBudget bounds the uncompressed bytes of one xorb this package builds,
// well inside the protocol's limit on a serialized xorb.
const xorbBudget = 32 << 20

// putContent stores the bytes of r in the CAS as a Xet client would upload
// them: content-defined chunks packed into xorbs, then a shard naming the
// file with verification hashes, checked and registered by the CAS itself.
// It returns the file's Xet hash and size.
func (s *Service) putContent(ctx context.Context, r io.Reader) (xet.Hash, int64, error) {
	c := xet.NewChunker(r)
	var (
		file   xet.FileInfo
		shard  xet.Shard
		leaves []xet.ChunkRef
		chunks [][]byte
		size   int64
		used   int
	)
	flush := func() error {
		if len(chunks) == 0 {
			return nil
		}
		data, h := xet.EncodeXorb(chunks)
		if _, err := s.cas.PutXorb(ctx, h, bytes.NewReader(data)); err != nil {
			return err
		}
		info := xet.XorbInfo{Hash: h, BytesOnDisk: uint32(len(data))}
		hashes := make([]xet.Hash, len(chunks))
		var off uint32
		for i, ch := range chunks {
			hashes[i] = xet.ChunkHash(ch)
			info.Chunks = append(info.Chunks, xet.XorbInfoChunk{Hash: hashes[i], Offset: off, Size: uint32(len(ch))})
			off += uint32(len(ch))
		}
		info.BytesInXorb = off
		shard.Xorbs = append(shard.Xorbs, info)
		file.Terms = append(file.Terms, xet.FileTerm{
			Xorb: h, Size: off, Start: 0, End: uint32(len(chunks)), Verification: xet.VerificationHash(hashes),
		})
		chunks, used = nil, 0
		return nil
	}
	for {
		ch, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return xet.Hash{}, 0, err
		}
		if used+len(ch) > xorbBudget || len(chunks) == xet.MaxXorbChunks {
			if err := flush(); err != nil {
				return xet.Hash{}, 0, err
			}
		}
		// The chunker may reuse its buffer.
		chunks = append(chunks, bytes.Clone(ch))
		used += len(ch)
		size += int64(len(ch))
		leaves = append(leaves, xet.ChunkRef{Hash: xet.ChunkHash(ch), Size: uint64(len(ch))})
	}
	if err := flush(); err != nil {
		return xet.Hash{}, 0, err
	}
	file.Hash = xet.FileHash(leaves)
	if size == 0 {
		return file.Hash, 0, nil
	}
	file.Verified = true
	shard.Files = []xet.FileInfo{file}
	if _, err := s.cas.PutShard(ctx, bytes.NewReader(shard.MarshalUpload())); err != nil {
		return xet.Hash{}, 0, err
	}
	return file.Hash, size, nil
}
