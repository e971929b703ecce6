// Package onnx runs ONNX encoder models in the server's process: feature
// extraction and sentence similarity (mean or CLS pooling, then L2
// normalisation, as sentence-transformers does), text classification,
// zero-shot classification (an NLI classifier, as transformers' pipeline
// does it), token classification (with the pipeline's aggregation) and
// text ranking (a cross-encoder, TEI's /rerank), for repositories that carry an ONNX graph and a tokenizer.json. The graph
// runs on ONNX Runtime when its shared library is given (the fast path,
// with cgo) and otherwise on GoMLX's pure-Go backend through hugot, which
// always builds. Tokenization is pure Go on both paths.
//
// A loaded Model answers the same HTTP routes and JSON shapes as the Python
// engine (inference/engine) for these tasks.
package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// Tasks are the pipeline tags this engine serves.
var Tasks = []string{"feature-extraction", "sentence-similarity", "text-classification",
	"zero-shot-classification", "token-classification", "text-ranking"}

// Kinds of model, by what the graph gives per input.
const (
	kindEmbedding  = "embedding"  // pooled token states
	kindClassifier = "classifier" // one logit per label (text and zero-shot classification)
	kindReranker   = "reranker"   // the logits of a (query, text) pair
	kindTokens     = "tokens"     // one logit per label and token
)

// kindOf is the kind of model a task needs.
func kindOf(task string) string {
	switch task {
	case "text-classification", "zero-shot-classification":
		return kindClassifier
	case "text-ranking":
		return kindReranker
	case "token-classification":
		return kindTokens
	}
	return kindEmbedding
}

// Serves reports whether the engine serves task.
func Serves(task string) bool {
	for _, t := range Tasks {
		if t == task {
			return true
		}
	}
	return false
}

// graphFiles are the places of the ONNX graph in a repository, in the order
// they are preferred: Optimum's export at the root, then the onnx/ folder
// that sentence-transformers repositories carry.
var graphFiles = []string{"model.onnx", "onnx/model.onnx"}

// Find returns the repository path of the ONNX graph the engine would load
// from a listing of a repository's files, or "" when the files do not
// qualify (no graph, or no tokenizer.json).
func Find(paths []string) string {
	have := map[string]bool{}
	for _, p := range paths {
		have[path.Clean(p)] = true
	}
	if !have["tokenizer.json"] {
		return ""
	}
	for _, g := range graphFiles {
		// A graph with its weights in a separate file is left to the
		// Python engine.
		if have[g] && !have[g+"_data"] && !have[g+".data"] {
			return g
		}
	}
	return ""
}

// FindIn is Find on the files of a checkout in dir.
func FindIn(dir string) string {
	var paths []string
	for _, p := range []string{"model.onnx", "onnx/model.onnx", "tokenizer.json", "model.onnx_data", "model.onnx.data", "onnx/model.onnx_data", "onnx/model.onnx.data"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			paths = append(paths, p)
		}
	}
	return Find(paths)
}

// Options are how a model is loaded.
type Options struct {
	// Task is the pipeline tag served (one of Tasks).
	Task string
	// Name is the model name answered in responses (OpenAI "model").
	Name string
	// ORTLib is the path of libonnxruntime.so; "" runs the graph on the
	// pure-Go backend.
	ORTLib string
	// Threads bounds the threads of the forward passes (0: all cores).
	Threads int
	// Passes is how many forward passes run at once, each on
	// Threads/Passes intra-op threads (0: two on ONNX Runtime when Threads
	// is 2 or more, else one; the pure-Go backend always runs one).
	Passes int
	// MaxBatch bounds the inputs of one forward pass and of one request
	// (default 32).
	MaxBatch int
	// MaxConcurrency bounds the requests taken at once (default 16); past
	// it the answer is 429.
	MaxConcurrency int
}

