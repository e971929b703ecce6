// Package casstore keeps Xet data in a blob.Driver: verified xorbs, the file
// reconstructions registered by shards, and the indexes that map an LFS
// SHA-256 to a Xet file and a chunk to the xorb holding it (global dedup).
// It also reconstructs file content for clients that do not speak Xet.
//
// Keys (all under "xet/", two levels of fan-out like LFS objects):
//
//	xet/xorbs/ab/<hash>    the chunk section of a xorb, as uploaded
//	xet/xorbmeta/ab/<hash> per chunk: hash, serialized end offset, length
//	xet/files/ab/<hash>    a file reconstruction (terms) with size and SHA-256
//	xet/sha256/ab/<oid>    the file hash of the Xet file with that SHA-256
//	xet/chunks/ab/<hash>   the xorb holding that chunk (dedup-eligible chunks
//	                       and the first chunk of every file only)
//	xet/refs/ab/<hash>     empty; its time is when a shard last referenced
//	                       that xorb or file (see Sweep)
//
// Every object is written only after the data it describes has been
// verified and stored, so a reader never finds an index entry whose target
// is missing unless garbage collection removed it.
package casstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/xet"
)

// Store is the Xet content store. It is safe for concurrent use.
type Store struct {
	blobs blob.Driver

	mu         sync.Mutex
	metas      map[xet.Hash]*xet.Xorb // immutable once stored
	metaChunks int                    // chunks listed in metas
	files      map[xet.Hash]*File     // immutable once stored
	shas       map[string]xet.Hash    // SHA-256 → file hash, positive answers only
}

// cacheMax bounds each in-memory cache; a full cache is simply dropped.
const cacheMax = 4096

// cacheMaxChunks bounds the chunks listed by the cached xorbs (48 bytes
// each): a xorb lists up to 8192 chunks, so a count of xorbs alone would
// let the cache grow to hundreds of megabytes.
const cacheMaxChunks = 256 << 10

// New returns a store over blobs.
func New(blobs blob.Driver) *Store {
	return &Store{blobs: blobs, metas: map[xet.Hash]*xet.Xorb{}, files: map[xet.Hash]*File{}, shas: map[string]xet.Hash{}}
}

func fanout(prefix, name string) string { return prefix + name[:2] + "/" + name }

// Key prefixes, exported for garbage collection and tests.
const (
	PrefixXorbs    = "xet/xorbs/"
	PrefixXorbMeta = "xet/xorbmeta/"
	PrefixFiles    = "xet/files/"
	PrefixSHA256   = "xet/sha256/"
	PrefixChunks   = "xet/chunks/"
	PrefixRefs     = "xet/refs/"
)

func xorbKey(h xet.Hash) string     { return fanout(PrefixXorbs, h.String()) }
func xorbMetaKey(h xet.Hash) string { return fanout(PrefixXorbMeta, h.String()) }
func fileKey(h xet.Hash) string     { return fanout(PrefixFiles, h.String()) }
func sha256Key(oid string) string   { return fanout(PrefixSHA256, oid) }
func chunkKey(h xet.Hash) string    { return fanout(PrefixChunks, h.String()) }
func refKey(h xet.Hash) string      { return fanout(PrefixRefs, h.String()) }

// invalid wraps a format problem as the client error it is.
func invalid(err error) error {
	var fe *xet.FormatError
	if errors.As(err, &fe) {
		return haven.Errorf(haven.EInvalid, "%s", fe.Msg)
	}
	return err
}

func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.blobs.Stat(ctx, key)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	return false, err
}

func (s *Store) get(ctx context.Context, key string, max int64) ([]byte, error) {
	rc, _, err := s.blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max))
}

