package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
)

// benchRepos is the number of repositories the page benchmarks run with.
const benchRepos = 100_000

// benchmarkSite returns a site whose database holds benchRepos
// repositories with cards' tags, in 1000 namespaces (see fillRepos), and
// one real repository, alice/card, whose card is 50 KB of Markdown.
//
// With HAVEN_BENCH_DB set, the repositories are created in that file once
// (when it does not exist) and every later run starts from a copy of it,
// so that runs of two revisions can time their requests at the same time
// rather than one while the other is still filling its database.
func benchmarkSite(b *testing.B) *site {
	start := time.Now()
	db := os.Getenv("HAVEN_BENCH_DB")
	if _, err := os.Stat(db); db != "" && err != nil {
		m, err := meta.Open(context.Background(), db)
		if err != nil {
			b.Fatal(err)
		}
		if err := fillRepos(m, benchRepos); err != nil {
			b.Fatal(err)
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
	s := newSiteOn(b, storetest.OpenWith(b, db))
	if db == "" {
		if err := fillRepos(s.meta, benchRepos); err != nil {
			b.Fatal(err)
		}
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
	benchSDKs      = []string{"gradio", "streamlit", "docker", "static"}
)

// fillRepos adds n repositories with a deterministic spread of tags: 80%
// models, 15% datasets and 5% Spaces, 5% of them private, and a "series:"
// tag that 50 repositories share, for rare filters.
func fillRepos(m *meta.Store, n int) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-365 * 24 * time.Hour)
	for i := range n {
		pipe := benchPipelines[rng.IntN(len(benchPipelines))]
		lib := benchLibraries[rng.IntN(len(benchLibraries))]
		r := &haven.Repo{
			Type:      haven.Model,
			Namespace: fmt.Sprintf("org%03d", i%1000),
			Name:      fmt.Sprintf("%s-model-%d", benchWords[rng.IntN(len(benchWords))], i),
			Private:   rng.IntN(20) == 0,
			CreatedAt: base.Add(time.Duration(i) * time.Minute),
			UpdatedAt: base.Add(time.Duration(rng.IntN(n)) * time.Minute),
		}
		license, language := "license:"+benchLicenses[rng.IntN(len(benchLicenses))], "language:"+benchLanguages[rng.IntN(len(benchLanguages))]
		series := fmt.Sprintf("series:%d", i%(n/50))
		switch i % 20 {
		default:
			r.Tags = []string{lib, pipe, license, language, series}
			r.PipelineTag, r.LibraryName = pipe, lib
		case 16, 17, 18:
			r.Type = haven.Dataset
			r.Tags = []string{"task_categories:" + pipe, license, language, series}
		case 19:
			r.Type = haven.Space
			r.SDK = benchSDKs[rng.IntN(len(benchSDKs))]
			r.Tags = []string{r.SDK, license, series}
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

// apiListingCases are the listing and search calls of the Hub API, with the
// filters and sorts the official clients send: one common tag (a tenth to a
// fifth of the repositories), several of them at once, a rare tag (50
// repositories), an author, a common search term (a tenth of the names), a
// rare one and one that matches nothing, and the listing's page sizes and
// expansions. "api-repo-info" (answered from the read cache) is the
// baseline: the cost of a request that does no listing.
var apiListingCases = []struct{ name, path string }{
	{"api-repo-info", "/api/models/alice/card"},
	{"api-models-default-page", "/api/models"},
	// The same page right after a repository changed (its download count),
	// which a cached page no longer answers: read and encoded afresh.
	{"api-models-default-page-after-change", "/api/models"},
	{"api-models-limit", "/api/models?limit=30"},
	{"api-models-sort-downloads", "/api/models?sort=downloads&direction=-1&limit=30"},
	{"api-models-sort-likes", "/api/models?sort=likes&direction=-1&limit=30"},
	{"api-models-sort-modified", "/api/models?sort=lastModified&direction=-1&limit=30"},
	{"api-models-sort-created", "/api/models?sort=createdAt&direction=-1&limit=30"},
	{"api-models-sort-trending", "/api/models?sort=trendingScore&limit=30"},
	{"api-models-tag", "/api/models?filter=text-generation&limit=30"},
	{"api-models-tag-downloads", "/api/models?filter=text-generation&sort=downloads&direction=-1&limit=30"},
	{"api-models-3-tags", "/api/models?filter=fill-mask&filter=license:mit&filter=language:fr&limit=30"},
	{"api-models-3-tags-likes", "/api/models?filter=fill-mask,license:mit,language:fr&sort=likes&direction=-1&limit=30"},
	{"api-models-4-params", "/api/models?pipeline_tag=fill-mask&library=timm&license=mit&language=fr&sort=downloads&limit=30"},
	{"api-models-rare-tag", "/api/models?filter=series:7&sort=downloads&limit=30"},
	{"api-models-rare-and-common", "/api/models?filter=series:7&filter=license:mit&limit=30"},
	{"api-models-author", "/api/models?author=org042&limit=30"},
	{"api-models-author-tag", "/api/models?author=org042&filter=fill-mask&sort=downloads&limit=30"},
	{"api-models-search-common", "/api/models?search=bert&limit=30"},
	{"api-models-search-downloads", "/api/models?search=bert&sort=downloads&direction=-1&limit=30"},
	{"api-models-search-tag", "/api/models?search=bert&filter=fill-mask&sort=likes&limit=30"},
	{"api-models-search-author", "/api/models?search=bert&author=org042&limit=30"},
	{"api-models-search-miss", "/api/models?search=no-such-model&limit=30"},
	{"api-models-full", "/api/models?full=true&limit=30"},
	{"api-models-expand", "/api/models?expand[]=downloads&expand[]=likes&expand[]=pipeline_tag&expand[]=tags&limit=30"},
	{"api-models-carddata-tag", "/api/models?filter=transformers&cardData=true&limit=30"},
	{"api-models-deep-cursor", "/api/models?sort=downloads&limit=30&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("3000"))},
	{"api-datasets", "/api/datasets?limit=30"},
	{"api-datasets-tag", "/api/datasets?filter=task_categories:fill-mask&sort=downloads&limit=30"},
	{"api-datasets-search", "/api/datasets?search=bert&limit=30"},
	{"api-spaces", "/api/spaces?sort=likes&limit=30"},
	{"api-spaces-sdk", "/api/spaces?filter=gradio&limit=30"},
	{"api-quicksearch-model", "/api/quicksearch?q=bert&type=model&limit=10"},
	{"api-quicksearch-short", "/api/quicksearch?q=ph&limit=5"},
	{"api-quicksearch-miss", "/api/quicksearch?q=no-such-model&limit=5"},
}

// BenchmarkWeb measures the server time of pages and discovery calls with
// benchRepos repositories: handlers are called directly, without a
// network, and each reports its median (p50-ms), 90th and 99th percentile.
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
	cases = append(cases, apiListingCases...)
	handler := s.handler
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// One request first: caches (tag counts, rendered card) fill
			// as they would on a running server.
			serveOnce(b, handler, c.path)
			change := func() {}
			if strings.HasSuffix(c.name, "-after-change") {
				repo, err := s.meta.RepoByName(context.Background(), haven.Model, "alice", "card")
				if err != nil {
					b.Fatal(err)
				}
				change = func() {
					b.StopTimer()
					if err := s.meta.AddDownloads(context.Background(), repo.ID, time.Now(), 1); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
			times := make([]time.Duration, 0, b.N)
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				change()
				cpuStart, start := processCPU(b), time.Now()
				serveOnce(b, handler, c.path)
				times = append(times, time.Since(start))
				cpu += processCPU(b) - cpuStart
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			ms := func(q float64) float64 {
				return float64(times[int(q*float64(len(times)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.9), "p90-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			// The process's CPU time (the garbage collector's included)
			// per request: unlike the times above, it hardly depends on
			// how busy the machine is.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms")
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

// processCPU returns the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
