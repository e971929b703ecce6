package meta_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lineage"
	"github.com/havenhub/haven/meta"
)

func TestLineageSQLite(t *testing.T) { testLineage(t, openSQLite(t)) }

func TestLineagePostgres(t *testing.T) { testLineage(t, postgresOpener(t)(t)) }

func testLineage(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	mustUser(t, s, "bob", false)
	base := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "Base"})
	tuned := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "tuned"})
	lora := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "bob", Name: "lora"})
	secret := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "bob", Name: "secret", Private: true})
	app := mustRepo(t, s, &haven.Repo{Type: haven.Space, Namespace: "bob", Name: "app"})
	mustNil(t, s.SetRepoLinks(ctx, tuned.ID, []lineage.Edge{{Target: "Alice/base", Relation: lineage.Finetune}, {Target: "alice/reviews", Relation: lineage.TrainedOn}}))
	mustNil(t, s.SetRepoLinks(ctx, lora.ID, []lineage.Edge{{Target: "alice/tuned", Relation: lineage.Adapter}}))
	mustNil(t, s.SetRepoLinks(ctx, secret.ID, []lineage.Edge{{Target: "alice/base", Relation: lineage.Finetune}, {Target: "alice/base", Relation: lineage.Finetune}}))
	mustNil(t, s.SetRepoLinks(ctx, app.ID, []lineage.Edge{{Target: "alice/base", Relation: lineage.SpaceModel}, {Target: "alice/reviews", Relation: lineage.SpaceDataset}}))
	// A self-link to be sure nothing loops on it.
	mustNil(t, s.SetRepoLinks(ctx, base.ID, []lineage.Edge{{Target: "alice/base", Relation: lineage.Merge}}))
	mustNil(t, s.SetRepoLinks(ctx, base.ID, nil))

	anon, bob := meta.RepoFilter{}, meta.RepoFilter{VisibleTo: []string{"Bob"}}
	counts, err := s.LinkCounts(ctx, "ALICE/base", lineage.Relations, anon)
	mustNil(t, err)
	if want := map[string]int{lineage.Finetune: 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("anonymous counts = %v, want %v", counts, want)
	}
	counts, err = s.LinkCounts(ctx, "alice/base", lineage.Relations, bob)
	mustNil(t, err)
	if want := map[string]int{lineage.Finetune: 2}; !reflect.DeepEqual(counts, want) {
		t.Errorf("bob's counts = %v, want %v", counts, want)
	}
	counts, err = s.LinkCounts(ctx, "alice/base", lineage.Relations, meta.RepoFilter{SeeAll: true})
	mustNil(t, err)
	if counts[lineage.Finetune] != 2 {
		t.Errorf("admin counts = %v", counts)
	}

	names := func(repos []*haven.Repo, err error) []string {
		t.Helper()
		mustNil(t, err)
		var out []string
		for _, r := range repos {
			out = append(out, r.FullName())
		}
		return out
	}
	if got := names(s.LinkedRepos(ctx, "alice/base", lineage.Finetune, anon, 10)); !reflect.DeepEqual(got, []string{"alice/tuned"}) {
		t.Errorf("anonymous fine-tunes = %v", got)
	}
	if got := names(s.LinkedRepos(ctx, "alice/base", lineage.Finetune, bob, 10)); len(got) != 2 {
		t.Errorf("bob's fine-tunes = %v", got)
	}
	if got := names(s.LinkedRepos(ctx, "alice/reviews", lineage.TrainedOn, anon, 10)); !reflect.DeepEqual(got, []string{"alice/tuned"}) {
		t.Errorf("trained on = %v", got)
	}
	if got := names(s.LinkedRepos(ctx, "alice/reviews", lineage.SpaceDataset, anon, 10)); !reflect.DeepEqual(got, []string{"bob/app"}) {
		t.Errorf("spaces = %v", got)
	}

	parents, err := s.LineageParents(ctx, []string{"alice/base", "bob/lora", "alice/tuned", "bob/secret", "nobody/x", "bad"}, anon)
	mustNil(t, err)
	want := map[string]lineage.Parent{
		"alice/base":  {ID: "alice/Base"},
		"bob/lora":    {ID: "bob/lora", Relation: lineage.Adapter, Bases: []string{"alice/tuned"}},
		"alice/tuned": {ID: "alice/tuned", Relation: lineage.Finetune, Bases: []string{"alice/base"}},
	}
	if !reflect.DeepEqual(parents, want) {
		t.Errorf("LineageParents = %v, want %v", parents, want)
	}
	parents, err = s.LineageParents(ctx, []string{"bob/secret"}, bob)
	mustNil(t, err)
	if len(parents) != 1 {
		t.Errorf("bob sees %v", parents)
	}

	// childrenModelCount: public models derived from it, whoever asks.
	if n, err := s.ChildrenModelCount(ctx, "ALICE/Base"); err != nil || n != 1 {
		t.Errorf("ChildrenModelCount = %d, %v; want 1 (the private fine-tune is left out)", n, err)
	}
	if n, err := s.ChildrenModelCount(ctx, "alice/tuned"); err != nil || n != 1 {
		t.Errorf("ChildrenModelCount(tuned) = %d, %v", n, err)
	}

	// The links follow a change of visibility.
	mustNil(t, s.UpdateRepoSettings(ctx, tuned.ID, meta.RepoSettings{Private: true, Gated: ""}))
	if counts, err := s.LinkCounts(ctx, "alice/base", lineage.Relations, anon); err != nil || len(counts) != 0 {
		t.Errorf("anonymous counts of a private fine-tune = %v, %v", counts, err)
	}
	if counts, err := s.LinkCounts(ctx, "alice/base", lineage.Relations, meta.RepoFilter{VisibleTo: []string{"alice", "bob"}}); err != nil || counts[lineage.Finetune] != 2 {
		t.Errorf("counts for alice and bob = %v, %v", counts, err)
	}
	if n, _ := s.ChildrenModelCount(ctx, "alice/base"); n != 0 {
		t.Errorf("ChildrenModelCount of private children = %d", n)
	}
	mustNil(t, s.UpdateRepoSettings(ctx, tuned.ID, meta.RepoSettings{Private: false, Gated: ""}))

	// base_model: tag filters read the links, in any letter case.
	for _, tc := range []struct {
		tags []string
		vis  meta.RepoFilter
		want []string
	}{
		{[]string{"base_model:finetune:ALICE/BASE"}, anon, []string{"alice/tuned"}},
		{[]string{"base_model:alice/Base"}, bob, []string{"bob/secret", "alice/tuned"}},
		{[]string{"base_model:adapter:alice/base"}, anon, nil},
		{[]string{"base_model:adapter:Alice/Tuned", "base_model:alice/tuned"}, anon, []string{"bob/lora"}},
		{[]string{"base_model:nonsense:alice/base"}, anon, nil}, // not a relation: an ordinary tag
	} {
		f := tc.vis
		f.Type, f.Tags, f.Sort = haven.Model, tc.tags, "createdAt"
		got := names(s.ListRepos(ctx, f))
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("filter %q = %q, want %q", tc.tags, got, tc.want)
		}
		if n, err := s.CountRepos(ctx, f); err != nil || n != len(tc.want) {
			t.Errorf("count of filter %q = %d, %v", tc.tags, n, err)
		}
	}

	edges, err := s.RepoLinks(ctx, tuned.ID)
	mustNil(t, err)
	if want := []lineage.Edge{{Target: "alice/reviews", Relation: lineage.TrainedOn}, {Target: "alice/base", Relation: lineage.Finetune}}; !reflect.DeepEqual(edges, want) {
		t.Errorf("RepoLinks = %v, want %v", edges, want)
	}
	// Deleting a repository drops its links.
	mustNil(t, s.DeleteRepo(ctx, tuned.ID))
	counts, err = s.LinkCounts(ctx, "alice/base", lineage.Relations, anon)
	mustNil(t, err)
	if len(counts) != 0 {
		t.Errorf("after delete: %v", counts)
	}
}