func (s *Store) put(ctx context.Context, key string, data []byte) error {
	return s.blobs.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

// PutXorb verifies and stores a xorb uploaded under hash. It reports false
// when the xorb was already stored. The xorb streams to the blob store while
// its chunks are hashed, one chunk in memory at a time; the store makes it
// visible only when the whole xorb has checked out, so nothing is stored
// for a corrupt or truncated upload.
func (s *Store) PutXorb(ctx context.Context, hash xet.Hash, body io.Reader) (bool, error) {
	if ok, err := s.exists(ctx, xorbMetaKey(hash)); err != nil {
		return false, err
	} else if ok {
		// Read the rest, so that a client still sending gets the answer
		// rather than a reset connection.
		_, err := io.Copy(io.Discard, io.LimitReader(body, xet.MaxXorbSize+(1<<20)+1))
		return false, err
	}
	v := xet.NewXorbVerifier(body, hash)
	err := s.blobs.Put(ctx, xorbKey(hash), v, -1)
	if v.Err() != nil {
		// The driver may have wrapped the verifier's error; the client
		// wants to know what was wrong with its xorb.
		return false, invalid(v.Err())
	}
	if err != nil {
		return false, err
	}
	x := v.Xorb()
	if x == nil {
		return false, fmt.Errorf("casstore: xorb %s was stored before it was read to the end", hash)
	}
	// The data first, then its metadata: the metadata is what marks a
	// xorb as present.
	if err := s.put(ctx, xorbMetaKey(hash), encodeXorbMeta(x)); err != nil {
		return false, err
	}
	for _, c := range x.Chunks {
		if c.Hash.GlobalDedupEligible() {
			if err := s.indexChunk(ctx, c.Hash, hash); err != nil {
				return false, err
			}
		}
	}
	s.cacheMeta(x)
	return true, nil
}

func (s *Store) indexChunk(ctx context.Context, chunk, xorb xet.Hash) error {
	if ok, err := s.exists(ctx, chunkKey(chunk)); err != nil || ok {
		return err
	}
	return s.put(ctx, chunkKey(chunk), []byte(xorb.String()))
}

func (s *Store) cacheMeta(x *xet.Xorb) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.metas) >= cacheMax || s.metaChunks+len(x.Chunks) > cacheMaxChunks {
		clear(s.metas)
		s.metaChunks = 0
	}
	if _, ok := s.metas[x.Hash]; !ok {
		s.metaChunks += len(x.Chunks)
	}
	s.metas[x.Hash] = x
}

// Xorb returns the chunk list of a stored xorb, or an error wrapping
// blob.ErrNotFound.
func (s *Store) Xorb(ctx context.Context, hash xet.Hash) (*xet.Xorb, error) {
	s.mu.Lock()
	x, ok := s.metas[hash]
	s.mu.Unlock()
	if ok {
		return x, nil
	}
	data, err := s.get(ctx, xorbMetaKey(hash), 1<<20)
	if err != nil {
		return nil, err
	}
	x, err = decodeXorbMeta(hash, data)
	if err != nil {
		return nil, err
	}
	s.cacheMeta(x)
	return x, nil
}

// OpenXorb opens the stored chunk section of a xorb for ranged reads.
func (s *Store) OpenXorb(ctx context.Context, hash xet.Hash) (io.ReadSeekCloser, blob.Info, error) {
	return s.blobs.Open(ctx, xorbKey(hash))
}

// xorb metadata: "HXM1", chunk count, then per chunk its hash, serialized
// end offset and uncompressed length.
func encodeXorbMeta(x *xet.Xorb) []byte {
	b := make([]byte, 0, 8+40*len(x.Chunks))
	b = append(b, "HXM1"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(x.Chunks)))
	for _, c := range x.Chunks {
		b = append(b, c.Hash[:]...)
		b = binary.LittleEndian.AppendUint32(b, c.End)
		b = binary.LittleEndian.AppendUint32(b, c.Size)
	}
	return b
}

func decodeXorbMeta(hash xet.Hash, b []byte) (*xet.Xorb, error) {
	if len(b) < 8 || string(b[:4]) != "HXM1" {
		return nil, fmt.Errorf("casstore: corrupt metadata of xorb %s", hash)
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if len(b) != 8+40*n {
		return nil, fmt.Errorf("casstore: corrupt metadata of xorb %s", hash)
	}
	x := &xet.Xorb{Hash: hash, Chunks: make([]xet.XorbChunk, n)}
	var start uint32
	for i := range x.Chunks {
		e := b[8+40*i:]
		c := &x.Chunks[i]
		copy(c.Hash[:], e[:32])
		c.Start, c.End, c.Size = start, binary.LittleEndian.Uint32(e[32:]), binary.LittleEndian.Uint32(e[36:])
		start = c.End
	}
	if n > 0 {
		x.DataLen = int(start)
	}
	return x, nil
}

// File is a stored file reconstruction.
type File struct {
	Hash   xet.Hash
	Size   int64
	SHA256 string // lower-case hex, empty when unknown
	Terms  []xet.FileTerm
}

func encodeFile(f *File) []byte {
	b := make([]byte, 0, 80+44*len(f.Terms))
	b = append(b, "HXF1"...)
	b = binary.LittleEndian.AppendUint64(b, uint64(f.Size))
	var sum [32]byte
	if f.SHA256 != "" {
		if raw, err := hexDecode(f.SHA256); err == nil {
			sum = raw
		}
	}
	b = append(b, sum[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Terms)))
	for _, t := range f.Terms {
		b = append(b, t.Xorb[:]...)
		b = binary.LittleEndian.AppendUint32(b, t.Start)
		b = binary.LittleEndian.AppendUint32(b, t.End)
		b = binary.LittleEndian.AppendUint32(b, t.Size)
	}
	return b
}

