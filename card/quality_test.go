package card_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
)

const fullModelCard = `---
license: apache-2.0
---
# Model Card for demo

## Model Details

### Model Description

A small classifier of movie reviews.

- **Developed by:** Haven tests

## Uses

### Direct Use

Sorting reviews into positive and negative.

### Out-of-Scope Use

Medical or legal decisions.

## Bias, Risks, and Limitations

It was trained on English reviews only.

## Training Details

### Training Data

IMDB, 25,000 reviews.

### Training Procedure

Three epochs with AdamW, learning rate 2e-5.

## Evaluation

Accuracy 0.93 on the test split.

## Environmental Impact

- **Hardware Type:** one GPU for two hours
`

const fullDatasetCard = `---
license: cc-by-4.0
---
# Dataset Card for reviews

## Dataset Details

### Dataset Description

Movie reviews with their ratings.

## Dataset Structure

One row per review: text and label.

## Dataset Creation

### Source Data

Scraped from public review sites in 2020.

### Annotations

#### Annotation process

Two annotators labelled each review.

#### Personal and Sensitive Information

User names were removed.

## Bias, Risks, and Limitations

Reviews are mostly in English.
`

func TestCheckQuality(t *testing.T) {
	template := func(name string) string {
		// The Hub's card templates as huggingface_hub renders them with
		// no values: every section holds placeholders only.
		b, err := os.ReadFile("../.venv/lib/python3.11/site-packages/huggingface_hub/templates/" + name)
		if err != nil {
			return ""
		}
		return string(b)
	}
	modelNames := []string{"Model description", "Intended uses", "Out-of-scope uses", "Bias, risks and limitations",
		"Training data", "Training procedure", "Evaluation", "Environmental impact", "License"}
	datasetNames := []string{"Dataset description", "Sources and collection methodology", "Annotations",
		"Personal and sensitive information", "Bias, risks and limitations", "License", "Dataset structure"}
	tests := []struct {
		name    string
		readme  string
		typ     haven.RepoType
		score   int
		missing []string
	}{
		{"full model card", fullModelCard, haven.Model, 100, nil},
		{"full dataset card", fullDatasetCard, haven.Dataset, 100, nil},
		{"empty model card", "", haven.Model, 0, modelNames},
		{"empty dataset card", "", haven.Dataset, 0, datasetNames},
		{"metadata only", "---\nlicense: mit\n---\n", haven.Model, 11, modelNames[:8]},
		{"headings with placeholders", "## Training Data\n\n[More Information Needed]\n\n## Environmental Impact\n\n" +
			"Carbon emissions can be estimated using the [Machine Learning Impact calculator](https://mlco2.github.io/impact#compute).\n\n" +
			"- **Hardware Type:** [More Information Needed]\n<!-- comment -->\n", haven.Model, 0, modelNames},
		{"model-index counts as evaluation", "---\nmodel-index:\n- name: x\n  results: []\n---\n## Evaluation\n", haven.Model, 11,
			slices.DeleteFunc(slices.Clone(modelNames), func(s string) bool { return s == "Evaluation" })},
		{"out-of-scope is not intended use", "## Uses\n\n### Direct Use\n\n[More Information Needed]\n\n### Out-of-Scope Use\n\nNot for weapons.\n",
			haven.Model, 11, slices.DeleteFunc(slices.Clone(modelNames), func(s string) bool { return s == "Out-of-scope uses" })},
		{"a heading in a code block is not a section", "```\n## Training Data\nreal text\n```\n", haven.Model, 0, modelNames},
		{"space", "## Uses\n\nanything\n", haven.Space, 0, nil},
	}
	if tpl := template("modelcard_template.md"); tpl != "" {
		tests = append(tests, struct {
			name    string
			readme  string
			typ     haven.RepoType
			score   int
			missing []string
		}{"the Hub's model template unfilled", strings.ReplaceAll(tpl, "{{ card_data }}", ""), haven.Model, 0, modelNames})
	}
	if tpl := template("datasetcard_template.md"); tpl != "" {
		tests = append(tests, struct {
			name    string
			readme  string
			typ     haven.RepoType
			score   int
			missing []string
		}{"the Hub's dataset template unfilled", strings.ReplaceAll(tpl, "{{ card_data }}", ""), haven.Dataset, 0, datasetNames})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := card.Parse([]byte(tc.readme))
			if err != nil {
				t.Fatal(err)
			}
			q := card.CheckQuality(c, tc.typ)
			if q.Score != tc.score {
				t.Errorf("score = %d, want %d (%+v)", q.Score, tc.score, q.Sections)
			}
			if got := q.Missing(); !slices.Equal(got, tc.missing) {
				t.Errorf("missing = %q, want %q", got, tc.missing)
			}
			if w := card.QualityWarnings(q); len(w) != len(tc.missing) {
				t.Errorf("%d warnings, want %d", len(w), len(tc.missing))
			}
		})
	}
	if q := card.CheckQuality(nil, haven.Model); q.Score != 0 || len(q.Missing()) != len(modelNames) {
		t.Errorf("nil card: %+v", q)
	}
}
