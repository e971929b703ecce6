package evals_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/evals"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
)

// TestLeaderboardAPIPages walks a leaderboard by the Link header the API
// returns, filters it by size, and refuses bad cursors and sizes.
func TestLeaderboardAPIPages(t *testing.T) {
	ctx := context.Background()
	m := storetest.Open(t).Meta
	if err := m.CreateUser(ctx, &haven.User{Name: "alice"}, ""); err != nil {
		t.Fatal(err)
	}
	var models []string
	for i := range 5 {
		r := &haven.Repo{Type: haven.Model, Namespace: "alice", Name: fmt.Sprintf("m%d", i)}
		if err := m.CreateRepo(ctx, r); err != nil {
			t.Fatal(err)
		}
		v := float64(90 - i)
		res := meta.EvalResult{TaskType: "text-classification", DatasetID: "imdb", MetricType: "accuracy", Value: &v, ValueText: fmt.Sprint(v)}
		if err := m.SetCardIndex(ctx, r.ID, 0, []meta.EvalResult{res}); err != nil {
			t.Fatal(err)
		}
		if err := m.SetRepoParams(ctx, r.ID, map[string]int64{"BF16": int64(i+1) * 1e9}); err != nil {
			t.Fatal(err)
		}
		models = append(models, r.FullName())
	}
	h := evals.New(evals.Config{Meta: m}).API("leaderboards")
	get := func(target string) (*httptest.ResponseRecorder, evals.Leaderboard) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		var lb evals.Leaderboard
		json.Unmarshal(w.Body.Bytes(), &lb)
		return w, lb
	}
	var (
		seen  []string
		next  = "/api/leaderboards?dataset=imdb&limit=2"
		pages int
	)
	for next != "" && pages < 10 {
		w, lb := get(next)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", next, w.Code, w.Body)
		}
		for _, e := range lb.Entries {
			seen = append(seen, fmt.Sprintf("%d:%s", e.Rank, e.Model))
		}
		next = ""
		if link := w.Header().Get("Link"); link != "" {
			u, _, _ := strings.Cut(strings.TrimPrefix(link, "<"), ">")
			if !strings.HasSuffix(link, `>; rel="next"`) || !strings.Contains(u, "cursor="+lb.Next) {
				t.Fatalf("Link %q for next %q", link, lb.Next)
			}
			next = strings.TrimPrefix(u, "http://example.com")
		} else if lb.Next != "" {
			t.Fatalf("next %q without a Link header", lb.Next)
		}
		pages++
	}
	want := []string{"1:" + models[0], "2:" + models[1], "3:" + models[2], "4:" + models[3], "5:" + models[4]}
	if strings.Join(seen, " ") != strings.Join(want, " ") || pages != 3 {
		t.Errorf("pages %d: %q, want %q", pages, seen, want)
	}
	_, lb := get("/api/leaderboards?dataset=imdb&size=2-4B")
	if len(lb.Entries) != 2 || lb.Entries[0].Model != models[1] || lb.Entries[0].Parameters != 2e9 || lb.Entries[0].Rank != 1 {
		t.Errorf("size=2-4B: %+v", lb.Entries)
	}
	for _, bad := range []string{"/api/leaderboards?dataset=imdb&size=huge", "/api/leaderboards?dataset=imdb&cursor=bm9wZQ"} {
		if w, _ := get(bad); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, w.Code)
		}
	}
}
