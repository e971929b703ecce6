package evals_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/evals"
	"github.com/havenhub/haven/meta"
)

func TestProvenance(t *testing.T) {
	ctx := context.Background()
	st, err := meta.Open(ctx, filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	users := map[string]*haven.User{}
	for _, n := range []string{"alice", "bob"} {
		users[n] = &haven.User{Name: n}
		if err := st.CreateUser(ctx, users[n], ""); err != nil {
			t.Fatal(err)
		}
	}
	add := func(typ haven.RepoType, ns, name string, private bool, license string, data map[string]any) *haven.Repo {
		r := &haven.Repo{Type: typ, Namespace: ns, Name: name, Private: private, CardData: data, Tags: []string{"license:" + license}}
		if err := st.CreateRepo(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// a → b → c → a (a cycle), b → secret (bob's, private), c → missing/model.
	a := add(haven.Model, "alice", "a", false, "mit", map[string]any{"base_model": "alice/b", "datasets": []any{"alice/data"}})
	add(haven.Model, "alice", "b", false, "apache-2.0", map[string]any{"base_model": []any{"alice/c", "bob/secret"}, "base_model_relation": "finetune"})
	add(haven.Model, "alice", "c", false, "llama3", map[string]any{"base_model": []any{"alice/a", "missing/model"}, "datasets": "bob/private-data"})
	secret := add(haven.Model, "bob", "secret", true, "proprietary", map[string]any{"datasets": []any{"bob/secret-data"}})
	add(haven.Dataset, "alice", "data", false, "cc-by-4.0", nil)
	add(haven.Dataset, "bob", "private-data", true, "secret-license", nil)
	add(haven.Dataset, "bob", "secret-data", true, "secret-license", nil)
	// A diamond is not a cycle: d → e, d → f, e → f.
	d := add(haven.Model, "alice", "d", false, "mit", map[string]any{"base_model": []any{"alice/e", "alice/f"}})
	add(haven.Model, "alice", "e", false, "mit", map[string]any{"base_model": "alice/f"})
	add(haven.Model, "alice", "f", false, "mit", nil)

	svc := evals.New(evals.Config{Meta: st})
	anon := &auth.Actor{}
	bob := &auth.Actor{User: users["bob"]}
	ids := func(p *evals.Provenance) (models []string, found []bool, data []string) {
		for _, m := range p.BaseModels {
			models, found = append(models, m.ID), append(found, m.Found)
		}
		for _, ds := range p.AllData {
			data = append(data, ds.ID+"="+ds.License)
		}
		return
	}
	tests := []struct {
		name   string
		actor  *auth.Actor
		repo   *haven.Repo
		models []string
		found  []bool
		data   []string
		cycle  bool
	}{
		{"anonymous: the cycle ends, private repos show only by name", anon, a,
			[]string{"alice/b", "alice/c", "bob/secret", "missing/model"}, []bool{true, true, false, false},
			[]string{"alice/data=cc-by-4.0", "bob/private-data="}, true},
		{"the owner sees its private base model and datasets", bob, a,
			[]string{"alice/b", "alice/c", "bob/secret", "missing/model"}, []bool{true, true, true, false},
			[]string{"alice/data=cc-by-4.0", "bob/private-data=secret-license", "bob/secret-data=secret-license"}, true},
		{"a diamond is not a cycle", anon, d, []string{"alice/e", "alice/f"}, []bool{true, true}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := svc.Provenance(ctx, tc.actor, tc.repo)
			if err != nil {
				t.Fatal(err)
			}
			models, found, data := ids(p)
			if !slices.Equal(models, tc.models) || !slices.Equal(found, tc.found) || !slices.Equal(data, tc.data) || p.Cycle != tc.cycle {
				t.Errorf("models %q %v, datasets %q, cycle %v; want %q %v, %q, %v", models, found, data, p.Cycle, tc.models, tc.found, tc.data, tc.cycle)
			}
			for _, m := range p.BaseModels {
				if !m.Found && (m.License != "" || len(m.Datasets) != 0) {
					t.Errorf("%s is not readable yet shows %+v", m.ID, m)
				}
			}
		})
	}
	if _, err := svc.Provenance(ctx, anon, secret); !haven.IsCode(err, haven.ERepoNotFound) {
		t.Errorf("provenance of a private model for others: %v, want RepoNotFound", err)
	}
}
