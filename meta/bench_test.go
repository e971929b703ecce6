package meta_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

const benchRepos = 100_000

var (
	benchOnce  sync.Once
	benchDir   string
	benchStore *meta.Store
	benchErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// benchmarkStore returns a SQLite store with benchRepos repositories in
// 1000 namespaces, with tags, likes and downloads spread over them. It is
// built once per test binary run.
func benchmarkStore(b *testing.B) *meta.Store {
	benchOnce.Do(func() {
		start := time.Now()
		benchDir, benchErr = os.MkdirTemp("", "haven-meta-bench")
		if benchErr != nil {
			return
		}
		benchStore, benchErr = meta.Open(ctx, filepath.Join(benchDir, "haven.db"))
		if benchErr != nil {
			return
		}
		if benchErr = fillBenchStore(benchStore); benchErr != nil {
			return
		}
		b.Logf("%d repos created in %v", benchRepos, time.Since(start).Round(time.Millisecond))
		// Reopen, as a server restarts, so that planner statistics exist.
		benchStore.Close()
		benchStore, benchErr = meta.Open(ctx, filepath.Join(benchDir, "haven.db"))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func fillBenchStore(s *meta.Store) error {
	users := make([]*haven.User, 50)
	for i := range users {
		users[i] = &haven.User{Name: fmt.Sprintf("fan%d", i)}
		if err := s.CreateUser(ctx, users[i], ""); err != nil {
			return err
		}
	}
	pipelines := []string{"text-generation", "image-classification", "translation", "fill-mask", "text-to-image"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range benchRepos {
		name := fmt.Sprintf("model-%d", i)
		if i%100 == 0 {
			name = fmt.Sprintf("llama-%d", i)
		}
		r := &haven.Repo{
			Type:      haven.RepoTypes[i%10/8], // 80 % models, 20 % datasets
			Namespace: fmt.Sprintf("ns%d", i%1000),
			Name:      name,
			Private:   i%7 == 0,
			Tags:      []string{pipelines[i%len(pipelines)], fmt.Sprintf("license:l%d", i%3), fmt.Sprintf("rare-%d", i%500)},
			CreatedAt: base.Add(time.Duration(i) * time.Minute),
			UpdatedAt: base.Add(time.Duration((i*7919)%benchRepos) * time.Minute),
		}
		if err := s.CreateRepo(ctx, r); err != nil {
			return err
		}
		if i%3 == 0 {
			if err := s.AddDownloads(ctx, r.ID, time.Now(), int64((i*31)%10_000)); err != nil {
				return err
			}
		}
		if i%20 == 0 {
			if err := s.Like(ctx, users[i%len(users)].ID, r.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func BenchmarkListRepos(b *testing.B) {
	s := benchmarkStore(b)
	cases := []struct {
		name   string
		filter meta.RepoFilter
	}{
		{"recent", meta.RepoFilter{Type: haven.Model}},
		{"downloads", meta.RepoFilter{Type: haven.Model, Sort: "downloads"}},
		{"likes/visible to org", meta.RepoFilter{Type: haven.Model, Sort: "likes", VisibleTo: []string{"ns1", "ns2"}}},
		{"trending", meta.RepoFilter{Type: haven.Model, Sort: "trendingScore"}},
		{"search/downloads", meta.RepoFilter{Type: haven.Model, Search: "llama", Sort: "downloads"}},
		{"search miss", meta.RepoFilter{Type: haven.Model, Search: "no-such-repo"}},
		{"tag/downloads", meta.RepoFilter{Type: haven.Model, Tags: []string{"text-generation"}, Sort: "downloads"}},
		{"rare tag/likes", meta.RepoFilter{Type: haven.Model, Tags: []string{"rare-7"}, Sort: "likes"}},
		{"two tags", meta.RepoFilter{Type: haven.Model, Tags: []string{"fill-mask", "license:l1"}}},
		{"author", meta.RepoFilter{Type: haven.Model, Author: "ns42", SeeAll: true}},
		{"deep page", meta.RepoFilter{Type: haven.Model, Sort: "downloads", Offset: 10_000}},
	}
	for _, c := range cases {
		f := c.filter
		f.Limit = 51
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				repos, err := s.ListRepos(ctx, f)
				if err != nil {
					b.Fatal(err)
				}
				if len(repos) == 0 && c.name != "search miss" {
					b.Fatal("no repos listed")
				}
			}
		})
		b.Run(c.name+"/count", func(b *testing.B) {
			for b.Loop() {
				if _, err := s.CountRepos(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
