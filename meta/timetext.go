package meta

import (
	"fmt"
	"strings"
	"time"
)

// timeText scans a time column into t, whether the driver hands it over
// as a time.Time or, for a column read as text (sqliteTimeColumns), as the
// text SQLite stores. The SQLite driver parses each DATETIME value by
// trying a layout that fails before the one it writes; a listing of 1000
// repositories spent a tenth of its time there.
type timeText struct{ t *time.Time }

func (s timeText) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*s.t = v
		return nil
	case string:
		return parseStoredTime(v, s.t)
	case []byte:
		return parseStoredTime(string(v), s.t)
	}
	return fmt.Errorf("meta: cannot read a time from %T", v)
}

// storedTimeLayouts are the layouts the SQLite driver reads, in its order;
// the first is the one it writes (_time_format=sqlite).
var storedTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseStoredTime reads "2006-01-02 15:04:05.999999999-07:00" directly and
// any other layout the driver reads with time.Parse.
func parseStoredTime(s string, t *time.Time) error {
	if v, ok := parseSQLiteTime(s); ok {
		*t = v
		return nil
	}
	s, _ = strings.CutSuffix(s, "Z")
	for _, layout := range storedTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			*t = v
			return nil
		}
	}
	return fmt.Errorf("meta: unreadable time %q", s)
}

// parseSQLiteTime parses the layout the driver writes without time.Parse.
func parseSQLiteTime(s string) (time.Time, bool) {
	// 2006-01-02 15:04:05[.fraction]-07:00
	if len(s) < 25 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	rest := s[19:]
	nsec := 0
	if rest[0] == '.' {
		digits := 0
		for digits+1 < len(rest) && rest[digits+1] >= '0' && rest[digits+1] <= '9' {
			digits++
		}
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		nsec, _ = num(rest[1 : 1+digits])
		for range 9 - digits {
			nsec *= 10
		}
		rest = rest[1+digits:]
	}
	// The offset: ±hh:mm.
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return time.Time{}, false
	}
	oh, ok1 := num(rest[1:3])
	om, ok2 := num(rest[4:6])
	if !ok1 || !ok2 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	offset := oh*3600 + om*60
	if rest[0] == '-' {
		offset = -offset
	}
	v := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if v.Day() != day {
		return time.Time{}, false // February 30th and the like: time.Parse refuses them
	}
	return v.Add(-time.Duration(offset) * time.Second), true
}
