package api

import (
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lineage"
)

// maxConfigSize bounds the config.json read to infer a model's relation to
// its base models; a bigger one is not read.
const maxConfigSize = 1 << 20

// repoLinks reads what the card of repo at sha says about its base models,
// training datasets or the models and datasets a Space uses. files are the
// paths at sha; they and config.json decide the relation to the base
// models when the card does not name it.
func repoLinks(repo *haven.Repo, g *gitstore.Repo, sha string, data map[string]any, files []string) lineage.Links {
	if data == nil {
		return lineage.Links{}
	}
	r := lineage.Repo{Type: repo.Type, ID: repo.FullName(), Files: files}
	if repo.Type == haven.Model && data["base_model"] != nil {
		if entries, err := g.List(sha, "", false); err == nil {
			for _, e := range entries {
				if e.Path == "config.json" && e.Type == "file" && e.Size <= maxConfigSize {
					r.Config, _ = g.ReadFile(sha, "config.json")
				}
			}
		}
	}
	return lineage.Read(r, data)
}

// baseModelsField is the Hub's "baseModels" of a model: its relation to
// its base models and their ids, read from the tags
// "base_model:{relation}:{id}"; nil when it has none.
func baseModelsField(repo *haven.Repo) map[string]any {
	var (
		relation string
		models   = []map[string]any{}
	)
	for _, tag := range repo.Tags {
		rest, ok := strings.CutPrefix(tag, "base_model:")
		if !ok {
			continue
		}
		for _, rel := range lineage.Relations {
			if id, ok := strings.CutPrefix(rest, rel+":"); ok && (relation == "" || relation == rel) {
				relation = rel
				models = append(models, map[string]any{"id": id})
			}
		}
	}
	if relation == "" {
		return nil
	}
	return map[string]any{"relation": relation, "models": models}
}
