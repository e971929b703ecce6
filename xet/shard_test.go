package xet

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"
)

func testShard() *Shard {
	chunks := testChunks(3)
	_, xh := EncodeXorb(chunks)
	xi := XorbInfo{Hash: xh, BytesOnDisk: 1234}
	var refs []ChunkRef
	var hashes []Hash
	var off uint32
	for _, c := range chunks {
		h := ChunkHash(c)
		xi.Chunks = append(xi.Chunks, XorbInfoChunk{Hash: h, Offset: off, Size: uint32(len(c))})
		off += uint32(len(c))
		refs = append(refs, ChunkRef{Hash: h, Size: uint64(len(c))})
		hashes = append(hashes, h)
	}
	xi.BytesInXorb = off
	var sum Hash
	sum[5] = 9
	f := FileInfo{
		Hash:      FileHash(refs),
		Terms:     []FileTerm{{Xorb: xh, Size: off, Start: 0, End: uint32(len(chunks)), Verification: VerificationHash(hashes)}},
		Verified:  true,
		SHA256:    sum,
		HasSHA256: true,
	}
	return &Shard{Files: []FileInfo{f}, Xorbs: []XorbInfo{xi}}
}

func TestShardRoundTrip(t *testing.T) {
	sh := testShard()
	for name, data := range map[string][]byte{"upload form": sh.MarshalUpload(), "with footer": sh.Marshal()} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseShard(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Files, sh.Files) || !reflect.DeepEqual(got.Xorbs, sh.Xorbs) {
				t.Fatalf("round trip changed the shard:\n got %+v\nwant %+v", got, sh)
			}
		})
	}
}

func TestShardFooterLayout(t *testing.T) {
	sh := testShard()
	sh.Expiry = time.Unix(2000000000, 0)
	data := sh.Marshal()
	le := binary.LittleEndian
	footer := data[len(data)-shardFooterSize:]
	if le.Uint64(data[40:]) != shardFooterSize || le.Uint64(footer[192:]) != uint64(len(data)-shardFooterSize) {
		t.Fatal("footer size or footer offset wrong")
	}
	// One chunk lookup entry per chunk, sorted by key.
	chunkOff, n := le.Uint64(footer[56:]), le.Uint64(footer[64:])
	if int(n) != len(sh.Xorbs[0].Chunks) {
		t.Fatalf("chunk lookup has %d entries, want %d", n, len(sh.Xorbs[0].Chunks))
	}
	prev := uint64(0)
	for i := uint64(0); i < n; i++ {
		k := le.Uint64(data[chunkOff+16*i:])
		if k < prev {
			t.Fatal("chunk lookup table is not sorted")
		}
		prev = k
	}
	if le.Uint64(footer[112:]) != 2000000000 {
		t.Error("expiry not written")
	}
}

func TestShardRejectsMalformed(t *testing.T) {
	good := testShard().MarshalUpload()
	badMagic := append([]byte(nil), good...)
	badMagic[0] = 'X'
	bigCount := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(bigCount[48+36:], 1<<30) // first file's term count
	for name, data := range map[string][]byte{
		"truncated":        good[:len(good)-20],
		"no bookend":       good[:48+48],
		"bad magic":        badMagic,
		"huge term count":  bigCount,
		"trailing bytes":   append(append([]byte(nil), good...), 0),
		"header only":      good[:48],
		"shorter than tag": good[:10],
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseShard(data)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseShard = %v, want a FormatError", err)
			}
		})
	}
}
