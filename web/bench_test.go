package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// benchRepos is the number of repositories the page benchmarks run with.
const benchRepos = 100_000

// benchmarkSite returns a site whose database holds benchRepos model
// repositories with cards' tags, in 1000 namespaces, and one real
// repository, alice/card, whose card is 50 KB of Markdown.
func benchmarkSite(b *testing.B) *site {
	start := time.Now()
	s := newSite(b)
	if err := fillRepos(s.meta, benchRepos); err != nil {
		b.Fatal(err)
	}
	s.createRepo("alice", "card", false)
	s.commit("alice", "alice/card", "card", map[string]string{"README.md": bigCard(50 << 10)})
	if err := s.meta.Optimize(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d repositories created in %v", benchRepos, time.Since(start).Round(time.Millisecond))
	return s
}

var (
	benchPipelines = []string{"text-classification", "fill-mask", "text-generation", "translation", "summarization",
		"image-classification", "object-detection", "automatic-speech-recognition", "question-answering", "token-classification"}
	benchLibraries = []string{"transformers", "diffusers", "timm", "sentence-transformers", "peft"}
	benchLicenses  = []string{"mit", "apache-2.0", "cc-by-4.0", "openrail", "other"}
	benchLanguages = []string{"en", "fr", "de", "zh", "es"}
	benchWords     = []string{"bert", "gpt", "llama", "whisper", "vit", "t5", "clip", "mistral", "phi", "qwen"}
)

// fillRepos adds n model repositories with a deterministic spread of tags,
// 5% of them private.
func fillRepos(m *meta.Store, n int) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-365 * 24 * time.Hour)
	for i := range n {
		pipe := benchPipelines[rng.IntN(len(benchPipelines))]
		lib := benchLibraries[rng.IntN(len(benchLibraries))]
		tags := []string{lib, pipe, "license:" + benchLicenses[rng.IntN(len(benchLicenses))], "language:" + benchLanguages[rng.IntN(len(benchLanguages))]}
		r := &haven.Repo{
			Type:        haven.Model,
			Namespace:   fmt.Sprintf("org%03d", i%1000),
			Name:        fmt.Sprintf("%s-model-%d", benchWords[rng.IntN(len(benchWords))], i),
			Private:     rng.IntN(20) == 0,
			CreatedAt:   base.Add(time.Duration(i) * time.Minute),
			UpdatedAt:   base.Add(time.Duration(rng.IntN(n)) * time.Minute),
			Tags:        tags,
			PipelineTag: pipe,
			LibraryName: lib,
		}
		if err := m.CreateRepo(ctx, r); err != nil {
			return err
		}
		if i%100 == 0 {
			if err := m.AddDownloads(ctx, r.ID, time.Now(), int64(rng.IntN(10000))); err != nil {
				return err
			}
		}
	}
	return nil
}

// bigCard returns a card of about size bytes: front matter, prose with
// inline markup, tables, code and lists.
func bigCard(size int) string {
	var b strings.Builder
	b.WriteString("---\nlicense: mit\npipeline_tag: text-classification\nlanguage: [en]\ntags: [bench]\n---\n\n# A large card\n\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "## Section %d\n\nThis model does **things** with _care_; see [the docs](docs/%d.md) and `code %d`.\n\n", i, i, i)
		b.WriteString("| metric | value | notes |\n|---|---|---|\n")
		for j := range 5 {
			fmt.Fprintf(&b, "| m%d | 0.%d | row %d |\n", j, 90+j, j)
		}
		fmt.Fprintf(&b, "\n```python\nfrom transformers import pipeline\npipe = pipeline(\"x\", model=\"m%d\")\n```\n\n- one\n- two\n- three\n\n", i)
	}
	return b.String()
}

// BenchmarkWeb measures the server time of pages and discovery calls with
// benchRepos repositories: handlers are called directly, without a
// network, and each reports its median (p50-ms) and 90th percentile.
func BenchmarkWeb(b *testing.B) {
	s := benchmarkSite(b)
	cases := []struct{ name, path string }{
		{"models-page", "/models"},
		{"models-page-search", "/models?search=llama-model-4"},
		{"models-page-filter", "/models?pipeline_tag=fill-mask&license=mit&language=fr"},
		{"models-page-search-sort", "/models?search=bert&sort=downloads"},
		{"models-page-page-50", "/models?sort=updated&p=50"},
		{"api-models-search", "/api/models?search=llama-model-4&limit=30"},
		{"api-models-filter", "/api/models?filter=fill-mask&filter=license:mit&limit=30"},
		{"api-quicksearch", "/api/quicksearch?q=llama-model-4&limit=5"},
		{"api-quicksearch-common", "/api/quicksearch?q=bert&limit=5"},
		{"api-models-tags-by-type", "/api/models-tags-by-type"},
		{"repo-page-50KB-card", "/alice/card"},
		{"home", "/"},
	}
	handler := s.handler
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// One request first: caches (tag counts, rendered card) fill
			// as they would on a running server.
			serveOnce(b, handler, c.path)
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				serveOnce(b, handler, c.path)
				times = append(times, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			ms := func(q float64) float64 {
				return float64(times[int(q*float64(len(times)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.9), "p90-ms")
		})
	}
}

func serveOnce(b *testing.B, h http.Handler, path string) {
	req := httptest.NewRequest("GET", path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String()[:min(rec.Body.Len(), 300)])
	}
}
