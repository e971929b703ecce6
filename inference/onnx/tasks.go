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

	ids []int // the tokens' ids, to decode a group's word; nil for an unknown word, whose Word is its text
}

// token is one token's prediction before aggregation.
type token struct {
	scores     []float64
	id, index  int
	word       string
	start, end int
	subword    bool // it continues the word before it
}

// tokenClassification serves token classification as transformers'
// pipeline does: per-token softmax, special tokens left out, then by
// aggregation_strategy none (each token), simple (the default, as the
// Hub's clients need entity_group: adjacent tokens of one entity grouped by
// their B-/I- prefixes), or first, average or max (the tokens of a word
// take one label: the first token's, the average scores' or the most
// confident token's, then grouped as with simple); the ignored labels
// (default O) dropped. One list per input, flat for a single string.
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
	case "none", "simple", "first", "average", "max":
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
		toks, err := m.tokens(in[i], items[i], row)
		if err != nil {
			return nil, err
		}
		var ents []entity
		switch strategy {
		case "none", "simple":
			for _, t := range toks {
				best := argmax(t.scores)
				idx := t.index
				e := entity{Entity: m.labels[best], Score: t.scores[best], Index: &idx,
					Word: t.word, Start: t.start, End: t.end, ids: []int{t.id}}
				if t.id == m.unk {
					e.ids = nil
				}
				ents = append(ents, e)
			}
			if strategy == "simple" {
				ents = m.group(ents)
			}
		default:
			ents = m.group(m.words(toks, strategy))
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

// tokens turns one input's per-token logits into predictions, as
// transformers' gather_pre_entities does.
func (m *Model) tokens(text string, it item, row []float32) ([]token, error) {
	enc, err := m.encode(it)
	if err != nil {
		return nil, err
	}
	runes := runeOffsets(text)
	chars := []rune(text)
	d := len(m.labels)
	var out []token
	for k := range enc.Ids {
		if (k+1)*d > len(row) || (k < len(enc.SpecialTokenMask) && enc.SpecialTokenMask[k] == 1) {
			continue
		}
		scores := apply("softmax", row[k*d:(k+1)*d])
		for j := range scores {
			scores[j] = float64(float32(scores[j]))
		}
		t := token{scores: scores, id: enc.Ids[k], index: k, word: enc.Tokens[k],
			start: runes(enc.Offsets[k][0]), end: runes(enc.Offsets[k][1])}
		ref := string(chars[t.start:t.end])
		if m.subwordPrefix != "" {
			// A word-aware tokenizer: a piece spelled otherwise than its
			// text carries the continuation prefix.
			t.subword = utf8.RuneCountInString(t.word) != utf8.RuneCountInString(ref)
		} else {
			t.subword = t.start > 0 && !strings.Contains(string(chars[t.start-1:min(t.start+1, len(chars))]), " ")
		}
		if t.id == m.unk {
			t.word, t.subword = ref, false
		}
		out = append(out, t)
	}
	return out, nil
}

// words joins the tokens of each word into one entity labelled by
// strategy: first, average or max.
func (m *Model) words(toks []token, strategy string) []entity {
	var out []entity
	for i := 0; i < len(toks); {
		j := i + 1
		for j < len(toks) && toks[j].subword {
			j++
		}
		w := toks[i:j]
		var scores []float64
		switch strategy {
		case "first":
			scores = w[0].scores
		case "max":
			best, top := 0, -1.0
			for k, t := range w {
				if s := t.scores[argmax(t.scores)]; s > top {
					best, top = k, s
				}
			}
			scores = w[best].scores
		case "average":
			scores = make([]float64, len(w[0].scores))
			for _, t := range w {
				for k, s := range t.scores {
					scores[k] += s
				}
			}
			for k := range scores {
				scores[k] = float64(float32(scores[k] / float64(len(w))))
			}
		}
		ids := make([]int, len(w))
		for k, t := range w {
			ids[k] = t.id
		}
		word := m.tok.Decode(ids, false)
		if len(w) == 1 && w[0].id == m.unk {
			word, ids = w[0].word, nil
		}
		best := argmax(scores)
		out = append(out, entity{Entity: m.labels[best], Score: scores[best], Word: word,
			Start: w[0].start, End: w[len(w)-1].end, ids: ids})
		i = j
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for j, s := range v {
		if s > v[best] {
			best = j
		}
	}
	return best
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
		for _, e := range cur {
			sum += e.Score
		}
		// The first label past its first "-", as transformers names the group.
		tag := cur[0].Entity
		if i := strings.Index(tag, "-"); i >= 0 {
			tag = tag[i+1:]
		}
		groups = append(groups, entity{Group: tag, Score: sum / float64(len(cur)), Word: m.joinWords(cur),
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

// joinWords is the text of a group's tokens as the tokenizer decodes
// them, an unknown word's own text in its place.
func (m *Model) joinWords(ents []entity) string {
	var parts []string
	var run []int
	flush := func() {
		if len(run) > 0 {
			parts = append(parts, m.tok.Decode(run, false))
			run = nil
		}
	}
	for _, e := range ents {
		if e.ids == nil {
			flush()
			parts = append(parts, e.Word)
			continue
		}
		run = append(run, e.ids...)
	}
	flush()
	return strings.Join(parts, " ")
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
