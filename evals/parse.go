// Package evals serves what model cards say about evaluation and lineage:
// the evaluation results of model-index (and of .eval_results files),
// leaderboards that rank public models by them, documentation scores of
// cards, and the provenance of a model along its base models.
//
// The API hears of every card through api.CardIndexer after a push or
// commit and stores the results and the score with the repository; the
// leaderboards read only the store.
package evals

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/havenhub/haven/meta"
)

// MaxResults bounds the results kept from one card.
const MaxResults = 2000

// ParseModelIndex reads the model-index of card metadata into results, one
// per metric, in card order. What it cannot read is skipped and described
// in warnings: a malformed model-index never fails.
func ParseModelIndex(data map[string]any) (results []meta.EvalResult, warnings []string) {
	v, ok := data["model-index"]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, []string{fmt.Sprintf("model-index: expected a list, got %s", kindOf(v))}
	}
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			warn("model-index[%d]: expected an object, got %s", i, kindOf(e))
			continue
		}
		name := str(entry["name"])
		rs, ok := entry["results"].([]any)
		if !ok {
			warn("model-index[%d].results: expected a list", i)
			continue
		}
		for j, r := range rs {
			res, ok := r.(map[string]any)
			if !ok {
				warn("model-index[%d].results[%d]: expected an object", i, j)
				continue
			}
			task, _ := res["task"].(map[string]any)
			ds, _ := res["dataset"].(map[string]any)
			src, _ := res["source"].(map[string]any)
			if str(ds["type"]) == "" {
				warn("model-index[%d].results[%d].dataset.type: missing", i, j)
				continue
			}
			metrics, ok := res["metrics"].([]any)
			if !ok {
				warn("model-index[%d].results[%d].metrics: expected a list", i, j)
				continue
			}
			for k, m := range metrics {
				mm, ok := m.(map[string]any)
				if !ok || str(mm["type"]) == "" {
					warn("model-index[%d].results[%d].metrics[%d]: expected an object with a type", i, j, k)
					continue
				}
				if len(results) == MaxResults {
					warn("model-index: more than %d results; the rest are ignored", MaxResults)
					return results, warnings
				}
				value, text := number(mm["value"])
				results = append(results, meta.EvalResult{
					ModelName:     name,
					TaskType:      str(task["type"]),
					TaskName:      str(task["name"]),
					DatasetID:     str(ds["type"]),
					DatasetName:   str(ds["name"]),
					DatasetConfig: str(ds["config"]),
					DatasetSplit:  str(ds["split"]),
					MetricType:    str(mm["type"]),
					MetricName:    str(mm["name"]),
					Value:         value,
					ValueText:     text,
					Verified:      mm["verified"] == true,
					SourceName:    str(src["name"]),
					SourceURL:     str(src["url"]),
				})
			}
		}
	}
	return results, warnings
}

// ParseResultsFile reads one .eval_results/*.yaml file of a model
// repository: a list of {dataset: {id, task_id}, value, source, …}. The
// benchmark's task_id stands in for the metric: a leaderboard is one
// (dataset, task_id). Malformed entries are skipped with a warning.
func ParseResultsFile(name string, b []byte) (results []meta.EvalResult, warnings []string) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, []string{fmt.Sprintf("%s: invalid YAML: %v", name, err)}
	}
	list, ok := doc.([]any)
	if !ok {
		return nil, []string{fmt.Sprintf("%s: expected a list of results", name)}
	}
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s[%d]: expected an object", name, i))
			continue
		}
		ds, _ := entry["dataset"].(map[string]any)
		src, _ := entry["source"].(map[string]any)
		id, task := str(ds["id"]), str(ds["task_id"])
		if id == "" || task == "" {
			warnings = append(warnings, fmt.Sprintf("%s[%d]: dataset.id and dataset.task_id are required", name, i))
			continue
		}
		value, text := number(entry["value"])
		results = append(results, meta.EvalResult{
			DatasetID:  id,
			MetricType: task,
			Value:      value,
			ValueText:  text,
			Verified:   str(entry["verifyToken"]) != "",
			SourceName: str(src["name"]),
			SourceURL:  str(src["url"]),
		})
	}
	return results, warnings
}

// str reads a scalar field as text; anything else is "".
func str(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// number reads a metric value: a number, or text that is one ("0.93",
// "93%"). Other values keep their text and no number.
func number(v any) (*float64, string) {
	var f float64
	switch v := v.(type) {
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case float64:
		f = v
	case string:
		s := strings.TrimSpace(v)
		p, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, s
		}
		return &p, s
	case nil:
		return nil, ""
	default:
		return nil, fmt.Sprint(v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Sprint(f)
	}
	return &f, strconv.FormatFloat(f, 'g', -1, 64)
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	}
	return "a scalar"
}

// lowerBetter are the words of metric names whose smaller values are
// better.
var lowerBetter = []string{"loss", "error", "wer", "cer", "ter", "perplexity", "ppl", "mae", "mse", "rmse",
	"mape", "distance", "fid", "latency", "eer", "bpb", "bpc", "bits"}

// LowerIsBetter reports whether a metric ranks smaller values first: its
// type or name says loss, error (rate), word error rate, perplexity, … as a
// word of its own ("eval_loss", "WER", "Test Perplexity"), not inside
// another ("answer").
func LowerIsBetter(metricType, metricName string) bool {
	for _, s := range []string{metricType, metricName} {
		words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		})
		for _, w := range words {
			for _, lb := range lowerBetter {
				if w == lb || w == lb+"s" {
					return true
				}
			}
		}
	}
	return false
}
