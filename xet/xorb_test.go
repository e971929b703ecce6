package xet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func testChunks(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 4000)
	var chunks [][]byte
	for _, part := range [][]byte{random, text} {
		for _, n := range Chunks(part) {
			chunks = append(chunks, part[:n])
			part = part[n:]
		}
	}
	return chunks
}

func TestXorbRoundTrip(t *testing.T) {
	chunks := testChunks(1)
	data, hash := EncodeXorb(chunks)
	x, err := ParseXorb(data, hash)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Chunks) != len(chunks) || x.DataLen != len(data) {
		t.Fatalf("parsed %d chunks, %d bytes; want %d, %d", len(x.Chunks), x.DataLen, len(chunks), len(data))
	}
	compressed := false
	for i, c := range x.Chunks {
		if c.Hash != ChunkHash(chunks[i]) || int(c.Size) != len(chunks[i]) {
			t.Fatalf("chunk %d: wrong hash or size", i)
		}
		got, err := DecodeChunks(nil, data[c.Start:c.End])
		if err != nil || !bytes.Equal(got, chunks[i]) {
			t.Fatalf("chunk %d does not decode to its content: %v", i, err)
		}
		if _, err := ChunkBody(data[c.Start:c.End]); err != nil {
			compressed = true
		}
	}
	if !compressed {
		t.Error("the repetitive text chunks should have been stored compressed")
	}
}

func TestXorbByteGrouping(t *testing.T) {
	raw := make([]byte, 10003) // not a multiple of 4
	for i := range raw {
		raw[i] = byte(i / 7)
	}
	var c bytes.Buffer
	zw := lz4.NewWriter(&c)
	zw.Write(group4(raw))
	zw.Close()
	data := appendChunkRaw(nil, CompressionBG4LZ4, c.Bytes(), len(raw))
	got, err := DecodeChunks(nil, data)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("byte-grouped chunk decodes wrongly: %v", err)
	}
}

func TestXorbRejectsCorruption(t *testing.T) {
	chunks := testChunks(2)
	data, hash := EncodeXorb(chunks)
	flip := func(i int) []byte {
		d := append([]byte(nil), data...)
		d[i] ^= 0x40
		return d
	}
	var other Hash
	other[0] = 1
	withFooter := append(append([]byte(nil), data...), xorbFooterIdent...)
	withFooter = binary.LittleEndian.AppendUint32(withFooter, 3)
	tests := []struct {
		name string
		data []byte
		hash Hash
	}{
		{"wrong hash in the URL", data, other},
		{"flipped data byte", flip(len(data) / 2), hash},
		{"truncated", data[:len(data)-10], hash},
		{"bad header version", flip(0), hash},
		{"empty", nil, hash},
		{"inconsistent footer", withFooter, hash},
		{"trailing garbage", append(append([]byte(nil), data...), 1, 2, 3), hash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseXorb(tc.data, tc.hash)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseXorb = %v, want a FormatError", err)
			}
		})
	}
}
