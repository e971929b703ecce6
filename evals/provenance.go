package evals

import (
	"context"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// Limits of a provenance walk: lineages longer or wider than this are cut
// (Truncated says so).
const (
	maxDepth  = 32
	maxModels = 256
)

// Provenance is where a model comes from: its base models along the whole
// lineage, as the cards' base_model fields say, and the datasets that it
// and each of them name, with their licenses. Repositories the caller may
// not read (private ones of others) and names that lead nowhere are listed
// by name only, with Found false: nothing of their content shows.
type Provenance struct {
	Model      string        `json:"model"`
	License    string        `json:"license,omitempty"`
	Datasets   []string      `json:"datasets"` // the model's own
	BaseModels []ProvModel   `json:"baseModels"`
	AllData    []ProvDataset `json:"allDatasets"`
	Cycle      bool          `json:"cycle"`     // a base model leads back to one already seen
	Truncated  bool          `json:"truncated"` // the lineage was longer than the walk goes
}

// ProvModel is one base model in a lineage.
type ProvModel struct {
	ID       string   `json:"id"`
	Found    bool     `json:"found"`
	Depth    int      `json:"depth"`  // 1: a base model of the model itself
	BaseOf   string   `json:"baseOf"` // the model whose card names it
	Relation string   `json:"relation,omitempty"`
	License  string   `json:"license,omitempty"`
	Datasets []string `json:"datasets"`
}

// ProvDataset is a dataset some model of the lineage was trained on.
type ProvDataset struct {
	ID      string   `json:"id"`
	Found   bool     `json:"found"`
	License string   `json:"license,omitempty"`
	UsedBy  []string `json:"usedBy"`
}

// Provenance traces a model the actor may read. It follows base_model
// breadth-first, each repository once, so a lineage with a cycle ends.
func (s *Service) Provenance(ctx context.Context, a *auth.Actor, repo *haven.Repo) (*Provenance, error) {
	if err := auth.Can(a, auth.Read, repo); err != nil {
		return nil, err
	}
	p := &Provenance{Model: repo.FullName(), License: repoLicense(repo), Datasets: cardList(repo.CardData, "datasets"),
		BaseModels: []ProvModel{}, AllData: []ProvDataset{}}
	if p.Datasets == nil {
		p.Datasets = []string{}
	}
	seen := map[string]bool{strings.ToLower(repo.FullName()): true}
	datasets := map[string]int{} // lower-case id → index in AllData
	addData := func(ids []string, user string) {
		for _, id := range ids {
			k := strings.ToLower(id)
			i, ok := datasets[k]
			if !ok {
				d := ProvDataset{ID: id, UsedBy: []string{}}
				if r, err := s.readable(ctx, a, haven.Dataset, id); err == nil && r != nil {
					d.ID, d.Found, d.License = r.FullName(), true, repoLicense(r)
				}
				i = len(p.AllData)
				datasets[k] = i
				p.AllData = append(p.AllData, d)
			}
			p.AllData[i].UsedBy = append(p.AllData[i].UsedBy, user)
		}
	}
	addData(p.Datasets, p.Model)
	type node struct {
		repo  *haven.Repo
		depth int
	}
	queue := []node{{repo, 0}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		relation := cardString(n.repo.CardData, "base_model_relation")
		for _, id := range cardList(n.repo.CardData, "base_model") {
			k := strings.ToLower(id)
			if seen[k] {
				p.Cycle = p.Cycle || k == strings.ToLower(repo.FullName()) || isAncestor(p.BaseModels, k, n.repo.FullName())
				continue
			}
			if n.depth+1 > maxDepth || len(p.BaseModels) >= maxModels {
				p.Truncated = true
				continue
			}
			seen[k] = true
			m := ProvModel{ID: id, Depth: n.depth + 1, BaseOf: n.repo.FullName(), Relation: relation, Datasets: []string{}}
			r, err := s.readable(ctx, a, haven.Model, id)
			if err != nil {
				return nil, err
			}
			if r != nil {
				m.ID, m.Found, m.License = r.FullName(), true, repoLicense(r)
				if ds := cardList(r.CardData, "datasets"); ds != nil {
					m.Datasets = ds
				}
				addData(m.Datasets, m.ID)
				seen[strings.ToLower(r.FullName())] = true
				queue = append(queue, node{r, n.depth + 1})
			}
			p.BaseModels = append(p.BaseModels, m)
		}
	}
	return p, nil
}

// isAncestor reports whether the model id k is on the chain of base models
// that leads from the traced model to child, which names k again.
func isAncestor(models []ProvModel, k, child string) bool {
	byID := map[string]ProvModel{}
	for _, m := range models {
		byID[strings.ToLower(m.ID)] = m
	}
	for cur, steps := strings.ToLower(child), 0; steps <= len(models); steps++ {
		if cur == k {
			return true
		}
		m, ok := byID[cur]
		if !ok {
			return false
		}
		cur = strings.ToLower(m.BaseOf)
	}
	return false
}

// readable finds a repository by "namespace/name" that the actor may read;
// nil when there is none, or none the actor may see.
func (s *Service) readable(ctx context.Context, a *auth.Actor, t haven.RepoType, id string) (*haven.Repo, error) {
	ns, name, ok := strings.Cut(strings.TrimSpace(id), "/")
	if !ok || !haven.ValidName(ns) || !haven.ValidName(name) {
		return nil, nil
	}
	r, err := s.meta.RepoByName(ctx, t, ns, name)
	if haven.IsCode(err, haven.ERepoNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if auth.Can(a, auth.Read, r) != nil {
		return nil, nil
	}
	return r, nil
}

// cardList reads a card field that is one name or a list of names.
func cardList(data map[string]any, key string) []string {
	var out []string
	switch v := data[key].(type) {
	case string:
		if s := strings.TrimSpace(v); s != "" {
			out = append(out, s)
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && strings.TrimSpace(s) != "" {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	return out
}

func cardString(data map[string]any, key string) string {
	s, _ := data[key].(string)
	return s
}