// Model is a loaded ONNX encoder.
type Model struct {
	opts    Options
	dir     string
	graph   graph
	backend string // "onnxruntime" or "go"
	tok     *tokenizer.Tokenizer
	trunc   *tokenizer.Tokenizer // the same, truncating to maxLen
	maxLen  int
	pooling string // "mean" or "cls"
	dim     int
	kind    string   // kindEmbedding, kindClassifier, …
	labels  []string // classification labels by index (nil for embeddings)
	fn      string   // classification default: softmax, sigmoid or none
	entail  int      // the label index of entailment (zero-shot classification)
	unk     int      // the unknown token's id, or -1
	// subwordPrefix is the word-piece continuation prefix ("##"), or ""
	// for tokenizers that do not mark it.
	subwordPrefix string
	noTypes       bool // token type ids stay 0: transformers passes none
	batcher       *batcher
	slots         chan struct{} // one per forward pass that may run at once
	loadTime      time.Duration
	metrics       metrics
	inflight      atomic.Int64
}

// graph runs the ONNX graph on a padded batch and returns its first
// output: [batch, seq, dim] token states or [batch, dim] pooled values.
type graph interface {
	run(b *batch) (tensor, error)
	close()
}

// batch is a padded batch of tokenized inputs.
type batch struct {
	n, seq int
	ids    []int64 // n × seq
	mask   []int64
	types  []int64
}

// tensor is a float32 output with its shape.
type tensor struct {
	shape []int
	data  []float32
}

// Load loads the model in dir (a checkout of its repository).
func Load(dir string, opts Options) (*Model, error) {
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	switch {
	case opts.ORTLib == "" || threads < 2:
		opts.Passes = 1
	case opts.Passes <= 0:
		// Two passes side by side on one thread each use the cores with
		// less CPU per answer than one pass on two: ONNX Runtime's
		// threads do not wait for each other at every operator, which on
		// a busy machine costs a pass the turns its partner thread lost
		// (bench/README.md).
		opts.Passes = 2
	}
	return load(dir, opts, func(file string) (graph, string, error) {
		if opts.ORTLib != "" {
			g, err := newORT(file, opts.ORTLib, max(1, threads/opts.Passes))
			return g, "onnxruntime", err
		}
		g, err := newGoMLX(file)
		return g, "go", err
	})
}

