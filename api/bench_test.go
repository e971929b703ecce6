package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/internal/storetest"
)

// BenchmarkRepoInfoTokens measures GET /api/models/{id} of a private
// repository with a classic write token and with a fine-grained token whose
// scopes name ten other repositories before this one, in the same run:
// the difference is what checking scopes costs (bench/tokens.sh compares).
func BenchmarkRepoInfoTokens(b *testing.B) {
	ctx := context.Background()
	st, srv := benchServer(b)
	u := &haven.User{Name: "alice"}
	if err := st.Meta.CreateUser(ctx, u, ""); err != nil {
		b.Fatal(err)
	}
	token := func(t *haven.Token) string {
		plain, hash := auth.NewToken()
		t.UserID, t.DisplayName = u.ID, "bench"
		if err := st.Meta.CreateToken(ctx, t, hash); err != nil {
			b.Fatal(err)
		}
		return plain
	}
	write := token(&haven.Token{Role: haven.RoleWrite})
	fg := &haven.FineGrained{Global: []string{haven.PermDiscussionWrite}}
	for i := range 10 {
		fg.Scoped = append(fg.Scoped, haven.TokenScope{Entity: haven.TokenEntity{Type: "model", Name: fmt.Sprintf("alice/other-%d", i)}, Permissions: []string{haven.PermRepoWrite}})
	}
	fg.Scoped = append(fg.Scoped, haven.TokenScope{Entity: haven.TokenEntity{Type: "model", Name: "alice/bench"}, Permissions: []string{haven.PermRepoContentRead}})
	fine := token(&haven.Token{Role: haven.RoleFineGrained, FineGrained: fg})

	create := httptest.NewRequest("POST", "/api/repos/create", stringsReader(`{"name":"bench","private":true}`))
	create.Header.Set("Authorization", "Bearer "+write)
	create.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, create)
	if rec.Code != http.StatusOK {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for _, tt := range []struct{ name, token string }{{"write", write}, {"fineGrained", fine}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "/api/models/alice/bench", nil)
					req.Header.Set("Authorization", "Bearer "+tt.token)
					rec := httptest.NewRecorder()
					srv.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("repo info: %d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// BenchmarkListModelsPage measures GET /api/models without a limit (the
// default page of 1000 models) over 2000 models with the tags of
// bench/web.sh's repositories, anonymous: "after-change" right after a
// repository changed (its download count), so that the page is read and
// encoded afresh, and "cached" answered again from the listing cache. The
// CPU time per request (cpu-ms/op) leaves the changes out.
func BenchmarkListModelsPage(b *testing.B) {
	ctx := context.Background()
	st, srv := benchServer(b)
	base := time.Now().Add(-365 * 24 * time.Hour)
	pipes := []string{"text-classification", "fill-mask", "text-generation", "translation", "summarization"}
	libs := []string{"transformers", "diffusers", "timm", "sentence-transformers", "peft"}
	var last *haven.Repo
	for i := range 2000 {
		r := &haven.Repo{
			Type:        haven.Model,
			Namespace:   fmt.Sprintf("org%03d", i%100),
			Name:        fmt.Sprintf("bert-model-%d", i),
			Private:     i%20 == 0,
			CreatedAt:   base.Add(time.Duration(i) * time.Minute),
			UpdatedAt:   base.Add(time.Duration(i*7919%2000) * time.Minute),
			PipelineTag: pipes[i%len(pipes)],
			LibraryName: libs[i/5%len(libs)],
		}
		r.Tags = []string{r.LibraryName, r.PipelineTag, "license:mit", "language:en", fmt.Sprintf("series:%d", i%40)}
		if err := st.Meta.CreateRepo(ctx, r); err != nil {
			b.Fatal(err)
		}
		last = r
	}
	for _, changed := range []bool{true, false} {
		name := "cached"
		if changed {
			name = "after-change"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu time.Duration
			for range b.N {
				if changed {
					b.StopTimer()
					if err := st.Meta.AddDownloads(ctx, last.ID, time.Now(), 1); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				start := processCPU()
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/models", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("list: %d %s", rec.Code, rec.Body)
				}
				cpu += processCPU() - start
			}
			// CPU time per request, the garbage collector's included: on a
			// shared machine it moves much less than ns/op.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchServer is an API server on a fresh store for the benchmarks.
func benchServer(b *testing.B) (*storetest.Stores, *api.Server) {
	st := storetest.Open(b)
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: "http://hub.test", Secret: []byte("bench-secret-bench-secret-bench-secret")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return st, srv
}
