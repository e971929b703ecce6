package meta

import (
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lineage"
)

// baseModelTag reads a listing filter on the model tree, "base_model:{id}"
// or "base_model:{relation}:{id}", as the rows of repo_links that hold the
// same: the target lower-cased and the relations it allows. Filtering on
// the links instead of the tags makes the id match in any letter case, as
// repository names do, with the links' target index.
func baseModelTag(tag string) (target string, relations []string, ok bool) {
	rest, ok := strings.CutPrefix(tag, "base_model:")
	if !ok || rest == "" {
		return "", nil, false
	}
	if rel, id, found := strings.Cut(rest, ":"); found {
		if !lineage.ValidRelation(rel) || id == "" || strings.Contains(id, ":") {
			return "", nil, false
		}
		return strings.ToLower(id), []string{rel}, true
	}
	return strings.ToLower(rest), lineage.Relations, true
}

// tagCond is the condition that a row of table alias t holds tag: a tag of
// repo_tags, or for the model-tree tags of a model listing a link of
// repo_links (see baseModelTag; other repositories may carry the plain
// "base_model:{id}" tag without links). table is the table to read.
func tagCond(typ haven.RepoType, tag, t string) (table, cond string, args []any) {
	if target, rels, ok := baseModelTag(tag); ok && typ == haven.Model {
		args = []any{target}
		for _, r := range rels {
			args = append(args, r)
		}
		return "repo_links", t + ".target = ? AND " + t + ".relation IN (" + placeholders(len(rels)) + ")", args
	}
	return "repo_tags", t + ".tag = ?", []any{tag}
}
