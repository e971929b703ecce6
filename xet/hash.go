// Package xet implements the formats of the Xet storage protocol used by the
// Hugging Face clients: content-defined chunking, the keyed BLAKE3 hashes of
// chunks, xorbs, files and verification ranges, the xorb (chunk container)
// format and the shard (file reconstruction and xorb listing) format.
//
// It holds no state and does no I/O beyond the readers and writers it is
// given; the store that keeps xorbs and shards lives in xet/casstore.
package xet

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"

	"github.com/zeebo/blake3"
)

// Hash is a 32-byte Xet hash (chunk, xorb, file or verification hash) in
// its binary form, as it appears inside xorbs and shards.
type Hash [32]byte

// The BLAKE3 keys the protocol fixes for each kind of hash.
var (
	dataKey = [32]byte{
		102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
		157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41,
	}
	internalNodeKey = [32]byte{
		1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
		93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63,
	}
	verificationKey = [32]byte{
		127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
		164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195,
	}
)

// String renders h the way the protocol writes hashes in URLs and JSON:
// each 8-byte group as a little-endian 64-bit number in 16 hex digits.
// (This is not the plain hex of the bytes.)
func (h Hash) String() string {
	var b [64]byte
	for i := 0; i < 4; i++ {
		v := binary.LittleEndian.Uint64(h[i*8:])
		hex.Encode(b[i*16:i*16+16], binary.BigEndian.AppendUint64(nil, v))
	}
	return string(b[:])
}

// ParseHash parses the 64 hex digits written by Hash.String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("xet: hash %q is not 64 hex digits", s)
	}
	for i := 0; i < 4; i++ {
		v, err := strconv.ParseUint(s[i*16:i*16+16], 16, 64)
		if err != nil {
			return h, fmt.Errorf("xet: hash %q is not 64 hex digits", s)
		}
		binary.LittleEndian.PutUint64(h[i*8:], v)
	}
	return h, nil
}

// IsZero reports whether h is all zero bytes.
func (h Hash) IsZero() bool { return h == Hash{} }

// word returns the i-th 8-byte group of h as a little-endian number, the
// protocol's view of a hash as four 64-bit words.
func (h Hash) word(i int) uint64 { return binary.LittleEndian.Uint64(h[i*8:]) }

// Truncated is the first 64-bit word of h, the key of the shard lookup tables.
func (h Hash) Truncated() uint64 { return h.word(0) }

// GlobalDedupEligible reports whether clients may ask the server about this
// chunk hash: its last word is a multiple of 1024.
func (h Hash) GlobalDedupEligible() bool { return h.word(3)%1024 == 0 }

// hashers keeps hashers under the protocol's fixed keys for reuse: a new
// hasher allocates several kilobytes, and a xorb upload hashes thousands of
// chunks.
var hashers = map[*[32]byte]*sync.Pool{
	&dataKey:         hasherPool(&dataKey),
	&internalNodeKey: hasherPool(&internalNodeKey),
	&verificationKey: hasherPool(&verificationKey),
}

func hasherPool(key *[32]byte) *sync.Pool {
	return &sync.Pool{New: func() any { return newKeyed(key) }}
}

func newKeyed(key *[32]byte) *blake3.Hasher {
	hs, err := blake3.NewKeyed(key[:])
	if err != nil {
		panic(err) // the key is always 32 bytes
	}
	return hs
}

func keyed(key *[32]byte, data []byte) Hash {
	pool := hashers[key]
	var hs *blake3.Hasher
	if pool != nil {
		hs = pool.Get().(*blake3.Hasher)
	} else {
		hs = newKeyed(key)
	}
	hs.Write(data)
	var h Hash
	hs.Sum(h[:0])
	if pool != nil {
		hs.Reset()
		pool.Put(hs)
	}
	return h
}

// ChunkHash is the hash of a chunk's (uncompressed) bytes.
func ChunkHash(data []byte) Hash { return keyed(&dataKey, data) }

// Keyed returns the BLAKE3 keyed hash of h under key: the file hash salt
// step and the HMAC of chunk hashes in dedup shards.
func (h Hash) Keyed(key Hash) Hash {
	k := [32]byte(key)
	return keyed(&k, h[:])
}

// ChunkRef is a chunk's hash and uncompressed length, the leaves of the
// merkle trees behind xorb and file hashes.
type ChunkRef struct {
	Hash Hash
	Size uint64
}

// meanBranching is the mean fan-out of the aggregated merkle tree: a node is
// closed after a child whose last word is a multiple of it.
const meanBranching = 4

// nextCut returns how many of the leading nodes form the next parent: at
// least 2, at most 2*meanBranching+1, ending early after a node whose hash
// is a multiple of meanBranching (from the third node on).
func nextCut(nodes []ChunkRef) int {
	if len(nodes) <= 2 {
		return len(nodes)
	}
	end := min(2*meanBranching+1, len(nodes))
	for i := 2; i < end; i++ {
		if nodes[i].Hash.word(3)%meanBranching == 0 {
			return i + 1
		}
	}
	return end
}

// mergeNodes hashes a group of nodes into their parent: the text lines
// "<hash> : <size>\n" under the internal-node key; the parent's size is the
// sum of the children's.
func mergeNodes(nodes []ChunkRef) ChunkRef {
	buf := make([]byte, 0, len(nodes)*90)
	var total uint64
	for _, n := range nodes {
		buf = append(buf, n.Hash.String()...)
		buf = append(buf, " : "...)
		buf = strconv.AppendUint(buf, n.Size, 10)
		buf = append(buf, '\n')
		total += n.Size
	}
	return ChunkRef{Hash: keyed(&internalNodeKey, buf), Size: total}
}

// MerkleRoot collapses the leaves level by level into the root of the
// aggregated tree. No leaves give the zero hash; one leaf is its own root.
func MerkleRoot(leaves []ChunkRef) Hash {
	if len(leaves) == 0 {
		return Hash{}
	}
	level := append([]ChunkRef(nil), leaves...)
	for len(level) > 1 {
		next := level[:0:0]
		for i := 0; i < len(level); {
			n := nextCut(level[i:])
			next = append(next, mergeNodes(level[i:i+n]))
			i += n
		}
		level = next
	}
	return level[0].Hash
}

// XorbHash is the hash of a xorb made of the given chunks.
func XorbHash(chunks []ChunkRef) Hash { return MerkleRoot(chunks) }

// FileHash is the hash of a file made of the given chunks: the merkle root
// keyed again with a zero salt. An empty file has the zero hash.
func FileHash(chunks []ChunkRef) Hash {
	if len(chunks) == 0 {
		return Hash{}
	}
	return MerkleRoot(chunks).Keyed(Hash{})
}

// VerificationHash is the hash a shard carries for each term of a file, over
// the raw chunk hashes of the term's chunk range. Only a client that knows
// those chunk hashes (that is, had the data) can produce it.
func VerificationHash(chunkHashes []Hash) Hash {
	buf := make([]byte, 0, 32*len(chunkHashes))
	for _, h := range chunkHashes {
		buf = append(buf, h[:]...)
	}
	return keyed(&verificationKey, buf)
}
