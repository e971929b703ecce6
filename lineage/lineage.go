// Package lineage reads the model tree and the links between repositories
// from cards: a model's base models and how it derives from them (adapter,
// fine-tune, quantization, merge), the datasets a model was trained on, and
// the models and datasets a Space uses. It turns them into the Hub's tags
// ("base_model:ns/name", "base_model:adapter:ns/name") and into edges that
// meta stores so that pages count descendants with one indexed query.
package lineage

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/havenhub/haven"
)

// Relations of a model to its base models, as the Hub names them in cards
// (base_model_relation) and tags (base_model:{relation}:{id}).
const (
	Adapter   = "adapter"
	Finetune  = "finetune"
	Quantized = "quantized"
	Merge     = "merge"
)

// Relations lists the model relations in the order pages show them.
var Relations = []string{Adapter, Finetune, Quantized, Merge}

// Relations of other links: a model trained on a dataset, a Space using a
// model or a dataset. They share the edge table with the model relations.
const (
	TrainedOn    = "dataset"
	SpaceModel   = "space_model"
	SpaceDataset = "space_dataset"
)

// MaxLinks caps the base models (and datasets, and a Space's models) read
// from one card: a card naming thousands gets the first MaxLinks and a
// warning.
const MaxLinks = 32

// ValidRelation reports whether r is one of the model relations.
func ValidRelation(r string) bool {
	for _, v := range Relations {
		if v == r {
			return true
		}
	}
	return false
}

// Links is what one card says about where a repository comes from and what
// it uses.
type Links struct {
	// Relation is how the model derives from Bases; "" when it has none.
	Relation string
	Bases    []string // base models, "ns/name" as the card writes them
	Datasets []string // datasets a model was trained on or a Space uses
	Models   []string // models a Space uses
	// Warnings explain what was ignored: self-references, invalid names,
	// an unknown relation, lists cut at MaxLinks.
	Warnings []string
	space    bool // read from a Space's card
}

// Edge is one stored link: the repository it belongs to points at Target
// (lower-cased "ns/name") with Relation.
type Edge struct {
	Target   string
	Relation string
}

// Repo describes the repository whose card is read: its type, its id and
// the files and config.json of its default branch (for inferring the
// relation).
type Repo struct {
	Type   haven.RepoType
	ID     string   // "ns/name"
	Files  []string // paths of the default branch
	Config []byte   // config.json, nil when absent
}

// Read reads the links of a card's data for repo.
func Read(repo Repo, data map[string]any) Links {
	var l Links
	self := strings.ToLower(repo.ID)
	switch repo.Type {
	case haven.Model:
		l.Bases = l.names("base model", data["base_model"], self)
		l.Datasets = l.names("dataset", data["datasets"], "")
		if len(l.Bases) > 0 {
			l.Relation = l.relation(data["base_model_relation"], repo, len(l.Bases))
		}
	case haven.Space:
		l.space = true
		l.Models = l.names("model", data["models"], "")
		l.Datasets = l.names("dataset", data["datasets"], "")
	}
	return l
}

// BaseModels reads only the base models of card data, capped and checked
// as Read does, for the plain "base_model:" tags of any repository type.
func BaseModels(data map[string]any) []string {
	var l Links
	return l.names("base model", data["base_model"], "")
}

// Tags returns the Hub's tags for the base models: "base_model:{id}" and
// "base_model:{relation}:{id}" for each.
func (l Links) Tags() []string {
	var tags []string
	for _, b := range l.Bases {
		tags = append(tags, "base_model:"+b)
	}
	if l.Relation != "" {
		for _, b := range l.Bases {
			tags = append(tags, "base_model:"+l.Relation+":"+b)
		}
	}
	return tags
}

