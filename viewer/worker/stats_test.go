package worker

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/havenhub/haven/viewer"
	"github.com/havenhub/haven/viewer/duck"
)

func TestDatetimeStatistics(t *testing.T) {
	db, err := duck.Open(duck.Options{AllowedDirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	edges := `["2024-01-01 00:00:00","2024-01-02 00:00:01","2024-01-03 00:00:02","2024-01-04 00:00:03","2024-01-05 00:00:04",` +
		`"2024-01-06 00:00:05","2024-01-07 00:00:06","2024-01-08 00:00:07","2024-01-09 00:00:08","2024-01-10 00:00:09","2024-01-11 00:00:00"]`
	// Whole seconds since the minimum are 0, 86400 and 864000: mean 316800,
	// median 86400, sample std 475854.09529 s; integer bins 86401 s wide.
	want := `{"column_name":"d","column_type":"datetime","column_statistics":{"histogram":{"bin_edges":` + edges +
		`,"hist":[2,0,0,0,0,0,0,0,0,1]},"max":"2024-01-11 00:00:00","mean":"2024-01-04 16:00:00","median":"2024-01-02 00:00:00",` +
		`"min":"2024-01-01 00:00:00","nan_count":1,"nan_proportion":0.25,"std":"5 days, 12:10:54.095290"}}`
	tests := []struct {
		name, values, dtype, want string
	}{
		{"timestamp", "(TIMESTAMP '2024-01-02'), (TIMESTAMP '2024-01-01'), (NULL), (TIMESTAMP '2024-01-11')", "timestamp[us]", want},
		{"dates in strings", "('2024-01-02'), ('2024-01-01 00:00:00'), (NULL), ('2024-01-11T00:00:00')", "string", want},
		{"zone-aware", "(TIMESTAMPTZ '2024-01-01 00:00:00+00'), (TIMESTAMPTZ '2024-01-01 01:00:00+00')", "timestamp[us, tz=UTC]",
			`{"column_name":"d","column_type":"datetime","column_statistics":{"histogram":{"bin_edges":["2024-01-01 00:00:00+0000","2024-01-01 00:06:01+0000",` +
				`"2024-01-01 00:12:02+0000","2024-01-01 00:18:03+0000","2024-01-01 00:24:04+0000","2024-01-01 00:30:05+0000","2024-01-01 00:36:06+0000",` +
				`"2024-01-01 00:42:07+0000","2024-01-01 00:48:08+0000","2024-01-01 00:54:09+0000","2024-01-01 01:00:00+0000"],"hist":[1,0,0,0,0,0,0,0,0,1]},` +
				`"max":"2024-01-01 01:00:00+0000","mean":"2024-01-01 00:30:00+0000","median":"2024-01-01 00:30:00+0000","min":"2024-01-01 00:00:00+0000",` +
				`"nan_count":0,"nan_proportion":0,"std":"0:42:25.584410"}}`},
		{"all null", "(NULL::TIMESTAMP), (NULL::TIMESTAMP)", "timestamp[us]",
			`{"column_name":"d","column_type":"datetime","column_statistics":{"histogram":null,"max":null,"mean":null,"median":null,"min":null,"nan_count":2,"nan_proportion":1,"std":null}}`},
		{"strings that are not all dates stay text", "('2024-01-02'), ('yesterday'), ('2024-01-03'), ('2024-01-04'), ('2024-01-05'), ('2024-01-06'), ('2024-01-07'), ('2024-01-08'), ('2024-01-09'), ('2024-01-10'), ('2024-01-11')", "string", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rel := "(SELECT * FROM (VALUES " + tc.values + ") t(d))"
			n, err := db.QueryInt(context.Background(), "SELECT count(*) FROM "+rel)
			if err != nil {
				t.Fatal(err)
			}
			col := viewer.Column{Name: "d", Type: json.RawMessage(`{"dtype":"` + tc.dtype + `","_type":"Value"}`)}
			item, err := columnStats(context.Background(), db, rel, col, n)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(item)
			if tc.want == "" {
				if item.ColumnType != "string_text" {
					t.Errorf("column type %s", got)
				}
				return
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestPythonTimedelta(t *testing.T) {
	for sec, want := range map[float64]string{0: "0:00:00", 1.5: "0:00:01.500000", 3*86400 + 5: "3 days, 0:00:05", 86400: "1 day, 0:00:00",
		63683.09737: "17:41:23.097370"} {
		if got := pythonTimedelta(sec); got != want {
			t.Errorf("pythonTimedelta(%v) = %q, want %q", sec, got, want)
		}
	}
}
