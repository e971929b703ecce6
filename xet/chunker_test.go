package xet

import (
	"bytes"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
)

func boundaries(lengths []int) []int {
	var out []int
	pos := 0
	for _, n := range lengths {
		pos += n
		out = append(out, pos)
	}
	return out
}

// triggeringData repeats a 128-byte pattern known to hit the boundary
// condition, followed by padding zero bytes, up to n bytes; the reference
// implementation's chunking tests use the same construction.
func triggeringData(n, padding int) []byte {
	data := []byte{
		154, 52, 42, 34, 159, 75, 126, 224, 70, 236, 12, 196, 79, 236, 178, 124, 127, 50, 99, 178, 44, 176, 174,
		126, 250, 235, 205, 174, 252, 122, 35, 10, 20, 101, 214, 69, 193, 8, 115, 105, 158, 228, 120, 111, 136,
		162, 198, 251, 211, 183, 253, 252, 164, 147, 63, 16, 186, 162, 117, 23, 170, 36, 205, 187, 174, 76, 210,
		174, 211, 175, 12, 173, 145, 59, 2, 70, 222, 181, 159, 227, 182, 156, 189, 51, 226, 106, 24, 50, 183, 157,
		140, 10, 8, 23, 212, 70, 10, 234, 23, 33, 219, 254, 39, 236, 70, 49, 191, 116, 9, 115, 15, 101, 26, 159,
		165, 220, 15, 170, 56, 125, 92, 163, 94, 235, 38, 40, 49, 81,
	}
	data = append(data, make([]byte, padding)...)
	for len(data) < n {
		take := min(n-len(data), len(data))
		data = append(data, data[:take]...)
	}
	return data
}

// Chunk boundaries from the reference implementation's tests
// (xet-core deduplication/chunking.rs).
func TestChunkBoundariesReference(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []int
	}{
		{"constant 1 MB", bytes.Repeat([]byte{59}, 1000000),
			[]int{131072, 262144, 393216, 524288, 655360, 786432, 917504, 1000000}},
		{"pattern, no padding", triggeringData(65536, 0), []int{8256, 16448, 24640, 32832, 41024, 49216, 57408, 65536}},
		{"pattern, padding 1", triggeringData(65536, 1), []int{8320, 16576, 24832, 33088, 41344, 49600, 57856, 65536}},
		{"pattern, padding 126", triggeringData(65536, 126), []int{8192, 16574, 24956, 33338, 41720, 50102, 58484, 65536}},
		{"pattern, padding 127", triggeringData(65536, 127), []int{8224, 16639, 25054, 33469, 41884, 50299, 58714, 65536}},
		{"smaller than the minimum", make([]byte, 100), []int{100}},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := boundaries(Chunks(tc.data)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("boundaries = %v, want %v", got, tc.want)
			}
		})
	}
}

// The streaming chunker must cut where Chunks cuts, whatever the read sizes.
func TestChunkerStreamingMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := Chunks(data)
	for _, tc := range []struct {
		readSize int
		reuse    bool
	}{{1000, false}, {65536, false}, {1 << 20, false}, {1000, true}, {1 << 20, true}} {
		readSize := tc.readSize
		c := NewChunker(&smallReader{r: bytes.NewReader(data), n: readSize})
		if tc.reuse {
			c.Reuse()
		}
		var got []int
		var joined []byte
		for {
			ch, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, len(ch))
			joined = append(joined, ch...)
		}
		if !reflect.DeepEqual(got, want) || !bytes.Equal(joined, data) {
			t.Errorf("read size %d, reuse %v: %d chunks, want %d (content equal: %v)", readSize, tc.reuse, len(got), len(want), bytes.Equal(joined, data))
		}
	}
	for _, n := range want[:len(want)-1] {
		if n < MinChunkSize || n > MaxChunkSize {
			t.Errorf("chunk of %d bytes outside [%d, %d]", n, MinChunkSize, MaxChunkSize)
		}
	}
}

// A local edit changes only the chunks around it.
func TestChunkingIsLocal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	edited := append([]byte(nil), data...)
	copy(edited[1<<20:], "a few changed bytes in the middle")
	hashes := func(b []byte) map[Hash]bool {
		m := map[Hash]bool{}
		for _, n := range Chunks(b) {
			m[ChunkHash(b[:n])] = true
			b = b[n:]
		}
		return m
	}
	before, after := hashes(data), hashes(edited)
	changed := 0
	for h := range after {
		if !before[h] {
			changed++
		}
	}
	if changed == 0 || changed > 2 {
		t.Errorf("%d chunks changed after a 33-byte edit, want 1 or 2", changed)
	}
}

type smallReader struct {
	r io.Reader
	n int
}

func (s *smallReader) Read(p []byte) (int, error) {
	if len(p) > s.n {
		p = p[:s.n]
	}
	return s.r.Read(p)
}
