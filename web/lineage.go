package web

import (
	"context"
	"net/url"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/lineage"
	"github.com/havenhub/haven/meta"
)

// relationLabels names the model relations on the model page, with the
// accessible label of each count. "Fine-tunes" keeps the name the page has
// always used.
var relationLabels = map[string]struct{ Label, Of string }{
	lineage.Adapter:   {"Adapters", "Adapters of this model"},
	lineage.Finetune:  {"Fine-tunes", "Fine-tunes of this model"},
	lineage.Quantized: {"Quantizations", "Quantizations of this model"},
	lineage.Merge:     {"Merges", "Merges with this model"},
}

// linkedListLimit bounds the Spaces and models a page lists by name.
const linkedListLimit = 10

// treeNode is a base model above the page's model.
type treeNode struct {
	ID, URL, Relation string
}

// childCount is one relation below the page's model: how many models the
// visitor may see derive from it that way, and their listing.
type childCount struct {
	Relation, Label, Of, URL string
	N                        int
}

// lineageView is the model tree and the links of a repository page.
type lineageView struct {
	// Levels are the base models, the farthest first; the last level holds
	// the model's own bases.
	Levels   [][]treeNode
	Relation string // how the model derives from its bases
	Children []childCount
	Warnings []string
	// Trained lists the models trained on a dataset; TrainedN counts them
	// and TrainedURL lists them all.
	Trained    []*haven.Repo
	TrainedN   int
	TrainedURL string
	// Spaces lists the Spaces that use the model or dataset.
	Spaces []*haven.Repo
}

// lineage builds the tree of a model page or the links of a dataset page.
// Counts come from the stored links, filtered by what the visitor may see;
// only the chain of base models is walked, a bounded number of levels.
func (h *Handler) lineage(ctx context.Context, a *auth.Actor, repo *haven.Repo, readme []byte) (*lineageView, error) {
	vis := visible(a, meta.RepoFilter{})
	id := repo.FullName()
	lv := &lineageView{}
	switch repo.Type {
	case haven.Model:
		levels, warnings, err := lineage.Ancestors(id, func(ids []string) (map[string]lineage.Parent, error) {
			return h.meta.LineageParents(ctx, ids, vis)
		})
		if err != nil {
			return nil, err
		}
		if c, err := card.Parse(readme); err == nil && c.Data != nil {
			lv.Warnings = lineage.Read(lineage.Repo{Type: repo.Type, ID: id}, c.Data).Warnings
		}
		lv.Warnings = append(lv.Warnings, warnings...)
		for i := len(levels) - 1; i >= 0; i-- {
			var level []treeNode
			for _, n := range levels[i] {
				level = append(level, treeNode{ID: n.ID, URL: "/" + escPath(n.ID), Relation: n.Relation})
			}
			lv.Levels = append(lv.Levels, level)
		}
		if len(levels) > 0 {
			lv.Relation = levels[0][0].Relation
		}
		counts, err := h.meta.LinkCounts(ctx, id, lineage.Relations, vis)
		if err != nil {
			return nil, err
		}
		for _, rel := range lineage.Relations {
			l := relationLabels[rel]
			lv.Children = append(lv.Children, childCount{Relation: rel, Label: l.Label, Of: l.Of, N: counts[rel],
				URL: "/models?filter=" + url.QueryEscape("base_model:"+rel+":"+id)})
		}
		if lv.Spaces, err = h.meta.LinkedRepos(ctx, id, lineage.SpaceModel, vis, linkedListLimit); err != nil {
			return nil, err
		}
	case haven.Dataset:
		counts, err := h.meta.LinkCounts(ctx, id, []string{lineage.TrainedOn}, vis)
		if err != nil {
			return nil, err
		}
		lv.TrainedN = counts[lineage.TrainedOn]
		lv.TrainedURL = "/models?tag=" + url.QueryEscape("dataset:"+id)
		if lv.Trained, err = h.meta.LinkedRepos(ctx, id, lineage.TrainedOn, vis, linkedListLimit); err != nil {
			return nil, err
		}
		if lv.Spaces, err = h.meta.LinkedRepos(ctx, id, lineage.SpaceDataset, vis, linkedListLimit); err != nil {
			return nil, err
		}
	}
	return lv, nil
}

// isRelationTag reports whether v, the value of a "base_model:" tag, is
// "{relation}:{id}".
func isRelationTag(v string) bool {
	rel, _, ok := strings.Cut(v, ":")
	return ok && lineage.ValidRelation(rel)
}
