package api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/meta"
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

// TestBriefPageMatchesMaps lists models and datasets through the brief
// path (fewer columns, items written directly, then the listing cache) and
// checks each answer against the encoded maps of the full rows, as every
// listing was answered before.
func TestBriefPageMatchesMaps(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	s, err := New(Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: "http://hub.test", Secret: []byte("test-secret-test-secret-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.UTC)
	for i := range 40 {
		typ := haven.Model
		if i%4 == 3 {
			typ = haven.Dataset
		}
		r := &haven.Repo{Type: typ, Namespace: fmt.Sprintf("ns%d", i%3), Name: fmt.Sprintf("repo-%d", i), Private: i%7 == 0,
			CreatedAt: base.Add(time.Duration(i) * time.Hour), UpdatedAt: base.Add(time.Duration(i*13%40) * time.Minute)}
		if err := st.Meta.CreateRepo(ctx, r); err != nil {
			t.Fatal(err)
		}
		rc := meta.RepoContent{SHA: fmt.Sprintf("%040d", i), Tags: []string{"license:mit", fmt.Sprintf("tag-%d", i%5)}, UsedStorage: int64(i),
			UpdatedAt: r.UpdatedAt}
		switch i % 5 {
		case 0:
			rc.PipelineTag, rc.LibraryName = "fill-mask", "transformers"
			rc.Tags = append(rc.Tags, "fill-mask", "transformers", "base_model:finetune:a/b")
		case 1:
			rc.CardError = "line 2: did not find expected key \"x\""
		case 2:
			rc.CardData = map[string]any{"pretty_name": "A \"pretty\" name é", "license": "mit"}
			rc.Tags = append(rc.Tags, "日本語", "quote\"d")
		case 3:
			rc.Tags = nil
		}
		if err := st.Meta.UpdateRepoContent(ctx, r.ID, rc); err != nil {
			t.Fatal(err)
		}
		if i%6 == 1 {
			if err := st.Meta.UpdateRepoSettings(ctx, r.ID, meta.RepoSettings{Private: r.Private, Gated: "manual"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Meta.AddDownloads(ctx, r.ID, time.Now(), int64(i*i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []haven.RepoType{haven.Model, haven.Dataset} {
		for _, query := range []string{"", "?limit=3", "?sort=downloads&limit=5&cursor=Mw"} {
			path := "/api/" + typ.Plural() + query
			req := httptest.NewRequest("GET", path, nil)
			q := req.URL.Query()
			f := meta.RepoFilter{Type: typ, Sort: q.Get("sort"), Offset: cursorOffset(q.Get("cursor")), Limit: 1000}
			if n, err := strconv.Atoi(q.Get("limit")); err == nil {
				f.Limit = n
			}
			repos, err := st.Meta.ListRepos(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			out := []map[string]any{}
			for _, repo := range repos {
				out = append(out, s.listItem(req, repo, nil, false, false, nil))
			}
			want, err := hubhttp.MarshalJSON(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, pass := range []string{"read", "cached"} {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				if rec.Code != 200 || rec.Body.String() != string(want) {
					t.Errorf("GET %s (%s): %d\n%s\nwant\n%s", path, pass, rec.Code, rec.Body, want)
				}
			}
		}
	}
}

// TestCachedListPageReadsOnce checks that requests for a page that is being
// read wait for that read and get its page, that the page is kept, and
// that after a failed read the next request reads again.
func TestCachedListPageReadsOnce(t *testing.T) {
	s := &Server{}
	ctx := context.Background()
	var reads atomic.Int32
	release := make(chan struct{})
	read := func() (listingEntry, bool, error) {
		reads.Add(1)
		<-release
		return listingEntry{body: []byte("[1]\n"), next: true}, true, nil
	}
	first := make(chan listingEntry)
	go func() {
		page, err := s.cachedListPage(ctx, "k", 7, read)
		if err != nil {
			t.Error(err)
		}
		first <- page
	}()
	// Once the first request is reading, a second one joins its read.
	var fl *listingFlight
	for {
		s.cache.mu.Lock()
		fl = s.cache.reading[listingRead{"k", 7}]
		s.cache.mu.Unlock()
		if fl != nil {
			break
		}
		runtime.Gosched()
	}
	joined, firstRead := s.cache.joinListing("k", 7)
	if firstRead || joined != fl {
		t.Fatal("a second request started a read of its own")
	}
	close(release)
	page := <-first
	<-joined.done
	if joined.err != nil || string(joined.page.body) != "[1]\n" || !joined.page.next || string(page.body) != "[1]\n" {
		t.Errorf("first request got %+v; the one that waited %+v, %v", page, joined.page, joined.err)
	}
	if page, err := s.cachedListPage(ctx, "k", 7, read); err != nil || string(page.body) != "[1]\n" || reads.Load() != 1 {
		t.Errorf("after the read: %+v, %v, %d reads", page, err, reads.Load())
	}
	// Another count is another page.
	if _, err := s.cachedListPage(ctx, "k", 8, read); err != nil || reads.Load() != 2 {
		t.Errorf("another count: %v, %d reads", err, reads.Load())
	}
	// A failed read is not kept.
	failing := func() (listingEntry, bool, error) { reads.Add(1); return listingEntry{}, false, errUnencodable }
	if _, err := s.cachedListPage(ctx, "k", 9, failing); err != errUnencodable {
		t.Errorf("failed read: %v", err)
	}
	if _, err := s.cachedListPage(ctx, "k", 9, read); err != nil || reads.Load() != 4 {
		t.Errorf("after a failed read: %v, %d reads", err, reads.Load())
	}
	// A page that may not be kept is read each time.
	once := func() (listingEntry, bool, error) {
		reads.Add(1)
		return listingEntry{body: []byte("[]\n")}, false, nil
	}
	s.cachedListPage(ctx, "k", 10, once)
	s.cachedListPage(ctx, "k", 10, once)
	if reads.Load() != 6 {
		t.Errorf("a page not to keep: %d reads, want 6", reads.Load())
	}
}

// TestListingKeyCoversFilter checks that every field of meta.RepoFilter
// changes the listing cache's key, so that a field added to the filter
// cannot make two different listings share a cached page.
func TestListingKeyCoversFilter(t *testing.T) {
	yes := true
	base := listingKey(meta.RepoFilter{})
	typ := reflect.TypeOf(meta.RepoFilter{})
	for i := range typ.NumField() {
		field := typ.Field(i)
		var f meta.RepoFilter
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int, reflect.Int64:
			v.SetInt(1)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Slice:
			v.Set(reflect.ValueOf([]string{"x"}))
		case reflect.Pointer:
			v.Set(reflect.ValueOf(&yes))
		default:
			t.Fatalf("RepoFilter.%s: a %s, which this test does not know how to set", field.Name, v.Kind())
		}
		if listingKey(f) == base {
			t.Errorf("RepoFilter.%s does not change the listing key", field.Name)
		}
	}
}
