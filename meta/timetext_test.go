package meta

import (
	"testing"
	"time"
)

// TestParseStoredTime checks the direct parse of stored times against
// time.Parse with the driver's layouts, and that text no layout reads is
// refused.
func TestParseStoredTime(t *testing.T) {
	for _, s := range []string{
		"2025-12-06 19:04:52.26835+00:00",
		"2025-12-06 19:04:52+00:00",
		"2025-12-06 19:04:52.123456789+00:00",
		"2025-12-06 19:04:52.1-07:30",
		"2024-02-29 23:59:59.000001+05:45",
		"2025-12-06 19:04:52.1234567891+00:00",
		"0001-01-01 00:00:00+00:00",
		"2025-12-06T19:04:52.5+00:00",
		"2025-12-06 19:04:52.5",
		"2025-12-06 19:04",
		"2025-12-06",
		"2025-12-06 19:04:52Z",
	} {
		var got time.Time
		if err := parseStoredTime(s, &got); err != nil {
			t.Errorf("parseStoredTime(%q): %v", s, err)
			continue
		}
		var want time.Time
		var err error
		for _, layout := range storedTimeLayouts {
			if want, err = time.Parse(layout, s); err == nil {
				break
			}
		}
		if err != nil {
			want, err = time.Parse("2006-01-02 15:04:05Z", s)
		}
		if err != nil || !got.Equal(want) {
			t.Errorf("parseStoredTime(%q) = %v, want %v (%v)", s, got, want, err)
		}
	}
	for _, s := range []string{"", "yesterday", "2025-02-30 10:00:00+00:00", "2025-12-06 25:00:00+00:00", "2025-12-06 19:04:52.+00:00",
		"2025-12-06 19:04:52+0000"} {
		var got time.Time
		if err := parseStoredTime(s, &got); err == nil {
			t.Errorf("parseStoredTime(%q) = %v, want an error", s, got)
		}
	}
}