// load is Load with the graph opened by open (a stand-in in tests).
func load(dir string, opts Options, open func(file string) (graph, string, error)) (*Model, error) {
	start := time.Now()
	if !Serves(opts.Task) {
		return nil, fmt.Errorf("task %q is not served by the Go engine", opts.Task)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 32
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = 16
	}
	g := FindIn(dir)
	if g == "" {
		return nil, errors.New("the model has no ONNX graph (model.onnx or onnx/model.onnx) with a tokenizer.json")
	}
	m := &Model{opts: opts, dir: dir, pooling: "mean", fn: "softmax", kind: kindOf(opts.Task)}
	var err error
	if m.tok, err = pretrained.FromFile(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	m.maxLen = maxLength(dir)
	if m.trunc, err = pretrained.FromFile(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	// The padding and truncation a tokenizer.json may carry (all-MiniLM's
	// pads every input to 128 tokens) are left out, as transformers does
	// when called: batches are padded to their longest input, and inputs
	// are counted whole and cut only when asked, to the model's limit.
	m.tok.WithPadding(nil)
	m.tok.WithTruncation(nil)
	m.trunc.WithPadding(nil)
	m.trunc.WithTruncation(&tokenizer.TruncationParams{MaxLength: m.maxLen, Strategy: tokenizer.LongestFirst})
	m.unk = -1
	m.noTypes = noTokenTypes(dir)
	var tj struct {
		Model struct {
			UnkToken string `json:"unk_token"`
			Prefix   string `json:"continuing_subword_prefix"`
		} `json:"model"`
	}
	if readJSON(dir, "tokenizer.json", &tj) == nil {
		if id, ok := m.tok.TokenToId(tj.Model.UnkToken); ok && tj.Model.UnkToken != "" {
			m.unk = id
		}
		m.subwordPrefix = tj.Model.Prefix
	}
	if m.kind != kindEmbedding {
		if err := m.readLabels(); err != nil {
			return nil, err
		}
	} else {
		m.pooling = readPooling(dir)
	}
	if m.graph, m.backend, err = open(filepath.Join(dir, g)); err != nil {
		return nil, err
	}
	if opts.Passes <= 0 {
		opts.Passes = 1
	}
	m.opts.Passes = opts.Passes
	m.slots = make(chan struct{}, opts.Passes)
	m.batcher = newBatcher(m.forward, opts.MaxBatch, opts.Passes, m.metrics.batch)
	// A first pass checks the graph runs and gives the output size.
	rows, err := m.batcher.submit([]item{{text: "warm up"}})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("the model does not run: %w", err)
	}
	m.dim = len(rows[0])
	if m.kind == kindTokens {
		// One row of logits per token of the warm-up text.
		enc, err := m.encode(item{text: "warm up"})
		if err != nil || len(enc.Ids) == 0 {
			m.Close()
			return nil, fmt.Errorf("the tokenizer does not tokenize: %v", err)
		}
		m.dim /= len(enc.Ids)
	}
	if m.labels != nil && m.dim != len(m.labels) {
		m.Close()
		return nil, fmt.Errorf("the model gives %d scores for %d labels in config.json", m.dim, len(m.labels))
	}
	m.loadTime = time.Since(start)
	return m, nil
}

// Backend names what runs the graph: "onnxruntime" or "go".
func (m *Model) Backend() string { return m.backend }

// Close releases the model.
func (m *Model) Close() {
	if m.batcher != nil {
		m.batcher.close()
	}
	if m.graph != nil {
		m.graph.close()
	}
}

// readJSON reads a JSON file of the model into v; a missing file is no error.
func readJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// maxLength is the most tokens one input may have, as the Python engine
// takes it: sentence-transformers' max_seq_length, else the smaller of the
// tokenizer's model_max_length and the positions the model has, else 512.
func maxLength(dir string) int {
	var st struct {
		MaxSeqLength int `json:"max_seq_length"`
	}
	if readJSON(dir, "sentence_bert_config.json", &st) == nil && st.MaxSeqLength > 0 {
		return st.MaxSeqLength
	}
	n := 0
	var tc struct {
		ModelMaxLength float64 `json:"model_max_length"`
	}
	if readJSON(dir, "tokenizer_config.json", &tc) == nil && tc.ModelMaxLength > 0 && tc.ModelMaxLength < 1e7 {
		n = int(tc.ModelMaxLength)
	}
	var c struct {
		MaxPositionEmbeddings int `json:"max_position_embeddings"`
	}
	if readJSON(dir, "config.json", &c) == nil && c.MaxPositionEmbeddings > 0 && (n == 0 || c.MaxPositionEmbeddings < n) {
		n = c.MaxPositionEmbeddings
	}
	if n == 0 {
		n = 512
	}
	return n
}

// noTokenTypes reports whether transformers leaves token_type_ids out of
// the tokenizer's output (so the model sees zeros for a text pair's second
// text too): when tokenizer_config.json lists model_input_names without
// them, or names transformers' generic tokenizers backend, whose inputs are
// only ids and mask.
func noTokenTypes(dir string) bool {
	var tc struct {
		Class      string   `json:"tokenizer_class"`
		InputNames []string `json:"model_input_names"`
	}
	if readJSON(dir, "tokenizer_config.json", &tc) != nil {
		return false
	}
	if tc.InputNames != nil {
		return !slices.Contains(tc.InputNames, "token_type_ids")
	}
	return tc.Class == "TokenizersBackend"
}

// readPooling reads a sentence-transformers pooling module's mode.
func readPooling(dir string) string {
	cfgs, _ := filepath.Glob(filepath.Join(dir, "*Pooling*", "config.json"))
	for _, c := range cfgs {
		var p map[string]any
		if b, err := os.ReadFile(c); err != nil || json.Unmarshal(b, &p) != nil {
			continue
		}
		if mode, _ := p["pooling_mode"].(string); mode != "" {
			return strings.TrimSuffix(mode, "_tokens")
		}
		if p["pooling_mode_cls_token"] == true {
			return "cls"
		}
	}
	return "mean"
}

// readLabels reads the labels and the default scoring of a classifier from
// config.json.
func (m *Model) readLabels() error {
	var c struct {
		ID2Label    map[string]string `json:"id2label"`
		NumLabels   int               `json:"num_labels"`
		ProblemType string            `json:"problem_type"`
	}
	if err := readJSON(m.dir, "config.json", &c); err != nil {
		return fmt.Errorf("config.json: %w", err)
	}
	n := max(c.NumLabels, len(c.ID2Label))
	if n == 0 {
		return errors.New("config.json names no labels (id2label)")
	}
	m.labels = make([]string, n)
	// Zero-shot classification reads entailment off the first label whose
	// name starts so, else the last one, as transformers does.
	m.entail = n - 1
	found := false
	for i := range m.labels {
		if l, ok := c.ID2Label[strconv.Itoa(i)]; ok {
			m.labels[i] = l
		} else {
			m.labels[i] = "LABEL_" + strconv.Itoa(i)
		}
		if !found && strings.HasPrefix(strings.ToLower(m.labels[i]), "entail") {
			m.entail, found = i, true
		}
	}
	if m.opts.Task == "zero-shot-classification" && n < 2 {
		return errors.New("zero-shot classification needs an NLI model with entailment and contradiction labels; config.json names one label")
	}
	switch {
	case c.ProblemType == "multi_label_classification" || n == 1:
		m.fn = "sigmoid"
	case c.ProblemType == "regression":
		m.fn = "none"
	}
	return nil
}

// item is one input of a forward pass: a text, or a text pair.
type item struct {
	text, pair string
	hasPair    bool
	truncate   bool
	// enc is the item's tokens once count has taken them, so that the
	// batcher's serial loop does not tokenize again.
	enc *tokenizer.Encoding
}

// inputError is a request the model cannot serve, with its status.
type inputError struct {
	status int
	msg    string
}

func (e *inputError) Error() string { return e.msg }

func badInput(status int, format string, args ...any) error {
	return &inputError{status: status, msg: fmt.Sprintf(format, args...)}
}

// encode tokenizes one item, truncating it to the model's limit when asked.
func (m *Model) encode(it item) (*tokenizer.Encoding, error) {
	tk := m.tok
	if it.truncate {
		tk = m.trunc
	}
	if it.hasPair {
		return tk.EncodePair(it.text, it.pair, true)
	}
	return tk.EncodeSingle(it.text, true)
}

// count tokenizes items, keeping each one's tokens for the forward pass,
// and refuses (413) any longer than the model takes unless it is to be
// truncated; it returns the tokens of all.
func (m *Model) count(items []item) (int, error) {
	total := 0
	for i, it := range items {
		enc, err := m.encode(it)
		if err != nil {
			return 0, badInput(422, "input %d cannot be tokenized: %v", i, err)
		}
		n := len(enc.Ids)
		if n > m.maxLen {
			return 0, badInput(413, "input %d is %d tokens, more than this model's limit of %d tokens; shorten it or pass truncate=true", i, n, m.maxLen)
		}
		// Within the limit the truncating tokenizer gives the same tokens.
		items[i].enc = enc
		total += n
	}
	return total, nil
}

// forward runs items through the graph: pooled (not normalised) embeddings
// or classification logits, one row per item. The items of a gathered
// batch run in passes of similar length (see split), so that short inputs
// are not padded to the longest one, as many at once as the model has
// slots (Options.Passes): a lone request of many inputs uses every slot.
func (m *Model) forward(items []item) ([][]float32, error) {
	encs := make([]*tokenizer.Encoding, len(items))
	lens := make([]int, len(items))
	for i, it := range items {
		enc := it.enc
		if enc == nil { // the warm-up pass: not counted
			it.truncate = true
			var err error
			if enc, err = m.encode(it); err != nil {
				return nil, err
			}
		}
		encs[i] = enc
		lens[i] = max(1, len(enc.Ids))
	}
	rows := make([][]float32, len(items))
	parts := split(lens, passCost, passTokens)
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for k, part := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.slots <- struct{}{}
			defer func() { <-m.slots }()
			errs[k] = m.pass(encs, part, rows)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rows, nil
}

// pass runs the inputs encs[i] for i in part through the graph as one
// padded batch and sets their rows.
func (m *Model) pass(encs []*tokenizer.Encoding, part []int, rows [][]float32) error {
	seq := 1
	for _, i := range part {
		seq = max(seq, len(encs[i].Ids))
	}
	b := &batch{n: len(part), seq: seq}
	b.ids = make([]int64, b.n*seq)
	b.mask = make([]int64, b.n*seq)
	b.types = make([]int64, b.n*seq)
	for k, i := range part {
		enc := encs[i]
		for j, id := range enc.Ids {
			b.ids[k*seq+j] = int64(id)
			b.mask[k*seq+j] = int64(enc.AttentionMask[j])
			if j < len(enc.TypeIds) && !m.noTypes {
				b.types[k*seq+j] = int64(enc.TypeIds[j])
			}
		}
	}
	out, err := m.graph.run(b)
	if err != nil {
		return err
	}
	switch len(out.shape) {
	case 2: // pooled already (sentence embeddings or logits)
		d := out.shape[1]
		for k, i := range part {
			rows[i] = append([]float32(nil), out.data[k*d:(k+1)*d]...)
		}
	case 3: // token states: pool them, or per-token logits
		s, d := out.shape[1], out.shape[2]
		for k, i := range part {
			states := out.data[k*s*d : (k+1)*s*d]
			if m.kind == kindTokens {
				rows[i] = append([]float32(nil), states[:min(len(encs[i].Ids), s)*d]...)
			} else {
				rows[i] = pool(states, b.mask[k*seq:k*seq+min(s, seq)], d, m.pooling)
			}
		}
	default:
		return fmt.Errorf("the model's first output has shape %v; want [batch, tokens, dim] or [batch, dim]", out.shape)
	}
	return nil
}

// pool reduces the token states of one input to one vector: the mean of
// those under the attention mask, or the first token's.
func pool(states []float32, mask []int64, d int, mode string) []float32 {
	out := make([]float32, d)
	if mode == "cls" {
		copy(out, states[:d])
		return out
	}
	sum := make([]float64, d)
	n := 0.0
	for j, on := range mask {
		if on == 0 {
			continue
		}
		n++
		for k, v := range states[j*d : (j+1)*d] {
			sum[k] += float64(v)
		}
	}
	n = math.Max(n, 1e-9)
	for k := range out {
		out[k] = float32(sum[k] / n)
	}
	return out
}

// normalize scales v to unit L2 length in place.
func normalize(v []float32) {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Max(math.Sqrt(s), 1e-12)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
}

// Embed returns the embeddings of texts, L2-normalised when normalize;
// tokens is how many tokens they took.
func (m *Model) Embed(texts []string, norm, truncate bool) (rows [][]float32, tokens int, err error) {
	if m.kind != kindEmbedding {
		return nil, 0, badInput(422, "model %s serves %s, not embeddings", m.opts.Name, m.opts.Task)
	}
	if len(texts) > m.opts.MaxBatch {
		return nil, 0, badInput(413, "%d inputs in one request; this engine takes at most %d", len(texts), m.opts.MaxBatch)
	}
	items := make([]item, len(texts))
	for i, t := range texts {
		items[i] = item{text: t, truncate: truncate}
	}
	if tokens, err = m.count(items); err != nil {
		return nil, 0, err
	}
	rows, err = m.batcher.submit(items)
	if err != nil {
		return nil, 0, err
	}
	if norm {
		for _, r := range rows {
			normalize(r)
		}
	}
	return rows, tokens, nil
}