const treeDescendants = 10_000

var (
	treeBenchOnce  sync.Once
	treeBenchStore *meta.Store
	treeBenchErr   error
)

// treeBenchmarkStore returns a SQLite store with a model, org/base, that
// has treeDescendants models derived from it (adapters, fine-tunes,
// quantizations and merges, one in seven private, in 500 namespaces), a
// chain of eight bases above it, twenty Spaces using it and 5,000 models
// unrelated to it.
func treeBenchmarkStore(b *testing.B) *meta.Store {
	treeBenchOnce.Do(func() {
		start := time.Now()
		dir := b.TempDir()
		s, err := meta.Open(ctx, filepath.Join(dir, "haven.db"))
		if err != nil {
			treeBenchErr = err
			return
		}
		treeBenchStore = s
		create := func(r *haven.Repo, edges ...lineage.Edge) error {
			if err := s.CreateRepo(ctx, r); err != nil {
				return err
			}
			if len(edges) == 0 {
				return nil
			}
			return s.SetRepoLinks(ctx, r.ID, edges)
		}
		for i := 8; i >= 0; i-- {
			name := "base"
			if i > 0 {
				name = fmt.Sprintf("base-%d", i)
			}
			var edges []lineage.Edge
			if i < 8 {
				edges = []lineage.Edge{{Target: fmt.Sprintf("org/base-%d", i+1), Relation: lineage.Finetune}}
			}
			if treeBenchErr = create(&haven.Repo{Type: haven.Model, Namespace: "org", Name: name}, edges...); treeBenchErr != nil {
				return
			}
		}
		relations := []string{lineage.Adapter, lineage.Adapter, lineage.Adapter, lineage.Adapter, lineage.Finetune,
			lineage.Finetune, lineage.Finetune, lineage.Quantized, lineage.Quantized, lineage.Merge}
		for i := range treeDescendants {
			r := &haven.Repo{Type: haven.Model, Namespace: fmt.Sprintf("ns%d", i%500), Name: fmt.Sprintf("child-%d", i), Private: i%7 == 0}
			if treeBenchErr = create(r, lineage.Edge{Target: "org/base", Relation: relations[i%len(relations)]}); treeBenchErr != nil {
				return
			}
		}
		for i := range 5000 {
			r := &haven.Repo{Type: haven.Model, Namespace: fmt.Sprintf("ns%d", i%500), Name: fmt.Sprintf("other-%d", i)}
			if treeBenchErr = create(r, lineage.Edge{Target: fmt.Sprintf("org/other-base-%d", i%50), Relation: lineage.Finetune}); treeBenchErr != nil {
				return
			}
		}
		for i := range 20 {
			r := &haven.Repo{Type: haven.Space, Namespace: fmt.Sprintf("ns%d", i), Name: fmt.Sprintf("demo-%d", i)}
			if treeBenchErr = create(r, lineage.Edge{Target: "org/base", Relation: lineage.SpaceModel}); treeBenchErr != nil {
				return
			}
		}
		b.Logf("model tree of %d descendants created in %v", treeDescendants, time.Since(start).Round(time.Millisecond))
		s.Close()
		treeBenchStore, treeBenchErr = meta.Open(ctx, filepath.Join(dir, "haven.db"))
	})
	if treeBenchErr != nil {
		b.Fatal(treeBenchErr)
	}
	return treeBenchStore
}

