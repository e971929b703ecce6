package hubhttp

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestMarshalJSONMatchesEncodingJSON checks that the direct encoder writes
// the very bytes encoding/json writes (without HTML escaping), for the
// values it handles itself and for those it leaves to encoding/json.
func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	type item struct {
		Name string `json:"name"`
		N    int    `json:"n,omitempty"`
	}
	cases := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"string", "org/bert-model-1"},
		{"empty string", ""},
		{"quotes and backslashes", `a "b" \c \u003c`},
		{"html", "<script>&amp;</script>"},
		{"control characters", "tab\tnew\nline\x00\x1f"},
		{"unicode", "modèle 模型 \u2028\u2029 😀"},
		{"invalid utf-8", "a\xffb\xc3"},
		{"numbers", []any{0, -1, int64(math.MaxInt64), int32(-7), uint64(math.MaxUint64), 1.5, 1e21, float32(0.1)}},
		{"bools", []any{true, false}},
		{"nil slices and maps", map[string]any{"s": []string(nil), "a": []any(nil), "m": map[string]any(nil), "l": []map[string]any(nil)}},
		{"empty slices and maps", map[string]any{"s": []string{}, "a": []any{}, "m": map[string]any{}, "l": []map[string]any{}}},
		{"sorted keys", map[string]any{"b": 1, "a": 2, "_id": "x", "Z": 3, "trendingScore": 4, "é": 5, "a\"b": 6}},
		{"listing", []map[string]any{
			{"_id": "000000000000000000000001", "id": "org/m", "private": false, "downloads": int64(3), "tags": []string{"mit", "en"},
				"cardData": map[string]any{"license": "mit", "nested": []any{map[string]any{"x": 1.25}, nil, "s"}}},
			{"id": "org/n", "runtime": map[string]any{"stage": "NO_APP_FILE", "hardware": map[string]any{"current": nil}}},
		}},
		{"other types", map[string]any{"struct": item{Name: "x"}, "time": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
			"raw": json.RawMessage(` {"a": 1} `), "bytes": []byte("hi"), "ints": []int{1, 2}, "strmap": map[string]string{"b": "1", "a": "2"},
			"ptr": &item{N: 2}, "nilptr": (*item)(nil)}},
		{"many keys", func() map[string]any {
			m := map[string]any{}
			for i := range 100 {
				m[string(rune('a'+i%26))+string(rune('a'+i/26))] = i
			}
			return m
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(c.v); err != nil {
				t.Fatal(err)
			}
			got, err := MarshalJSON(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want.Bytes())
			}
		})
	}
}

// TestMarshalJSONErrors checks that values encoding/json refuses are
// refused inside the maps and lists the direct encoder walks.
func TestMarshalJSONErrors(t *testing.T) {
	for _, v := range []any{
		map[string]any{"a": math.NaN()},
		[]any{"x", make(chan int)},
		[]map[string]any{{"f": func() {}}},
	} {
		if _, err := MarshalJSON(v); err == nil {
			t.Errorf("MarshalJSON(%#v): no error", v)
		}
	}
}
