package evals

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max int64
		ok       bool
	}{
		{"<1B", 0, 1e9, true},
		{">70B", 70e9, 0, true},
		{"1-7B", 1e9, 7e9, true},
		{"7B-14B", 7e9, 14e9, true},
		{"100M-1.5B", 100e6, 15e8, true},
		{" 3 - 7b ", 3e9, 7e9, true},
		{"7-1B", 0, 0, false},
		{"<0", 0, 0, false},
		{"big", 0, 0, false},
		{"1-xB", 0, 0, false},
		{"7", 0, 0, false},
	} {
		lo, hi, ok := ParseSize(tc.in)
		if ok != tc.ok || ok && (lo != tc.min || hi != tc.max) {
			t.Errorf("ParseSize(%q) = %d, %d, %v; want %d, %d, %v", tc.in, lo, hi, ok, tc.min, tc.max, tc.ok)
		}
	}
	for _, s := range Sizes {
		if _, _, ok := ParseSize(s); !ok {
			t.Errorf("offered size %q does not parse", s)
		}
	}
}