// Edges returns the links to store, targets lower-cased, without
// duplicates.
func (l Links) Edges() []Edge {
	var out []Edge
	seen := map[Edge]bool{}
	add := func(rel string, names []string) {
		for _, n := range names {
			e := Edge{Target: strings.ToLower(n), Relation: rel}
			if rel != "" && !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	add(l.Relation, l.Bases)
	if l.space {
		add(SpaceModel, l.Models)
		add(SpaceDataset, l.Datasets)
	} else {
		add(TrainedOn, l.Datasets)
	}
	return out
}

// names reads a card field that names repositories: one string or a list
// of strings. Other values, invalid ids, self-references and duplicates are
// dropped with a warning; at most MaxLinks are kept.
func (l *Links) names(what string, v any, self string) []string {
	var raw []any
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		raw = v
	default:
		raw = []any{v}
	}
	out := []string{}
	seen := map[string]bool{}
	skipped := 0
	for _, e := range raw {
		s, ok := e.(string)
		if !ok {
			skipped++
			continue
		}
		s = strings.TrimSpace(s)
		if !ValidID(s) {
			if len(s) > 100 {
				s = s[:100] + "…"
			}
			l.warn("Invalid %s id %q ignored", what, s)
			continue
		}
		key := strings.ToLower(s)
		if self != "" && key == self {
			l.warn("The card names this model as its own base model; ignored")
			continue
		}
		if seen[key] {
			continue
		}
		if len(out) == MaxLinks {
			l.warn("Only the first %d %ss are used", MaxLinks, what)
			break
		}
		seen[key] = true
		out = append(out, s)
	}
	if skipped > 0 {
		l.warn("%d %s entries that are not names were ignored", skipped, what)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (l *Links) warn(format string, args ...any) {
	if len(l.Warnings) < 2*MaxLinks {
		l.Warnings = append(l.Warnings, fmt.Sprintf(format, args...))
	}
}

// relation is the card's base_model_relation when valid, else inferred.
func (l *Links) relation(v any, repo Repo, bases int) string {
	if v != nil {
		s, _ := v.(string)
		s = strings.ToLower(strings.TrimSpace(s))
		if ValidRelation(s) {
			return s
		}
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		l.warn("Unknown base_model_relation %q: expected adapter, finetune, quantized or merge; inferred instead", s)
	}
	return Infer(repo.Files, repo.Config, bases)
}

// Infer guesses how a model derives from its bases when the card does not
// say: an adapter_config.json makes an adapter, GGUF files or a
// quantization_config in config.json a quantization, several bases a merge,
// anything else a fine-tune.
func Infer(files []string, config []byte, bases int) string {
	for _, f := range files {
		if path.Base(f) == "adapter_config.json" {
			return Adapter
		}
	}
	for _, f := range files {
		if strings.HasSuffix(strings.ToLower(f), ".gguf") {
			return Quantized
		}
	}
	if len(config) > 0 {
		var c map[string]json.RawMessage
		if json.Unmarshal(config, &c) == nil {
			if q, ok := c["quantization_config"]; ok && string(q) != "null" {
				return Quantized
			}
		}
	}
	if bases > 1 {
		return Merge
	}
	return Finetune
}

// ValidID reports whether s can name a repository: "ns/name", or a bare
// name (the Hub's legacy ids such as "gpt2").
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 200 {
		return false
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		return haven.ValidName(s)
	}
	return haven.ValidName(ns) && haven.ValidName(name)
}

// MaxDepth bounds how many levels of base models a page follows up.
const MaxDepth = 8

// Parent is a model as the tree above another model sees it: its canonical
// id and its own base models.
type Parent struct {
	ID       string
	Relation string
	Bases    []string
}

// Lookup finds models by lower-cased id among those the viewer may see;
// the ones it leaves out are unknown or private.
type Lookup func(ids []string) (map[string]Parent, error)

// Node is one base model in the tree; Relation is how the model below it
// derives from it.
type Node struct {
	ID       string
	Relation string
}

// Ancestors walks up from the model self, level by level: the first level
// holds its base models, the next their bases, up to MaxDepth levels and
// MaxLinks models a level. Bases that are unknown or hidden from the viewer
// and a chain that leads back to self end in a warning, never an error; a
// model reached twice is shown once.
func Ancestors(self string, find Lookup) (levels [][]Node, warnings []string, err error) {
	type pending struct{ id, relation string }
	key := strings.ToLower(self)
	found, err := find([]string{key})
	if err != nil {
		return nil, nil, err
	}
	me, ok := found[key]
	if !ok {
		return nil, nil, nil
	}
	visited := map[string]bool{key: true}
	var frontier []pending
	for _, b := range me.Bases {
		frontier = append(frontier, pending{b, me.Relation})
	}
	for depth := 1; depth <= MaxDepth && len(frontier) > 0; depth++ {
		var ids []string
		for _, p := range frontier {
			ids = append(ids, strings.ToLower(p.id))
		}
		if found, err = find(ids); err != nil {
			return nil, nil, err
		}
		var level []Node
		var next []pending
		for _, p := range frontier {
			k := strings.ToLower(p.id)
			if k == key {
				warnings = append(warnings, fmt.Sprintf("The base models of %s lead back to it (a cycle); the loop is ignored", self))
				continue
			}
			if visited[k] {
				continue
			}
			visited[k] = true
			parent, ok := found[k]
			if !ok {
				warnings = append(warnings, fmt.Sprintf("Base model %s is unknown or private", p.id))
				continue
			}
			if len(level) == MaxLinks {
				warnings = append(warnings, fmt.Sprintf("Only %d base models are shown per level", MaxLinks))
				break
			}
			level = append(level, Node{ID: parent.ID, Relation: p.relation})
			for _, b := range parent.Bases {
				next = append(next, pending{b, parent.Relation})
			}
		}
		if len(level) > 0 {
			levels = append(levels, level)
		}
		frontier = next
		if depth == MaxDepth && len(frontier) > 0 {
			warnings = append(warnings, fmt.Sprintf("Only %d levels of base models are shown", MaxDepth))
		}
	}
	return levels, warnings, nil
}
