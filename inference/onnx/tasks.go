package onnx

import (
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// defaultHypothesis is transformers' zero-shot hypothesis template.
const defaultHypothesis = "This example is {}."

// zeroShot serves zero-shot classification as transformers' pipeline does:
// each candidate label becomes a hypothesis paired with the text; without
// multi_label the entailment logits are soft-maxed over the labels, with it
// (or a single label) entailment against contradiction per label.
func (m *Model) zeroShot(body map[string]any) (any, error) {
	if err := m.needs(kindClassifier, "zero-shot-classification"); err != nil {
		return nil, err
	}
	p, err := params(body)
	if err != nil {
		return nil, err
	}
	inputs := body["inputs"]
	if in, ok := inputs.(map[string]any); ok {
		// Some clients send {"inputs": {"text", "candidate_labels", …}}.
		inputs = in["text"]
		if inputs == nil {
			inputs = in["sequence"]
		}
		merged := map[string]any{}
		for k, v := range p {
			merged[k] = v
		}
		for _, k := range []string{"candidate_labels", "multi_label", "hypothesis_template"} {
			if v, ok := in[k]; ok {
				merged[k] = v
			}
		}
		p = merged
	}
	text, ok := inputs.(string)
	if !ok {
		return nil, badInput(422, `zero-shot-classification takes {"inputs": str, "parameters": {"candidate_labels": [str]}}`)
	}
	var labels []string
	switch x := p["candidate_labels"].(type) {
	case string:
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				labels = append(labels, s)
			}
		}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				labels = nil
				break
			}
			labels = append(labels, s)
		}
	}
	if len(labels) == 0 {
		return nil, badInput(422, "`parameters.candidate_labels` must be a non-empty list of strings")
	}
	if len(labels) > m.opts.MaxBatch {
		return nil, badInput(413, "%d candidate labels in one request; this engine takes at most %d", len(labels), m.opts.MaxBatch)
	}
	multi, err := boolOpt(p["multi_label"], "multi_label", false)
	if err != nil {
		return nil, err
	}
	tmpl := defaultHypothesis
	if v, ok := p["hypothesis_template"]; ok && v != nil {
		s, ok := v.(string)
		if !ok || !strings.Contains(s, "{}") {
			return nil, badInput(422, "`hypothesis_template` must be a string containing {}")
		}
		tmpl = s
	}
	items := make([]item, len(labels))
	for i, l := range labels {
		items[i] = item{text: text, pair: strings.Replace(tmpl, "{}", l, 1), hasPair: true, truncate: true}
	}
	if _, err := m.count(items); err != nil {
		return nil, err
	}
	rows, err := m.batcher.submit(items)
	if err != nil {
		return nil, err
	}
	entail := m.entail
	contra := 0
	if entail == 0 {
		contra = len(m.labels) - 1
	}
	scores := make([]float64, len(rows))
	if multi || len(labels) == 1 {
		for i, r := range rows {
			e, c := float64(r[entail]), float64(r[contra])
			scores[i] = 1 / (1 + math.Exp(c-e))
		}
	} else {
		hi := math.Inf(-1)
		for _, r := range rows {
			hi = math.Max(hi, float64(r[entail]))
		}
		sum := 0.0
		for i, r := range rows {
			scores[i] = math.Exp(float64(r[entail]) - hi)
			sum += scores[i]
		}
		for i := range scores {
			scores[i] /= sum
		}
	}
	type scored struct {
		Label string  `json:"label"`
		Score float64 `json:"score"`
	}
	out := make([]scored, len(labels))
	for i, l := range labels {
		out[i] = scored{l, scores[i]}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	return out, nil
}