// BenchmarkModelTree runs the queries of a model page whose model has
// 10,000 descendants: the counts per relation below it, the bases above
// it, the Spaces using it, and the Hub's childrenModelCount.
func BenchmarkModelTree(b *testing.B) {
	s := treeBenchmarkStore(b)
	for _, c := range []struct {
		name string
		vis  meta.RepoFilter
	}{
		{"counts", meta.RepoFilter{}},
		{"counts/visible to two", meta.RepoFilter{VisibleTo: []string{"ns7", "ns8"}}},
		{"counts/admin", meta.RepoFilter{SeeAll: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for q := newQuantiles(b); q.loop(); {
				counts, err := s.LinkCounts(ctx, "org/base", lineage.Relations, c.vis)
				if err != nil || counts[lineage.Adapter] == 0 {
					b.Fatal(counts, err)
				}
			}
		})
	}
	b.Run("children count", func(b *testing.B) {
		for q := newQuantiles(b); q.loop(); {
			if n, err := s.ChildrenModelCount(ctx, "org/base"); err != nil || n == 0 {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("bases", func(b *testing.B) {
		for q := newQuantiles(b); q.loop(); {
			levels, _, err := lineage.Ancestors("org/base", func(ids []string) (map[string]lineage.Parent, error) {
				return s.LineageParents(ctx, ids, meta.RepoFilter{})
			})
			if err != nil || len(levels) != 8 {
				b.Fatal(len(levels), err)
			}
		}
	})
	b.Run("spaces", func(b *testing.B) {
		for q := newQuantiles(b); q.loop(); {
			if repos, err := s.LinkedRepos(ctx, "org/base", lineage.SpaceModel, meta.RepoFilter{}, 10); err != nil || len(repos) != 10 {
				b.Fatal(len(repos), err)
			}
		}
	})
}
