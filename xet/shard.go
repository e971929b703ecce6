package xet

import (
	"bytes"
	"encoding/binary"
	"sort"
	"time"
)

// shardTag opens every shard.
var shardTag = [32]byte{
	'H', 'F', 'R', 'e', 'p', 'o', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a', 0, 85, 105, 103, 69, 106, 123,
	129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169,
}

const (
	shardHeaderVersion = 2
	shardFooterVersion = 1
	shardHeaderSize    = 48
	shardEntrySize     = 48
	shardFooterSize    = 200
	// MaxShardSize bounds an uploaded shard, as on the Hub.
	MaxShardSize = 64 << 20

	flagVerification = 1 << 31
	flagMetadataExt  = 1 << 30
)

// FileTerm is one term of a file reconstruction: chunks [Start, End) of a
// xorb, Size bytes once decompressed.
type FileTerm struct {
	Xorb       Hash
	Size       uint32
	Start, End uint32
	// Verification is the term's verification hash (zero when the shard
	// has none).
	Verification Hash
}

// FileInfo is a file reconstruction as a shard carries it.
type FileInfo struct {
	Hash  Hash
	Terms []FileTerm
	// Verified reports whether the shard carried verification entries.
	Verified bool
	// SHA256 is the file's SHA-256 (in the protocol's hash byte order) when
	// the shard carried the metadata extension; HasSHA256 says so.
	SHA256    Hash
	HasSHA256 bool
}

// Size is the length of the file: the sum of its terms.
func (f *FileInfo) Size() int64 {
	var n int64
	for _, t := range f.Terms {
		n += int64(t.Size)
	}
	return n
}

// XorbInfoChunk is a chunk listed in a shard's xorb section: its hash, its
// offset in the xorb's uncompressed content and its length.
type XorbInfoChunk struct {
	Hash   Hash
	Offset uint32
	Size   uint32
}

// XorbInfo is a xorb listed in a shard.
type XorbInfo struct {
	Hash        Hash
	Chunks      []XorbInfoChunk
	BytesInXorb uint32 // uncompressed bytes of all chunks
	BytesOnDisk uint32 // serialized length
}

// Shard is the content of a shard: file reconstructions and xorb listings.
type Shard struct {
	Files []FileInfo
	Xorbs []XorbInfo
	// HMACKey, when not zero, keys the chunk hashes of the xorb section
	// (dedup answers), so that only a client that has a chunk can find it.
	HMACKey Hash
	// Expiry is when clients should stop deduplicating against the shard.
	Expiry time.Time
}

type shardReader struct {
	b   []byte
	pos int
}

func (r *shardReader) entry() ([]byte, error) {
	if len(r.b)-r.pos < shardEntrySize {
		return nil, formatErr("shard is truncated at offset %d", r.pos)
	}
	e := r.b[r.pos : r.pos+shardEntrySize]
	r.pos += shardEntrySize
	return e, nil
}

// section returns the next entry of a section, or nil at the bookend that
// closes it.
func (r *shardReader) section() ([]byte, error) {
	e, err := r.entry()
	if err != nil || isBookend(e) {
		return nil, err
	}
	return e, nil
}

func isBookend(e []byte) bool {
	for _, c := range e[:32] {
		if c != 0xFF {
			return false
		}
	}
	return true
}