func decodeFile(hash xet.Hash, b []byte) (*File, error) {
	bad := fmt.Errorf("casstore: corrupt record of file %s", hash)
	if len(b) < 48 || string(b[:4]) != "HXF1" {
		return nil, bad
	}
	f := &File{Hash: hash, Size: int64(binary.LittleEndian.Uint64(b[4:]))}
	var zero [32]byte
	if !bytes.Equal(b[12:44], zero[:]) {
		f.SHA256 = fmt.Sprintf("%x", b[12:44])
	}
	n := int(binary.LittleEndian.Uint32(b[44:]))
	if len(b) != 48+44*n {
		return nil, bad
	}
	f.Terms = make([]xet.FileTerm, n)
	for i := range f.Terms {
		e := b[48+44*i:]
		t := &f.Terms[i]
		copy(t.Xorb[:], e[:32])
		t.Start, t.End, t.Size = binary.LittleEndian.Uint32(e[32:]), binary.LittleEndian.Uint32(e[36:]), binary.LittleEndian.Uint32(e[40:])
	}
	return f, nil
}

func hexDecode(s string) ([32]byte, error) {
	var out [32]byte
	if !blob.ValidOID(s) {
		return out, errors.New("not a SHA-256")
	}
	_, err := hex.Decode(out[:], []byte(s))
	return out, err
}

// File returns a stored file reconstruction, or an error wrapping
// blob.ErrNotFound.
func (s *Store) File(ctx context.Context, hash xet.Hash) (*File, error) {
	s.mu.Lock()
	f, ok := s.files[hash]
	s.mu.Unlock()
	if ok {
		return f, nil
	}
	data, err := s.get(ctx, fileKey(hash), 64<<20)
	if err != nil {
		return nil, err
	}
	f, err = decodeFile(hash, data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.files) >= cacheMax {
		clear(s.files)
	}
	s.files[hash] = f
	s.mu.Unlock()
	return f, nil
}

// FileBySHA256 returns the Xet file whose content has the given SHA-256
// (an LFS oid), or an error wrapping blob.ErrNotFound.
func (s *Store) FileBySHA256(ctx context.Context, oid string) (*File, error) {
	if !blob.ValidOID(oid) {
		return nil, fmt.Errorf("casstore: %w: invalid oid", blob.ErrNotFound)
	}
	s.mu.Lock()
	h, ok := s.shas[oid]
	s.mu.Unlock()
	if !ok {
		data, err := s.get(ctx, sha256Key(oid), 128)
		if err != nil {
			return nil, err
		}
		if h, err = xet.ParseHash(string(data)); err != nil {
			return nil, fmt.Errorf("casstore: corrupt index entry for %s", oid)
		}
		s.mu.Lock()
		if len(s.shas) >= cacheMax*16 {
			clear(s.shas)
		}
		s.shas[oid] = h
		s.mu.Unlock()
	}
	return s.File(ctx, h)
}

// ChunkXorb returns the xorb that holds a dedup-indexed chunk, or an error
// wrapping blob.ErrNotFound.
func (s *Store) ChunkXorb(ctx context.Context, chunk xet.Hash) (xet.Hash, error) {
	data, err := s.get(ctx, chunkKey(chunk), 128)
	if err != nil {
		return xet.Hash{}, err
	}
	return xet.ParseHash(string(data))
}

