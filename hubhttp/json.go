package hubhttp

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends v encoded exactly as encoding/json encodes it without
// HTML escaping. Answers are mostly maps of strings, numbers and lists
// (a listing of 1000 repositories is 1000 maps), which encoding/json walks
// by reflection and whose keys it sorts through reflect values; these are
// written here directly, and every other value is left to encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case []string:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendJSONList(b, len(v), func(i int) any { return v[i] })
	case []map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		return appendJSONList(b, len(v), func(i int) any { return v[i] })
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		var kb [32]string
		keys := kb[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, k), ':')
			var err error
			if b, err = appendJSON(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

func appendJSONList(b []byte, n int, at func(int) any) ([]byte, error) {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSON(b, at(i)); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendJSONString writes printable ASCII as it is and leaves any string
// that needs escaping to encoding/json, whose escapes (control characters,
// invalid UTF-8, U+2028) it then matches by construction.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(s) // a string always encodes
			e := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			return append(b, e...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// AppendJSON appends v encoded as MarshalJSON encodes it, without the
// newline, for answers that write some of their parts directly.
func AppendJSON(b []byte, v any) ([]byte, error) { return appendJSON(b, v) }

// AppendJSONString appends s as a JSON string, as MarshalJSON writes it.
func AppendJSONString(b []byte, s string) []byte { return appendJSONString(b, s) }
