package api

import (
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
)

// TestBriefItemMatchesMap holds appendBriefItem to the bytes of the map
// that listItem builds for the default item (no expansion, card or full).
func TestBriefItemMatchesMap(t *testing.T) {
	created := time.Date(2025, 6, 1, 12, 3, 4, 567_890_123, time.UTC)
	updated := time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		repo haven.Repo
	}{
		{"model", haven.Repo{ID: 42, Type: haven.Model, Namespace: "org001", Name: "bert-model-1", CreatedAt: created, UpdatedAt: updated,
			Tags: []string{"transformers", "fill-mask", "license:mit"}, PipelineTag: "fill-mask", LibraryName: "transformers",
			Downloads: 12, Likes: 3, TrendingScore: 7}},
		{"bare model", haven.Repo{ID: 1, Type: haven.Model, Namespace: "a", Name: "b"}},
		{"private gated", haven.Repo{ID: 123456789012, Type: haven.Model, Namespace: "acme", Name: "x", Private: true, Gated: "manual",
			Tags: []string{}, CreatedAt: created, UpdatedAt: created}},
		{"escapes", haven.Repo{ID: 7, Type: haven.Model, Namespace: "ns", Name: "n\"a\\me<&>", CardError: "line 1:\n\tbad \"yaml\" \u2028 é",
			Tags: []string{"tag\"q", "日本語", "a,b", "\x01", "<html>"}, PipelineTag: "p\"t", LibraryName: "lib\\x", Gated: "a\"uto"}},
		{"unicode name", haven.Repo{ID: 8, Type: haven.Model, Namespace: "équipe", Name: "modèle", Downloads: -1, Likes: 1 << 40}},
		{"model with a card", haven.Repo{ID: 9, Type: haven.Model, Namespace: "a", Name: "c", CardData: map[string]any{"pretty_name": "P"},
			SHA: "abc", UsedStorage: 10, DownloadsAllTime: 99, Tags: []string{"base_model:finetune:a/b"}}},
		{"dataset", haven.Repo{ID: 10, Type: haven.Dataset, Namespace: "a", Name: "d", CardData: map[string]any{"pretty_name": "A \"set\""},
			PipelineTag: "ignored", LibraryName: "ignored", Tags: []string{"task_categories:fill-mask"}}},
		{"dataset, name not text", haven.Repo{ID: 11, Type: haven.Dataset, Namespace: "a", Name: "e", CardData: map[string]any{"pretty_name": 3}}},
		{"dataset with a card error", haven.Repo{ID: 12, Type: haven.Dataset, Namespace: "a", Name: "f", CardError: "bad"}},
	}
	req := httptest.NewRequest("GET", "/api/models", nil)
	for _, xet := range []bool{false, true} {
		s := &Server{xetOn: xet}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/xet=%v", tt.name, xet), func(t *testing.T) {
				want, err := hubhttp.AppendJSON(nil, s.listItem(req, &tt.repo, nil, false, false, nil))
				if err != nil {
					t.Fatal(err)
				}
				got := appendBriefItem([]byte("prefix"), &tt.repo)
				if string(got) != "prefix"+string(want) {
					t.Errorf("brief item\n got %s\nwant prefix%s", got, want)
				}
			})
		}
	}
}

// TestAppendTime holds appendTime to haven.FormatTime.
func TestAppendTime(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(2025, 1, 2, 3, 4, 5, 999_999_999, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 1_000_000, time.FixedZone("y", -7*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 6, 21, 0, 0, 0, time.Local),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		times = append(times, time.Unix(rng.Int64N(1<<36)-1<<35, rng.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendTime(nil, tm)), `"`+haven.FormatTime(tm)+`"`; got != want {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}
