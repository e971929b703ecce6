package discussions_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/discussions"
	"github.com/havenhub/haven/internal/storetest"
)

// BenchmarkListDiscussions measures GET /api/models/{id}/discussions of a
// repository with 10,000 discussions at its first, a middle and its last
// page, and with each filter, against GET /api/models/{id} of the same
// repository and the store's own query for the last page in the same run. Each sub-benchmark reports the median and 99th
// percentile of its requests (p50-ms, p99-ms); the target is p50 < 10 ms.
// The sorts by reactions and trending run on servers that have them.
func BenchmarkListDiscussions(b *testing.B) {
	const total = 10_000
	ctx := context.Background()
	st := storetest.Open(b)
	discs := discussions.New(discussions.Config{Meta: st.Meta, Git: st.Git, PublicURL: "http://hub.test"})
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: "http://hub.test",
		Secret: []byte("bench-secret-bench-secret-bench-secret"), Routes: []api.Routes{discs}, PullRequests: discs})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	u := &haven.User{Name: "alice"}
	if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
		b.Fatal(err)
	}
	plain, hash := auth.NewToken()
	if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "bench", Role: haven.RoleWrite}, hash); err != nil {
		b.Fatal(err)
	}
	call := func(b *testing.B, method, path, body string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+plain)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	call(b, "POST", "/api/repos/create", `{"name":"busy"}`)
	repo, err := st.Meta.RepoByName(ctx, haven.Model, "alice", "busy")
	if err != nil {
		b.Fatal(err)
	}
	// A mix like a busy repository's: a fifth pull requests, a third closed,
	// ten authors, each with an opening comment.
	statuses := []string{haven.StatusOpen, haven.StatusOpen, haven.StatusClosed, haven.StatusOpen, haven.StatusMerged, haven.StatusDraft}
	for i := range total {
		d := &haven.Discussion{RepoID: repo.ID, Title: fmt.Sprintf("Question %d", i), Author: fmt.Sprintf("user%d", i%10),
			Status: statuses[i%len(statuses)], IsPullRequest: i%5 == 0}
		if !d.IsPullRequest && d.Status == haven.StatusMerged {
			d.Status = haven.StatusClosed
		}
		first := &haven.DiscussionEvent{Type: haven.EventComment, Author: d.Author, Body: "Details of the question."}
		if err := st.Meta.CreateDiscussion(ctx, d, first, 0); err != nil {
			b.Fatal(err)
		}
	}
	const last = total/50 - 1
	b.Run("baseline-store-page-last", func(b *testing.B) {
		times := make([]time.Duration, 0, b.N)
		for b.Loop() {
			start := time.Now()
			if _, _, _, err := st.Meta.ListDiscussions(ctx, repo.ID, haven.DiscussionFilter{Offset: last * 50, Limit: 50}); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(start))
		}
		reportPercentiles(b, times)
	})
	for _, tt := range []struct{ name, path string }{
		{"baseline-repoInfo", "/api/models/alice/busy"},
		{"page-first", "/api/models/alice/busy/discussions?p=0"},
		{"page-middle", fmt.Sprintf("/api/models/alice/busy/discussions?p=%d", last/2)},
		{"page-last", fmt.Sprintf("/api/models/alice/busy/discussions?p=%d", last)},
		{"status-open-middle", "/api/models/alice/busy/discussions?status=open&p=50"},
		{"status-closed-last", "/api/models/alice/busy/discussions?status=closed&p=66"},
		{"author-last", "/api/models/alice/busy/discussions?author=user3&p=19"},
		{"type-pr-last", "/api/models/alice/busy/discussions?type=pull_request&p=39"},
		{"all-filters", "/api/models/alice/busy/discussions?type=discussion&status=open&author=user1&p=5"},
		{"search-middle", "/api/models/alice/busy/discussions?search=question+1&p=10"},
		{"sort-reactions-middle", fmt.Sprintf("/api/models/alice/busy/discussions?sort=reactions&p=%d", last/2)},
		{"sort-trending-first", "/api/models/alice/busy/discussions?sort=trending&p=0"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			times := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				call(b, "GET", tt.path, "")
				times = append(times, time.Since(start))
			}
			reportPercentiles(b, times)
		})
	}
}

// reportPercentiles reports the median and 99th percentile of times in ms.
func reportPercentiles(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100])/1e6, "p99-ms")
}
