package duck

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTextLines(t *testing.T) {
	tests := []struct {
		in   string
		want []any
	}{
		{"", nil},
		{"one", []any{"one"}},
		{"one\n", []any{"one"}},
		{"first line\r\nsecond\n\nfourth\n", []any{"first line", "second", "", "fourth"}},
		{"\n\n", []any{"", ""}},
		{"a,\"b\"\tc\\d\n東京 <&>\n", []any{"a,\"b\"\tc\\d", "東京 <&>"}},
		{strings.Repeat("x", 3<<20) + "\nend", []any{strings.Repeat("x", 3<<20), "end"}}, // longer than the read buffer
	}
	dir := t.TempDir()
	db, err := Open(Options{AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, tc := range tests {
		src := filepath.Join(dir, "in.txt")
		dst := filepath.Join(dir, "in.jsonl")
		if err := os.WriteFile(src, []byte(tc.in), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteTextLines(src, dst); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		rel, err := Source{Format: "text", Files: []string{dst}}.Relation()
		if err != nil {
			t.Fatal(err)
		}
		res, err := db.Query(context.Background(), "SELECT * FROM "+rel)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var got []any
		for _, r := range res.Rows {
			got = append(got, r[0])
		}
		if !reflect.DeepEqual(got, tc.want) || len(res.Columns) != 1 || res.Columns[0] != "text" {
			t.Errorf("%d: columns %v rows %.80q, want %.80q", i, res.Columns, got, tc.want)
		}
	}
	var out bytes.Buffer
	if err := textLines(strings.NewReader(strings.Repeat("y", MaxTextLine+1)), &out); err != ErrLineTooLong {
		t.Errorf("an oversized line gave %v", err)
	}
}