// rerank serves TEI's /rerank: {"query", "texts", "raw_scores",
// "return_text", "truncate"} → [{"index", "score", "text"?}] by score. A
// single logit is given through a sigmoid unless raw_scores; several
// through a softmax, of which the last label's probability counts.
func (m *Model) rerank(body map[string]any, what string) (any, error) {
	if err := m.needs(kindReranker, what); err != nil {
		return nil, err
	}
	if in, ok := body["inputs"].(map[string]any); ok && body["query"] == nil {
		body = in // the task API's {"inputs": {"query", "texts"}}
	}
	query, ok := body["query"].(string)
	if !ok {
		return nil, badInput(422, "`query` must be a string: send {\"query\": str, \"texts\": [str]}")
	}
	list, ok := body["texts"].([]any)
	if !ok || len(list) == 0 {
		return nil, badInput(422, "`texts` must be a non-empty list of strings")
	}
	docs, _, err := texts(list, "texts")
	if err != nil {
		return nil, err
	}
	if len(docs) > m.opts.MaxBatch {
		return nil, badInput(413, "%d texts in one request; this engine takes at most %d", len(docs), m.opts.MaxBatch)
	}
	raw, err := boolOpt(body["raw_scores"], "raw_scores", false)
	if err != nil {
		return nil, err
	}
	withText, err := boolOpt(body["return_text"], "return_text", false)
	if err != nil {
		return nil, err
	}
	trunc, err := boolOpt(body["truncate"], "truncate", false)
	if err != nil {
		return nil, err
	}
	items := make([]item, len(docs))
	for i, d := range docs {
		items[i] = item{text: query, pair: d, hasPair: true, truncate: trunc}
	}
	if _, err := m.count(items); err != nil {
		return nil, err
	}
	rows, err := m.batcher.submit(items)
	if err != nil {
		return nil, err
	}
	type ranked struct {
		Index int     `json:"index"`
		Score float64 `json:"score"`
		Text  *string `json:"text,omitempty"`
	}
	out := make([]ranked, len(rows))
	for i, r := range rows {
		var s float64
		switch {
		case raw:
			s = float64(r[len(r)-1])
		case len(r) == 1:
			s = apply("sigmoid", r)[0]
		default:
			p := apply("softmax", r)
			s = p[len(p)-1]
		}
		out[i] = ranked{Index: i, Score: s}
		if withText {
			out[i].Text = &docs[i]
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	return out, nil
}

// entity is a token or a group of tokens of token classification, in
// transformers' shapes: Entity and Index without aggregation, Group with.
type entity struct {
	Entity string  `json:"entity,omitempty"`
	Group  string  `json:"entity_group,omitempty"`
	Score  float64 `json:"score"`
	Index  *int    `json:"index,omitempty"`
	Word   string  `json:"word"`
	Start  int     `json:"start"`
	End    int     `json:"end"`

	ids []int // the tokens' ids, to decode a group's word
}

// tokenClassification serves token classification as transformers'
// pipeline does with aggregation_strategy none or simple (the default, as
// the Hub's clients need entity_group): per-token softmax, special tokens
// left out, adjacent tokens of one entity grouped (B-/I- prefixes), the
// ignored labels (default O) dropped. One list per input, flat for a
// single string.
func (m *Model) tokenClassification(body map[string]any) (any, error) {
	in, single, err := texts(body["inputs"], "inputs")
	if err != nil {
		return nil, err
	}
	p, err := params(body)
	if err != nil {
		return nil, err
	}
	strategy := "simple"
	if s, ok := p["aggregation_strategy"].(string); ok && s != "" {
		strategy = s
	}
	switch strategy {
	case "none", "simple":
	case "first", "average", "max":
		return nil, badInput(422, "`aggregation_strategy` %s is not served by this engine; use simple or none", strategy)
	default:
		return nil, badInput(422, "`aggregation_strategy` must be none, simple, first, average or max")
	}
	ignore := map[string]bool{"O": true}
	if v, ok := p["ignore_labels"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, badInput(422, "`ignore_labels` must be a list of labels")
		}
		ignore = map[string]bool{}
		for _, e := range list {
			s, _ := e.(string)
			ignore[s] = true
		}
	}
	if len(in) > m.opts.MaxBatch {
		return nil, badInput(413, "%d inputs in one request; this engine takes at most %d", len(in), m.opts.MaxBatch)
	}
	items := make([]item, len(in))
	for i, t := range in {
		items[i] = item{text: t}
	}
	if _, err := m.count(items); err != nil {
		return nil, err
	}
	rows, err := m.batcher.submit(items)
	if err != nil {
		return nil, err
	}
	out := make([][]entity, len(in))
	for i, row := range rows {
		enc, err := m.encode(items[i])
		if err != nil {
			return nil, err
		}
		runes := runeOffsets(in[i])
		var ents []entity
		d := len(m.labels)
		for k := range enc.Ids {
			if (k+1)*d > len(row) || (k < len(enc.SpecialTokenMask) && enc.SpecialTokenMask[k] == 1) {
				continue
			}
			scores := apply("softmax", row[k*d:(k+1)*d])
			best := 0
			for j, s := range scores {
				if s > scores[best] {
					best = j
				}
			}
			idx := k
			start, end := runes(enc.Offsets[k][0]), runes(enc.Offsets[k][1])
			word := enc.Tokens[k]
			if enc.Ids[k] == m.unk {
				word = string([]rune(in[i])[start:end])
			}
			ents = append(ents, entity{Entity: m.labels[best], Score: float64(float32(scores[best])), Index: &idx,
				Word: word, Start: start, End: end, ids: []int{enc.Ids[k]}})
		}
		if strategy == "simple" {
			ents = m.group(ents)
		}
		kept := []entity{}
		for _, e := range ents {
			if !ignore[e.Entity] && !ignore[e.Group] {
				kept = append(kept, e)
			}
		}
		out[i] = kept
	}
	if single {
		return out[0], nil
	}
	return out, nil
}

// group joins adjacent tokens of one entity: a token continues the group
// before it when its tag is the same and it does not begin (B-) one.
func (m *Model) group(ents []entity) []entity {
	var groups []entity
	var cur []entity
	flush := func() {
		if len(cur) == 0 {
			return
		}
		sum := 0.0
		var ids []int
		for _, e := range cur {
			sum += e.Score
			ids = append(ids, e.ids...)
		}
		// The first label past its first "-", as transformers names the group.
		tag := cur[0].Entity
		if i := strings.Index(tag, "-"); i >= 0 {
			tag = tag[i+1:]
		}
		groups = append(groups, entity{Group: tag, Score: sum / float64(len(cur)), Word: m.tok.Decode(ids, false),
			Start: cur[0].Start, End: cur[len(cur)-1].End})
		cur = nil
	}
	for _, e := range ents {
		if len(cur) > 0 {
			bi, tag := bioTag(e.Entity)
			_, last := bioTag(cur[len(cur)-1].Entity)
			if tag != last || bi == "B" {
				flush()
			}
		}
		cur = append(cur, e)
	}
	flush()
	return groups
}

// bioTag splits a label into its B/I prefix and its tag; a label without
// one continues (I).
func bioTag(label string) (string, string) {
	switch {
	case strings.HasPrefix(label, "B-"):
		return "B", label[2:]
	case strings.HasPrefix(label, "I-"):
		return "I", label[2:]
	}
	return "I", label
}

// runeOffsets maps the byte offsets of s to character offsets, as
// transformers reports them.
func runeOffsets(s string) func(int) int {
	return func(b int) int {
		if b > len(s) {
			b = len(s)
		}
		return utf8.RuneCountInString(s[:b])
	}
}
