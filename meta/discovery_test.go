package meta_test

import (
	"reflect"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestDiscoverySQLite(t *testing.T) { testDiscovery(t, openSQLite(t)) }

func TestDiscoveryPostgres(t *testing.T) { testDiscovery(t, postgresOpener(t)(t)) }

func testDiscovery(t *testing.T, s *meta.Store) {
	for _, n := range []string{"alice", "malice", "bob"} {
		mustUser(t, s, n, false)
	}
	mustUser(t, s, "alicorp", true)
	mustUser(t, s, "under_score", false)
	mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "a", LibraryName: "pytorch", PipelineTag: "fill-mask",
		Tags: []string{"pytorch", "fill-mask", "language:en", "license:mit"}})
	mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "b", Tags: []string{"pytorch"}})
	mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "secret", Private: true, Tags: []string{"pytorch", "secret-tag"}})
	mustRepo(t, s, &haven.Repo{Type: haven.Dataset, Namespace: "alice", Name: "d", Tags: []string{"language:en"}})

	counts, err := s.TagCounts(ctx, haven.Model)
	mustNil(t, err)
	want := []meta.TagCount{
		{Tag: "pytorch", Kind: meta.TagLibrary, Count: 2},
		{Tag: "fill-mask", Kind: meta.TagPipeline, Count: 1},
		{Tag: "language:en", Kind: meta.TagLanguage, Count: 1},
		{Tag: "license:mit", Kind: meta.TagLicense, Count: 1},
	}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("TagCounts(model) = %v, want %v", counts, want)
	}

	tests := []struct {
		q    string
		orgs bool
		want []string
	}{
		{"ali", false, []string{"alice", "malice"}}, // prefix matches first
		{"ALI", false, []string{"alice", "malice"}},
		{"ali", true, []string{"alicorp"}},
		{"_", false, []string{"under_score"}}, // '_' is literal, not a wildcard
		{"zzz", false, nil},
	}
	for _, tc := range tests {
		users, err := s.SearchUsers(ctx, tc.q, tc.orgs, 10)
		mustNil(t, err)
		var got []string
		for _, u := range users {
			got = append(got, u.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SearchUsers(%q, orgs=%v) = %v, want %v", tc.q, tc.orgs, got, tc.want)
		}
	}

	for _, tc := range []struct{ limit, want int }{{1, 1}, {2, 2}, {10, 3}} {
		n, err := s.CountReposUpTo(ctx, meta.RepoFilter{Type: haven.Model, VisibleTo: []string{"alice"}}, tc.limit)
		mustNil(t, err)
		if n != tc.want {
			t.Errorf("CountReposUpTo(limit %d) = %d, want %d", tc.limit, n, tc.want)
		}
	}
}
