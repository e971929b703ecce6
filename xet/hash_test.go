package xet

import (
	"testing"
)

func mustHash(t *testing.T, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The string form of a hash reverses the bytes of each 8-byte group
// (docs/xet/api.md, "Converting Hashes to Strings"; the spec's printed
// example drops the "10" of the third group, restored here).
func TestHashString(t *testing.T) {
	var h Hash
	for i := range h {
		h[i] = byte(i)
	}
	const want = "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
	if got := h.String(); got != want {
		t.Fatalf("String() = %s, want %s", got, want)
	}
	back, err := ParseHash(want)
	if err != nil || back != h {
		t.Fatalf("ParseHash(String()) = %v, %v; want the original bytes", back, err)
	}
	for _, bad := range []string{"", "00", want[:63] + "g", want + "0"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
}

// Reference vectors of the aggregated (xorb and file) hashes published with
// the reference implementation (xet-core merklehash/aggregated_hashes.rs).
func TestMerkleReferenceVectors(t *testing.T) {
	const (
		h0 = "0000000000000000000000000000000000000000000000000000000000000000"
		h1 = "cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6"
		h2 = "c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72"
		h3 = "0d2beb91b9196929a5ddec9f6e306924ddf4a24268e3e59fd8464738d525af37"
		h4 = "adf8773496a9b7319b2e50dc98093f344053b17d8ad37100b9c07d9805988784"
	)
	type leaf struct {
		h    string
		size uint64
	}
	tests := []struct {
		name       string
		leaves     []leaf
		xorb, file string
	}{
		{"empty", nil, h0, h0},
		{"one", []leaf{{h1, 100}}, h1, "8e16257caa3fe079d484d872a8975264b2ff683b0d6db9028cc7c0f968a45661"},
		{"three", []leaf{{h1, 100}, {h2, 200}, {h3, 300}},
			"71ec1275fca074724e2dd666921b3277c7cee603e4d025bcab2d4050015be2bc",
			"54e55dccc6653c612bdb5576c5d3cb34bb31bc4e100248abccf4c908b3ef7715"},
		{"four equal", []leaf{{h1, 100}, {h1, 100}, {h1, 100}, {h1, 100}},
			"89f2ada89ff8c96763c6b25010e6dd76a4c05b1466207633ea559acf2093211b", ""},
		{"six", []leaf{{h1, 100}, {h2, 200}, {h1, 100}, {h2, 200}, {h3, 300}, {h4, 400}},
			"52c826f99507aa05d0b45e9837fa1709e0485425cfbcb1e80db3905cf98b3ee9",
			"91d21684db364c8883ab8209fa5eb2e781cf07f37e1fa43e731c30839afe422f"},
		{"zeros between", []leaf{{h0, 0}, {h1, 100}, {h0, 0}, {h1, 100}, {h0, 0}},
			"f36c6a6374a567efd36ed087aeb680b57e3af4e0b5b8e7be2593df4cb647a2de",
			"ab2f46d31855e1133b3b5b70e78f841394a648710a208923b221c1a8a0572a1f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var refs []ChunkRef
			for _, l := range tc.leaves {
				refs = append(refs, ChunkRef{Hash: mustHash(t, l.h), Size: l.size})
			}
			if got := XorbHash(refs).String(); got != tc.xorb {
				t.Errorf("XorbHash = %s, want %s", got, tc.xorb)
			}
			if tc.file != "" && len(refs) > 0 {
				if got := FileHash(refs).String(); got != tc.file {
					t.Errorf("FileHash = %s, want %s", got, tc.file)
				}
			}
		})
	}
	// A salted file hash of the single-leaf tree, from the same vectors.
	salt := mustHash(t, "285371a6a3c8c4e561469c97766c46f0b9799bd8ea51a4ad27a082df8c28b7da")
	got := MerkleRoot([]ChunkRef{{Hash: mustHash(t, h1), Size: 100}}).Keyed(salt).String()
	if want := "6c18994ed5e6a223aeff68a6e386dbba7b3c25de076245dc77892b4ad49ac978"; got != want {
		t.Errorf("salted file hash = %s, want %s", got, want)
	}
}

func TestGlobalDedupEligible(t *testing.T) {
	var h Hash
	if !h.GlobalDedupEligible() {
		t.Error("zero hash: last word 0 is a multiple of 1024")
	}
	h[24] = 1
	if h.GlobalDedupEligible() {
		t.Error("last word 1 is not a multiple of 1024")
	}
	h[24], h[25] = 0, 4 // 1024
	if !h.GlobalDedupEligible() {
		t.Error("last word 1024 is eligible")
	}
}
