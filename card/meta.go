package card

import (
	"strconv"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lineage"
)

// Meta is what the hub indexes from a card.
type Meta struct {
	Tags        []string
	PipelineTag string
	LibraryName string
	License     string
}

// datasetTagKeys are the dataset card keys whose values become
// "<key>:<value>" tags, in the order they are added.
var datasetTagKeys = []string{
	"task_categories", "task_ids", "annotations_creators", "language_creators",
	"multilinguality", "size_categories", "source_datasets",
}

// Meta derives tags, pipeline tag, library and license from the card data of
// a repository of type t. Tags keep the card's own tags first, then derived
// ones in a fixed order, without duplicates.
func (c *Card) Meta(t haven.RepoType) Meta {
	m := Meta{
		PipelineTag: stringField(c.Data, "pipeline_tag"),
		LibraryName: stringField(c.Data, "library_name"),
	}
	licenses := stringList(c.Data["license"])
	if len(licenses) > 0 {
		m.License = licenses[0]
	}
	var tags []string
	seen := map[string]bool{}
	add := func(tag string) {
		if tag != "" && !seen[tag] {
			seen[tag] = true
			tags = append(tags, tag)
		}
	}
	addPrefixed := func(prefix string, values []string) {
		for _, v := range values {
			if v != "" {
				add(prefix + ":" + v)
			}
		}
	}
	add(m.LibraryName)
	for _, tag := range stringList(c.Data["tags"]) {
		add(tag)
	}
	add(m.PipelineTag)
	if t == haven.Dataset {
		for _, key := range datasetTagKeys {
			addPrefixed(key, stringList(c.Data[key]))
		}
	}
	addPrefixed("language", stringList(c.Data["language"]))
	addPrefixed("dataset", stringList(c.Data["datasets"]))
	addPrefixed("base_model", lineage.BaseModels(c.Data))
	addPrefixed("license", licenses)
	m.Tags = tags
	return m
}

func stringField(data map[string]any, key string) string {
	s, _ := data[key].(string)
	return s
}

// stringList reads a card field that may be one scalar or a list of scalars;
// nested lists and objects are skipped.
func stringList(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := scalar(e); ok {
				out = append(out, s)
			}
		}
		return out
	default:
		if s, ok := scalar(v); ok {
			return []string{s}
		}
	}
	return nil
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case bool:
		return strconv.FormatBool(v), true
	case int:
		return strconv.Itoa(v), true
	case float64:
		return scalarString(v), true
	}
	return "", false
}
