package spaces

import (
	"reflect"
	"testing"
)

func TestParsePreload(t *testing.T) {
	tests := []struct {
		in   string
		want preloadEntry
		bad  bool
	}{
		{in: "alice/tiny", want: preloadEntry{repo: "alice/tiny"}},
		{in: "alice/tiny config.json,weights/model.safetensors", want: preloadEntry{repo: "alice/tiny", files: []string{"config.json", "weights/model.safetensors"}}},
		{in: "alice/tiny config.json 0123456789abcdef0123456789abcdef01234567", want: preloadEntry{repo: "alice/tiny", files: []string{"config.json"}, revision: "0123456789abcdef0123456789abcdef01234567"}},
		{in: "", bad: true},
		{in: "gpt2", bad: true},
		{in: "alice/tiny a b c", bad: true},
		{in: "alice/tiny config.json ../../etc", bad: true},
		{in: "alice/../tiny", bad: true},
	}
	for _, tt := range tests {
		got, err := parsePreload(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("parsePreload(%q) = %+v, %v", tt.in, got, err)
		}
	}
}