// PutShard verifies a shard and registers its files. Every xorb it names
// must be stored already; every term must lie inside its xorb and carry the
// right verification hash; every file hash must match its chunks; and a
// declared SHA-256 must match the reconstructed content. It returns how many
// files were new. Nothing is registered unless the whole shard checks out.
func (s *Store) PutShard(ctx context.Context, body io.Reader) (int, error) {
	sh, err := ReadShard(body)
	if err != nil {
		return 0, err
	}
	return s.RegisterShard(ctx, sh, nil)
}

// ReadShard reads and parses an uploaded shard; a malformed one is an
// EInvalid error.
func ReadShard(body io.Reader) (*xet.Shard, error) {
	data, err := io.ReadAll(io.LimitReader(body, xet.MaxShardSize+1))
	if err != nil {
		return nil, err
	}
	sh, err := xet.ParseShard(data)
	if err != nil {
		return nil, invalid(err)
	}
	return sh, nil
}

// ShardProgress hears how far the checks of a shard have come: done of
// total files checked. It is called once with done = 0 and once per file.
type ShardProgress func(done, total int)

// RegisterShard is PutShard for a parsed shard, telling progress (when not
// nil) of each file it has checked.
func (s *Store) RegisterShard(ctx context.Context, sh *xet.Shard, progress ShardProgress) (int, error) {
	return s.registerShard(ctx, sh, progress, "")
}

// registerShard checks and registers sh. trustedSHA256, when not empty, is
// a SHA-256 the store computed itself over the content of sh's one file,
// which then is not read back to hash it again.
func (s *Store) registerShard(ctx context.Context, sh *xet.Shard, progress ShardProgress, trustedSHA256 string) (int, error) {
	if progress == nil {
		progress = func(int, int) {}
	}
	progress(0, len(sh.Files))
	xorb := func(h xet.Hash) (*xet.Xorb, error) {
		x, err := s.Xorb(ctx, h)
		if errors.Is(err, blob.ErrNotFound) {
			return nil, haven.Errorf(haven.EInvalid, "shard references xorb %s, which was not uploaded", h)
		}
		return x, err
	}
	for _, xi := range sh.Xorbs {
		x, err := xorb(xi.Hash)
		if err != nil {
			return 0, err
		}
		if len(xi.Chunks) != len(x.Chunks) {
			return 0, haven.Errorf(haven.EInvalid, "shard lists %d chunks for xorb %s, which has %d", len(xi.Chunks), xi.Hash, len(x.Chunks))
		}
		for i, c := range xi.Chunks {
			if c.Hash != x.Chunks[i].Hash || c.Size != x.Chunks[i].Size {
				return 0, haven.Errorf(haven.EInvalid, "shard entry for chunk %d of xorb %s does not match the xorb", i, xi.Hash)
			}
		}
	}
	var records []*File
	for i, fi := range sh.Files {
		f, err := s.checkFile(ctx, &fi, xorb, trustedSHA256)
		if err != nil {
			return 0, err
		}
		records = append(records, f)
		progress(i+1, len(sh.Files))
	}
	// Record that this shard references its xorbs and files, then ask the
	// blob store (not the cache, which may predate a sweep) whether the
	// xorbs are still there. A concurrent sweep either sees the reference
	// and keeps them, or removed them before this check, which then fails.
	if err := s.touch(ctx, sh); err != nil {
		return 0, err
	}
	present := map[xet.Hash]bool{}
	for _, fi := range sh.Files {
		for _, t := range fi.Terms {
			if present[t.Xorb] {
				continue
			}
			if ok, err := s.exists(ctx, xorbMetaKey(t.Xorb)); err != nil {
				return 0, err
			} else if !ok {
				return 0, haven.Errorf(haven.EInvalid, "shard references xorb %s, which was not uploaded", t.Xorb)
			}
			present[t.Xorb] = true
		}
	}
	added := 0
	for _, f := range records {
		isNew, err := s.register(ctx, f)
		if err != nil {
			return 0, err
		}
		if isNew {
			added++
		}
	}
	return added, nil
}

