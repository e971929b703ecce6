package evals_test

import (
	"testing"

	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/evals"
	"github.com/havenhub/haven/meta"
)

func TestParseModelIndex(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		results  int
		warnings int
		check    func(t *testing.T, rs []meta.EvalResult)
	}{
		{"none", "license: mit\n", 0, 0, nil},
		{"full", `model-index:
- name: demo
  results:
  - task: {type: text-classification, name: Text Classification}
    dataset: {type: imdb, name: IMDB, config: plain_text, split: test}
    metrics:
    - {type: accuracy, value: 0.93, name: Accuracy, verified: true}
    - {type: f1, value: "91.5%"}
    source: {name: Paper, url: https://example.org}
`, 2, 0, func(t *testing.T, rs []meta.EvalResult) {
			r := rs[0]
			if r.ModelName != "demo" || r.TaskType != "text-classification" || r.DatasetID != "imdb" || r.DatasetName != "IMDB" ||
				r.DatasetConfig != "plain_text" || r.DatasetSplit != "test" || r.MetricType != "accuracy" || r.MetricName != "Accuracy" ||
				r.Value == nil || *r.Value != 0.93 || !r.Verified || r.SourceURL != "https://example.org" || r.SourceName != "Paper" {
				t.Errorf("first result = %+v", r)
			}
			if rs[1].Value == nil || *rs[1].Value != 91.5 || rs[1].ValueText != "91.5%" || rs[1].Verified {
				t.Errorf("second result = %+v", rs[1])
			}
		}},
		{"not a list", "model-index: {name: x}\n", 0, 1, nil},
		{"entry not an object", "model-index: [3]\n", 0, 1, nil},
		{"results missing", "model-index: [{name: x}]\n", 0, 1, nil},
		{"result without dataset", "model-index: [{name: x, results: [{task: {type: t}, metrics: [{type: a, value: 1}]}]}]\n", 0, 1, nil},
		{"metrics not a list", "model-index: [{name: x, results: [{dataset: {type: d}, metrics: 3}]}]\n", 0, 1, nil},
		{"bad metric kept beside good", "model-index: [{name: x, results: [{dataset: {type: d}, metrics: [7, {value: 1}, {type: a, value: 2}]}]}]\n", 1, 2, nil},
		{"text value", "model-index: [{name: x, results: [{dataset: {type: d}, metrics: [{type: a, value: n/a}]}]}]\n", 1, 0,
			func(t *testing.T, rs []meta.EvalResult) {
				if rs[0].Value != nil || rs[0].ValueText != "n/a" {
					t.Errorf("result = %+v", rs[0])
				}
			}},
		{"null", "model-index:\n", 0, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := card.Parse([]byte("---\n" + tc.yaml + "---\n"))
			if err != nil {
				t.Fatal(err)
			}
			rs, ws := evals.ParseModelIndex(c.Data)
			if len(rs) != tc.results || len(ws) != tc.warnings {
				t.Fatalf("%d results, %d warnings (%q); want %d, %d", len(rs), len(ws), ws, tc.results, tc.warnings)
			}
			if tc.check != nil {
				tc.check(t, rs)
			}
		})
	}
}

func TestParseResultsFile(t *testing.T) {
	rs, ws := evals.ParseResultsFile(".eval_results/hle.yaml", []byte(`- dataset: {id: cais/hle, task_id: default}
  value: 20.9
  verifyToken: abc
- dataset: {id: x}
  value: 1
`))
	if len(rs) != 1 || len(ws) != 1 || rs[0].DatasetID != "cais/hle" || rs[0].MetricType != "default" || *rs[0].Value != 20.9 || !rs[0].Verified {
		t.Fatalf("results %+v, warnings %q", rs, ws)
	}
	if rs, ws := evals.ParseResultsFile("x.yaml", []byte("{")); len(rs) != 0 || len(ws) != 1 {
		t.Fatalf("invalid YAML: %+v, %q", rs, ws)
	}
}

func TestLowerIsBetter(t *testing.T) {
	tests := []struct {
		metricType, metricName string
		lower                  bool
	}{
		{"accuracy", "Accuracy", false},
		{"f1", "", false},
		{"wer", "Test WER", true},
		{"eval_loss", "", true},
		{"perplexity", "", true},
		{"accuracy", "Error rate", true},
		{"bleu", "", false},
		{"answer_f1", "Answer F1", false},
		{"cer", "", true},
		{"exact_match", "", false},
	}
	for _, tc := range tests {
		if got := evals.LowerIsBetter(tc.metricType, tc.metricName); got != tc.lower {
			t.Errorf("LowerIsBetter(%q, %q) = %v, want %v", tc.metricType, tc.metricName, got, tc.lower)
		}
	}
}
