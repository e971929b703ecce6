package fts

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMatchExpr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hello", `"hello"`},
		{"Hello world hello", `"hello" AND "world"`},
		{"東京タワー", `"東 京 タ ワ ー"`},
		{`a"b`, `"a b"`},
		{"NEAR(x y) AND *", `"near x" AND "y" AND "and"`},
		{"--- ;;", ``},
		{"e-mail", `"e mail"`},
	}
	for _, tc := range tests {
		got, err := MatchExpr(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("MatchExpr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := MatchExpr(strings.Repeat("x", MaxQueryLength+1)); err == nil {
		t.Error("an oversized query was accepted")
	}
	if _, err := MatchExpr(strings.Repeat("w ", maxTerms+2)); err != nil {
		t.Errorf("repeated words count once: %v", err)
	}
}

func TestSearch(t *testing.T) {
	docs := []string{
		"The quick brown fox",            // 0
		"Привет мир, hello world",        // 1
		"東京は日本の首都です",                     // 2
		"Café au lait in Zürich",         // 3
		"مرحبا بالعالم",                  // 4
		"fox fox fox, a very foxy story", // 5
		"नमस्ते दुनिया",                  // 6
		"nothing relevant here",          // 7
	}
	p := filepath.Join(t.TempDir(), "idx.fts")
	err := Build(context.Background(), p, func(yield func(Doc) error) error {
		for i, d := range docs {
			if err := yield(Doc{ID: int64(i), Text: d}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	tests := []struct {
		query string
		ids   []int64
	}{
		{"fox", []int64{5, 0}}, // ranked by BM25: more occurrences first
		{"привет", []int64{1}},
		{"東京", []int64{2}},
		{"首都", []int64{2}},
		{"cafe zurich", []int64{3}},
		{"بالعالم", []int64{4}},
		{"दुनिया", []int64{6}},
		{"hello world", []int64{1}},
		{"hello nothing", nil},
		{"absent", nil},
		{`"; DROP TABLE docs; --`, nil},
	}
	for _, tc := range tests {
		ids, total, err := ix.Search(context.Background(), tc.query, 0, 10)
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if !reflect.DeepEqual(ids, tc.ids) || total != int64(len(tc.ids)) {
			t.Errorf("%q: ids %v total %d, want %v", tc.query, ids, total, tc.ids)
		}
	}
	ids, total, err := ix.Search(context.Background(), "fox", 1, 1)
	if err != nil || total != 2 || !reflect.DeepEqual(ids, []int64{0}) {
		t.Errorf("paged search: %v %d %v", ids, total, err)
	}
}
