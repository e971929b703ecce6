package card

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/havenhub/haven"
)

// Quality is how well a card documents its repository, measured against
// the sections of the Hub's model and dataset card templates.
type Quality struct {
	// Score is the share of the sections that are filled in, 0 to 100.
	Score int `json:"score"`
	// Sections are the template's sections, in the template's order.
	Sections []SectionCheck `json:"sections"`
}

// SectionCheck says whether a card fills in one section of its template.
type SectionCheck struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Filled bool   `json:"filled"`
}

// Missing names the sections that are missing or hold only the template's
// placeholders.
func (q Quality) Missing() []string {
	var out []string
	for _, s := range q.Sections {
		if !s.Filled {
			out = append(out, s.Name)
		}
	}
	return out
}

// qualitySection is a section of a card template and the headings that
// stand for it. Headings are matched in the order of a template's rules,
// so that "Out-of-Scope Use" is not taken for "Uses".
type qualitySection struct{ key, name string }

type headingRule struct {
	key    string
	phrase string
	exact  bool // the heading is the phrase, not merely contains it
}

var (
	modelSections = []qualitySection{
		{"description", "Model description"},
		{"uses", "Intended uses"},
		{"out_of_scope", "Out-of-scope uses"},
		{"bias", "Bias, risks and limitations"},
		{"training_data", "Training data"},
		{"training_procedure", "Training procedure"},
		{"evaluation", "Evaluation"},
		{"environment", "Environmental impact"},
		{"license", "License"},
	}
	modelRules = []headingRule{
		{key: "out_of_scope", phrase: "out-of-scope"},
		{key: "out_of_scope", phrase: "out of scope"},
		{key: "out_of_scope", phrase: "misuse"},
		{key: "uses", phrase: "intended use"},
		{key: "uses", phrase: "direct use"},
		{key: "uses", phrase: "downstream use"},
		{key: "uses", phrase: "uses", exact: true},
		{key: "uses", phrase: "usage", exact: true},
		{key: "uses", phrase: "how to use", exact: true},
		{key: "bias", phrase: "bias"},
		{key: "bias", phrase: "risk"},
		{key: "bias", phrase: "limitation"},
		{key: "training_data", phrase: "training data"},
		{key: "training_data", phrase: "training and evaluation data"},
		{key: "training_data", phrase: "training dataset"},
		{key: "training_procedure", phrase: "training procedure"},
		{key: "training_procedure", phrase: "training hyperparameters"},
		{key: "training_procedure", phrase: "training regime"},
		{key: "training_procedure", phrase: "fine-tuning procedure"},
		{key: "evaluation", phrase: "evaluation"},
		{key: "evaluation", phrase: "results", exact: true},
		{key: "evaluation", phrase: "benchmark"},
		{key: "environment", phrase: "environmental impact"},
		{key: "environment", phrase: "carbon"},
		{key: "environment", phrase: "emission"},
		{key: "license", phrase: "license"},
		{key: "license", phrase: "licensing"},
		{key: "description", phrase: "model details"},
		{key: "description", phrase: "model description"},
		{key: "description", phrase: "model summary"},
		{key: "description", phrase: "model overview"},
		{key: "description", phrase: "description", exact: true},
		{key: "description", phrase: "overview", exact: true},
		{key: "description", phrase: "summary", exact: true},
	}
	datasetSections = []qualitySection{
		{"description", "Dataset description"},
		{"sources", "Sources and collection methodology"},
		{"annotations", "Annotations"},
		{"personal", "Personal and sensitive information"},
		{"bias", "Bias, risks and limitations"},
		{"license", "License"},
		{"structure", "Dataset structure"},
	}
	datasetRules = []headingRule{
		{key: "personal", phrase: "personal and sensitive"},
		{key: "personal", phrase: "personal & sensitive"},
		{key: "personal", phrase: "sensitive information"},
		{key: "personal", phrase: "personal information"},
		{key: "personal", phrase: "privacy"},
		{key: "annotations", phrase: "annotation"},
		{key: "annotations", phrase: "annotator"},
		{key: "bias", phrase: "bias"},
		{key: "bias", phrase: "risk"},
		{key: "bias", phrase: "limitation"},
		{key: "license", phrase: "license"},
		{key: "license", phrase: "licensing"},
		{key: "structure", phrase: "dataset structure"},
		{key: "structure", phrase: "data fields"},
		{key: "structure", phrase: "data splits"},
		{key: "structure", phrase: "data instances"},
		{key: "structure", phrase: "structure", exact: true},
		{key: "sources", phrase: "source data"},
		{key: "sources", phrase: "dataset sources"},
		{key: "sources", phrase: "data collection"},
		{key: "sources", phrase: "collection methodology"},
		{key: "sources", phrase: "collection process"},
		{key: "sources", phrase: "source data producers"},
		{key: "sources", phrase: "sources", exact: true},
		{key: "description", phrase: "dataset details"},
		{key: "description", phrase: "dataset description"},
		{key: "description", phrase: "dataset summary"},
		{key: "description", phrase: "description", exact: true},
		{key: "description", phrase: "overview", exact: true},
		{key: "description", phrase: "summary", exact: true},
	}
)