func u32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// ParseShard reads a shard as uploaded by a client: header, file section,
// xorb section and, if the header announces one, a footer (whose lookup
// tables are ignored). Every count is checked against the bytes present
// before anything is allocated for it.
func ParseShard(data []byte) (*Shard, error) {
	if len(data) > MaxShardSize {
		return nil, formatErr("shard is larger than %d bytes", MaxShardSize)
	}
	if len(data) < shardHeaderSize || !bytes.Equal(data[:32], shardTag[:]) {
		return nil, formatErr("not a shard: wrong magic number")
	}
	if v := binary.LittleEndian.Uint64(data[32:]); v != shardHeaderVersion {
		return nil, formatErr("unsupported shard header version %d", v)
	}
	footerSize := binary.LittleEndian.Uint64(data[40:])
	if footerSize != 0 && footerSize != shardFooterSize {
		return nil, formatErr("invalid shard footer size %d", footerSize)
	}
	r := &shardReader{b: data, pos: shardHeaderSize}
	sh := &Shard{}
	for {
		e, err := r.section()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		var f FileInfo
		copy(f.Hash[:], e[:32])
		flags, n := u32(e[32:]), int(u32(e[36:]))
		f.Verified = flags&flagVerification != 0
		f.HasSHA256 = flags&flagMetadataExt != 0
		need := n
		if f.Verified {
			need *= 2
		}
		if (len(data)-r.pos)/shardEntrySize < need {
			return nil, formatErr("file %s announces %d terms but the shard is too short", f.Hash, n)
		}
		f.Terms = make([]FileTerm, n)
		for i := range f.Terms {
			e, _ := r.entry()
			t := &f.Terms[i]
			copy(t.Xorb[:], e[:32])
			t.Size, t.Start, t.End = u32(e[36:]), u32(e[40:]), u32(e[44:])
			if t.End <= t.Start {
				return nil, formatErr("file %s term %d has the empty chunk range [%d, %d)", f.Hash, i, t.Start, t.End)
			}
		}
		if f.Verified {
			for i := range f.Terms {
				e, _ := r.entry()
				copy(f.Terms[i].Verification[:], e[:32])
			}
		}
		if f.HasSHA256 {
			e, err := r.entry()
			if err != nil {
				return nil, err
			}
			copy(f.SHA256[:], e[:32])
		}
		sh.Files = append(sh.Files, f)
	}
	for {
		e, err := r.section()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		var x XorbInfo
		copy(x.Hash[:], e[:32])
		n := int(u32(e[36:]))
		x.BytesInXorb, x.BytesOnDisk = u32(e[40:]), u32(e[44:])
		if (len(data)-r.pos)/shardEntrySize < n {
			return nil, formatErr("xorb %s announces %d chunks but the shard is too short", x.Hash, n)
		}
		x.Chunks = make([]XorbInfoChunk, n)
		for i := range x.Chunks {
			e, _ := r.entry()
			c := &x.Chunks[i]
			copy(c.Hash[:], e[:32])
			c.Offset, c.Size = u32(e[32:]), u32(e[36:])
		}
		sh.Xorbs = append(sh.Xorbs, x)
	}
	rest := len(data) - r.pos
	switch {
	case footerSize == 0 && rest != 0:
		return nil, formatErr("%d unexpected bytes after the shard's xorb section", rest)
	case footerSize != 0 && rest < shardFooterSize:
		return nil, formatErr("shard footer is truncated")
	case footerSize != 0:
		if v := binary.LittleEndian.Uint64(data[len(data)-shardFooterSize:]); v != shardFooterVersion {
			return nil, formatErr("unsupported shard footer version %d", v)
		}
	}
	return sh, nil
}

func hashLess(a, b Hash) bool {
	for i := 0; i < 4; i++ {
		if x, y := a.word(i), b.word(i); x != y {
			return x < y
		}
	}
	return false
}