func (s *Store) checkFile(ctx context.Context, fi *xet.FileInfo, xorb func(xet.Hash) (*xet.Xorb, error), trustedSHA256 string) (*File, error) {
	if !fi.Verified && len(fi.Terms) > 0 {
		return nil, haven.Errorf(haven.EInvalid, "file %s has no verification entries", fi.Hash)
	}
	var leaves []xet.ChunkRef
	for i, t := range fi.Terms {
		x, err := xorb(t.Xorb)
		if err != nil {
			return nil, err
		}
		if int(t.End) > len(x.Chunks) {
			return nil, haven.Errorf(haven.EInvalid, "file %s term %d asks for chunks [%d, %d) of xorb %s, which has %d", fi.Hash, i, t.Start, t.End, t.Xorb, len(x.Chunks))
		}
		var size uint64
		hashes := make([]xet.Hash, 0, t.End-t.Start)
		for _, c := range x.Chunks[t.Start:t.End] {
			leaves = append(leaves, xet.ChunkRef{Hash: c.Hash, Size: uint64(c.Size)})
			hashes = append(hashes, c.Hash)
			size += uint64(c.Size)
		}
		if size != uint64(t.Size) {
			return nil, haven.Errorf(haven.EInvalid, "file %s term %d declares %d bytes, its chunks hold %d", fi.Hash, i, t.Size, size)
		}
		if xet.VerificationHash(hashes) != t.Verification {
			return nil, haven.Errorf(haven.EInvalid, "file %s term %d has a wrong verification hash", fi.Hash, i)
		}
	}
	if got := xet.FileHash(leaves); got != fi.Hash {
		return nil, haven.Errorf(haven.EInvalid, "file hash mismatch: the terms hash to %s, not %s", got, fi.Hash)
	}
	f := &File{Hash: fi.Hash, Size: fi.Size(), Terms: fi.Terms}
	if !fi.HasSHA256 {
		return f, nil
	}
	oid := fi.SHA256.String()
	if oid == trustedSHA256 {
		f.SHA256 = oid
		return f, nil
	}
	if known, err := s.FileBySHA256(ctx, oid); err == nil && known.Hash == fi.Hash {
		f.SHA256 = oid
		return f, nil
	}
	// A SHA-256 becomes an LFS object that any repository can commit, so it
	// is only believed after hashing the content it names.
	f.SHA256 = oid
	r := s.open(ctx, f)
	r.window = verifyWindow
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != oid {
		return nil, haven.Errorf(haven.EInvalid, "file %s declares SHA-256 %s but its content hashes to %s", fi.Hash, oid, got)
	}
	return f, nil
}

// touch records the time at which a shard references each xorb and file
// it names; Sweep keeps what was referenced within its grace period.
func (s *Store) touch(ctx context.Context, sh *xet.Shard) error {
	done := map[xet.Hash]bool{}
	mark := func(h xet.Hash) error {
		if done[h] {
			return nil
		}
		done[h] = true
		return s.put(ctx, refKey(h), nil)
	}
	for _, xi := range sh.Xorbs {
		if err := mark(xi.Hash); err != nil {
			return err
		}
	}
	for _, fi := range sh.Files {
		if err := mark(fi.Hash); err != nil {
			return err
		}
		for _, t := range fi.Terms {
			if err := mark(t.Xorb); err != nil {
				return err
			}
		}
	}
	return nil
}

// register stores a verified file record and its SHA-256 entry. Both are
// written even when they exist: the existing ones may be an old, unreferenced
// pair that a concurrent sweep is removing, and a write after the reference
// was recorded is one the sweep cannot miss.
func (s *Store) register(ctx context.Context, f *File) (bool, error) {
	ok, err := s.exists(ctx, fileKey(f.Hash))
	if err != nil {
		return false, err
	}
	if err := s.put(ctx, fileKey(f.Hash), encodeFile(f)); err != nil {
		return false, err
	}
	if f.SHA256 != "" {
		if err := s.put(ctx, sha256Key(f.SHA256), []byte(f.Hash.String())); err != nil {
			return false, err
		}
		s.mu.Lock()
		s.shas[f.SHA256] = f.Hash
		s.mu.Unlock()
	}
	if len(f.Terms) > 0 {
		// Clients always ask about the first chunk of a file.
		x, err := s.Xorb(ctx, f.Terms[0].Xorb)
		if err != nil {
			return false, err
		}
		if err := s.indexChunk(ctx, x.Chunks[f.Terms[0].Start].Hash, x.Hash); err != nil {
			return false, err
		}
	}
	return !ok, nil
}