// CheckQuality scores a card of a repository of type t against the Hub's
// card template for that type: each section the body fills in (text that is
// not the template's placeholder) counts the same. The license counts when
// the metadata names one; evaluation results in model-index count for the
// evaluation section. Spaces have no template: their Quality is empty. A
// nil card scores 0.
func CheckQuality(c *Card, t haven.RepoType) Quality {
	var (
		sections []qualitySection
		rules    []headingRule
	)
	switch t {
	case haven.Model:
		sections, rules = modelSections, modelRules
	case haven.Dataset:
		sections, rules = datasetSections, datasetRules
	default:
		return Quality{Sections: []SectionCheck{}}
	}
	if c == nil {
		c = &Card{}
	}
	filled := filledSections(c.Body, rules)
	if len(stringList(c.Data["license"])) > 0 {
		filled["license"] = true
	}
	if t == haven.Model {
		if mi, ok := c.Data["model-index"].([]any); ok && len(mi) > 0 {
			filled["evaluation"] = true
		}
	}
	q := Quality{Sections: make([]SectionCheck, len(sections))}
	n := 0
	for i, s := range sections {
		q.Sections[i] = SectionCheck{Key: s.key, Name: s.name, Filled: filled[s.key]}
		if filled[s.key] {
			n++
		}
	}
	q.Score = (n*100 + len(sections)/2) / len(sections)
	return q
}

// QualityWarnings are the validate-yaml warnings for the sections a card
// leaves out; none for a card that fills in every one.
func QualityWarnings(q Quality) []Issue {
	var out []Issue
	for _, name := range q.Missing() {
		out = append(out, Issue{fmt.Sprintf("card documentation (score %d/100): the section %q is missing or empty", q.Score, name)})
	}
	return out
}

// heading is one Markdown ATX heading of a card body with the text up to
// the next heading.
type heading struct {
	level int
	key   string // the section it stands for; "" for none
	text  []byte
}

var (
	atxHeading   = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$`)
	htmlComment  = regexp.MustCompile(`(?s)<!--.*?-->`)
	jinjaField   = regexp.MustCompile(`(?s)\{\{.*?\}\}|\{%.*?%\}`)
	placeholders = regexp.MustCompile(`(?i)\[(more information needed|optional)\]`)
	boldLabel    = regexp.MustCompile(`\*\*[^*\n]*:\s*\*\*|\*\*[^*\n]*\*\*:`)
	// boilerplate are sentences the templates write whatever the author
	// says, so they do not document anything.
	boilerplate = []string{
		"use the code below to get started with the model.",
		"carbon emissions can be estimated using the",
		"should be made aware of the risks, biases and limitations of the",
		"more information needed for further recommendations.",
		"this modelcard aims to be a base template for new models",
		"this model card has been automatically generated",
		"this is the model card of a 🤗 transformers model that has been pushed on the hub",
	}
)

// filledSections reads the headings of a body and reports which sections
// hold real text. A heading's text includes its subsections', except those
// that stand for another section themselves.
func filledSections(body []byte, rules []headingRule) map[string]bool {
	var hs []heading
	inFence := false
	cur := -1
	for _, line := range bytes.Split(htmlComment.ReplaceAll(body, nil), []byte("\n")) {
		trimmed := bytes.TrimSpace(line)
		if bytes.HasPrefix(trimmed, []byte("```")) || bytes.HasPrefix(trimmed, []byte("~~~")) {
			inFence = !inFence
		}
		if !inFence {
			if m := atxHeading.FindSubmatch(bytes.TrimRight(line, "\r")); m != nil {
				hs = append(hs, heading{level: len(m[1]), key: classify(string(m[2]), rules)})
				cur = len(hs) - 1
				continue
			}
		}
		if cur >= 0 {
			hs[cur].text = append(append(hs[cur].text, line...), '\n')
		}
	}
	filled := map[string]bool{}
	for i, h := range hs {
		if h.key == "" || filled[h.key] {
			continue
		}
		if hasContent(h.text) {
			filled[h.key] = true
			continue
		}
		for j := i + 1; j < len(hs) && hs[j].level > h.level; j++ {
			if hs[j].key != "" && hs[j].key != h.key {
				// Skip this subsection and its own subsections.
				lvl := hs[j].level
				for j+1 < len(hs) && hs[j+1].level > lvl {
					j++
				}
				continue
			}
			if hasContent(hs[j].text) {
				filled[h.key] = true
				break
			}
		}
	}
	return filled
}

// classify finds the section a heading stands for.
func classify(title string, rules []headingRule) string {
	t := strings.ToLower(placeholders.ReplaceAllString(title, ""))
	t = strings.TrimFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, r := range rules {
		if r.exact && t == r.phrase || !r.exact && strings.Contains(t, r.phrase) {
			return r.key
		}
	}
	return ""
}

// hasContent reports whether a section's text says anything beyond the
// template's placeholders, labels and boilerplate.
func hasContent(text []byte) bool {
	s := string(jinjaField.ReplaceAll(text, nil))
	s = placeholders.ReplaceAllString(s, "")
	s = boldLabel.ReplaceAllString(s, "")
	for _, line := range strings.Split(s, "\n") {
		l := strings.ToLower(strings.TrimSpace(line))
		skip := false
		for _, b := range boilerplate {
			if strings.Contains(l, b) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		if strings.IndexFunc(l, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0 {
			return true
		}
	}
	return false
}
