package meta_test

import (
	"reflect"
	"testing"

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