// Marshal serializes the shard in full, with the lookup tables and the
// footer that clients need to load it into their dedup cache.
func (sh *Shard) Marshal() []byte {
	files := append([]FileInfo(nil), sh.Files...)
	sort.Slice(files, func(i, j int) bool { return hashLess(files[i].Hash, files[j].Hash) })
	xorbs := append([]XorbInfo(nil), sh.Xorbs...)
	sort.Slice(xorbs, func(i, j int) bool { return hashLess(xorbs[i].Hash, xorbs[j].Hash) })

	le := binary.LittleEndian
	var b []byte
	entry := func(h Hash, a, c, d, e uint32) {
		b = append(b, h[:]...)
		b = le.AppendUint32(b, a)
		b = le.AppendUint32(b, c)
		b = le.AppendUint32(b, d)
		b = le.AppendUint32(b, e)
	}
	bookend := func() {
		var ff Hash
		for i := range ff {
			ff[i] = 0xFF
		}
		entry(ff, 0, 0, 0, 0)
	}
	b = append(b, shardTag[:]...)
	b = le.AppendUint64(b, shardHeaderVersion)
	b = le.AppendUint64(b, shardFooterSize)

	type lookup struct {
		key    uint64
		a, idx uint32
	}
	var fileLookup, xorbLookup, chunkLookup []lookup
	var materialized, stored, onDisk uint64

	fileInfoOffset := uint64(len(b))
	index := uint32(0)
	for _, f := range files {
		fileLookup = append(fileLookup, lookup{key: f.Hash.Truncated(), idx: index})
		var flags uint32
		if f.Verified {
			flags |= flagVerification
		}
		if f.HasSHA256 {
			flags |= flagMetadataExt
		}
		entry(f.Hash, flags, uint32(len(f.Terms)), 0, 0)
		for _, t := range f.Terms {
			entry(t.Xorb, 0, t.Size, t.Start, t.End)
		}
		n := 1 + len(f.Terms)
		if f.Verified {
			for _, t := range f.Terms {
				entry(t.Verification, 0, 0, 0, 0)
			}
			n += len(f.Terms)
		}
		if f.HasSHA256 {
			entry(f.SHA256, 0, 0, 0, 0)
			n++
		}
		index += uint32(n)
		materialized += uint64(f.Size())
	}
	bookend()

	xorbInfoOffset := uint64(len(b))
	index = 0
	for _, x := range xorbs {
		xorbLookup = append(xorbLookup, lookup{key: x.Hash.Truncated(), idx: index})
		entry(x.Hash, 0, uint32(len(x.Chunks)), x.BytesInXorb, x.BytesOnDisk)
		for i, c := range x.Chunks {
			h := c.Hash
			if !sh.HMACKey.IsZero() {
				h = h.Keyed(sh.HMACKey)
			}
			entry(h, c.Offset, c.Size, 0, 0)
			chunkLookup = append(chunkLookup, lookup{key: h.Truncated(), a: index, idx: uint32(i)})
		}
		index += uint32(1 + len(x.Chunks))
		stored += uint64(x.BytesInXorb)
		onDisk += uint64(x.BytesOnDisk)
	}
	bookend()
	sort.SliceStable(chunkLookup, func(i, j int) bool { return chunkLookup[i].key < chunkLookup[j].key })

	fileLookupOffset := uint64(len(b))
	for _, l := range fileLookup {
		b = le.AppendUint64(b, l.key)
		b = le.AppendUint32(b, l.idx)
	}
	xorbLookupOffset := uint64(len(b))
	for _, l := range xorbLookup {
		b = le.AppendUint64(b, l.key)
		b = le.AppendUint32(b, l.idx)
	}
	chunkLookupOffset := uint64(len(b))
	for _, l := range chunkLookup {
		b = le.AppendUint64(b, l.key)
		b = le.AppendUint32(b, l.a)
		b = le.AppendUint32(b, l.idx)
	}
	footerOffset := uint64(len(b))
	expiry := uint64(1<<64 - 1)
	if !sh.Expiry.IsZero() {
		expiry = uint64(sh.Expiry.Unix())
	}
	for _, v := range []uint64{
		shardFooterVersion, fileInfoOffset, xorbInfoOffset,
		fileLookupOffset, uint64(len(fileLookup)),
		xorbLookupOffset, uint64(len(xorbLookup)),
		chunkLookupOffset, uint64(len(chunkLookup)),
	} {
		b = le.AppendUint64(b, v)
	}
	b = append(b, sh.HMACKey[:]...)
	b = le.AppendUint64(b, uint64(time.Now().Unix()))
	b = le.AppendUint64(b, expiry)
	b = append(b, make([]byte, 6*8)...)
	for _, v := range []uint64{onDisk, materialized, stored, footerOffset} {
		b = le.AppendUint64(b, v)
	}
	return b
}

// MarshalUpload serializes the shard as a client uploads it: no lookup
// tables and no footer.
func (sh *Shard) MarshalUpload() []byte {
	full := sh.Marshal()
	le := binary.LittleEndian
	footer := full[len(full)-shardFooterSize:]
	end := le.Uint64(footer[24:]) // end of the xorb section = file lookup offset
	out := append([]byte(nil), full[:end]...)
	le.PutUint64(out[40:], 0)
	return out
}
