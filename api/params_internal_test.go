package api

import (
	"bytes"
	"encoding/binary"
	"maps"
	"testing"
)

// safetensorsFile builds the start of a safetensors file with header.
func safetensorsFile(header string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.WriteString("tensor bytes follow")
	return b.Bytes()
}

func TestSafetensorsParams(t *testing.T) {
	got, err := safetensorsParams(bytes.NewReader(safetensorsFile(`{"__metadata__":{"format":"pt"},
		"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},
		"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},
		"c":{"dtype":"F32","shape":[],"data_offsets":[32,36]},
		"d":{"dtype":"F32","shape":[0,5],"data_offsets":[36,36]}}`)))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"F32": 7, "BF16": 4}; !maps.Equal(got, want) {
		t.Errorf("params = %v, want %v", got, want)
	}
	for name, data := range map[string][]byte{
		"short":        {1, 2},
		"huge header":  binary.LittleEndian.AppendUint64(nil, 1<<40),
		"cut header":   safetensorsFile(`{"a":{"dtype":"F32","shape":[1]}}`)[:20],
		"not json":     safetensorsFile(`not json`),
		"no dtype":     safetensorsFile(`{"a":{"shape":[1]}}`),
		"negative dim": safetensorsFile(`{"a":{"dtype":"F32","shape":[-1]}}`),
		"overflow":     safetensorsFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4]}}`),
	} {
		if _, err := safetensorsParams(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
