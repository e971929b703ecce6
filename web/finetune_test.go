package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/finetune"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/web"
)

// fakeFinetune stands for the fine-tuning service: it records what the
// form asked for and answers with err, or with a job of the output's
// namespace.
type fakeFinetune struct {
	mu      sync.Mutex
	reqs    []finetune.Request
	retried []string
	err     error
}

func (f *fakeFinetune) Start(_ context.Context, a *auth.Actor, req finetune.Request) (*haven.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.err != nil {
		return nil, f.err
	}
	owner, _, _ := strings.Cut(req.OutputRepo, "/")
	return &haven.Job{ID: "0123456789abcdef01234567", Owner: owner, Initiator: a.User.Name}, nil
}

func (f *fakeFinetune) Retry(_ context.Context, a *auth.Actor, j *haven.Job) (*haven.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, j.ID)
	return &haven.Job{ID: "76543210fedcba9876543210", Owner: j.Owner, Initiator: a.User.Name}, nil
}

func (f *fakeFinetune) last() (finetune.Request, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return finetune.Request{}, 0
	}
	return f.reqs[len(f.reqs)-1], len(f.reqs)
}

// newFinetuneSite is the API and the pages with a fake fine-tuning
// service behind the form, with users alice and bob.
func newFinetuneSite(t *testing.T) (*site, *fakeFinetune) {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t)
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	pages, err := web.New(web.Config{Meta: st.Meta, Git: st.Git, PublicURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, PublicURL: ts.URL, Secret: []byte("test-secret-test-secret-test-secret"),
		Web: pages, Sessions: pages})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	fake := &fakeFinetune{}
	pages.Finetune = fake
	ts.Config.Handler = srv
	s := &site{t: t, url: ts.URL, meta: st.Meta, handler: srv, tokens: map[string]string{}}
	for _, name := range []string{"alice", "bob"} {
		hash, _ := bcrypt.GenerateFromPassword([]byte("password-"+name), bcrypt.MinCost)
		u := &haven.User{Name: name}
		if err := st.Meta.CreateUser(ctx, u, string(hash)); err != nil {
			t.Fatal(err)
		}
		plain, th := auth.NewToken()
		if err := st.Meta.CreateToken(ctx, &haven.Token{UserID: u.ID, DisplayName: "cli", Role: haven.RoleWrite}, th); err != nil {
			t.Fatal(err)
		}
		s.tokens[name] = plain
	}
	return s, fake
}

// ftForm is a filled-in form as the page sends it with its script: the
// text classification columns, the hyperparameters shown.
func ftForm(edit func(url.Values)) url.Values {
	v := url.Values{
		"base_model": {"alice/bert"}, "dataset": {"alice/reviews"}, "task": {"text-classification"},
		"dataset_config": {"default"}, "train_split": {"train"}, "eval_split": {""},
		"col.text-classification.text": {"text"}, "col.text-classification.label": {"label"},
		"hp.epochs": {"5"}, "hp.learning_rate": {"0.003"}, "hp.batch_size": {"8"}, "hp.max_length": {"128"},
		"owner": {"alice"}, "output_repo": {"bert-finetuned-reviews"}, "flavor": {"cpu-basic"},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

func TestFinetuneForm(t *testing.T) {
	s, fake := newFinetuneSite(t)
	alice, anon, foreign := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	foreign.signIn("alice")
	foreign.origin = "http://evil.example"
	s.createRepo("alice", "bert", false)

	type want struct {
		status   int
		location string // prefix
		has      []string
		hasNot   []string
		started  bool // the service was asked
	}
	tests := []struct {
		name string
		b    *browser
		get  string     // a GET of this path, or
		post url.Values // a POST of the form
		svc  error      // what the service answers
		want want
	}{
		{name: "form, anonymous", b: anon, get: "/finetune/new?base_model=alice/bert",
			want: want{status: 303, location: "/login?next=%2Ffinetune%2Fnew%3Fbase_model%3Dalice%2Fbert"}},
		{name: "submit, anonymous", b: anon, post: ftForm(nil),
			want: want{status: 303, location: "/login?next="}},
		{name: "form, prefilled", b: alice, get: "/finetune/new?base_model=alice/bert&dataset=alice/reviews",
			want: want{status: 200, has: []string{`value="alice/bert"`, `value="alice/reviews"`, `<option value="alice/bert">`,
				`value="bert-finetuned-reviews"`, `name="col.text-classification.text"`, `name="col.causal-lm-lora.messages"`,
				`value="text-classification" data-lr="5e-5" selected`, `name="hp.epochs" type="text" inputmode="decimal" value="3"`,
				`name="hp.learning_rate" type="text" inputmode="decimal" value="5e-5"`, `name="hp.lora_r"`, `<option value="cpu-basic" selected>`,
				"finetune.js"}}},
		{name: "form, unknown task falls back", b: alice, get: "/finetune/new?task=nonsense",
			want: want{status: 200, has: []string{`value="text-classification" data-lr="5e-5" selected`}}},
		{name: "submit, started", b: alice, post: ftForm(nil),
			want: want{status: 303, location: "/jobs/alice/0123456789abcdef01234567", started: true}},
		{name: "submit, refused by the service", b: alice, post: ftForm(nil),
			svc: haven.Errorf(haven.EInvalid, `The dataset alice/reviews has no column "label" (for label): its columns are text, stars`),
			want: want{status: 400, started: true, has: []string{`data-ft-error>The dataset alice/reviews has no column &#34;label&#34;`,
				`value="alice/bert"`, `value="alice/reviews"`, `value="bert-finetuned-reviews"`, `name="hp.epochs" type="text" inputmode="decimal" value="5"`}}},
		{name: "submit, name taken", b: alice, post: ftForm(nil),
			svc:  haven.Errorf(haven.EConflict, "The model alice/bert-finetuned-reviews already exists: choose another name for the fine-tuned model"),
			want: want{status: 400, started: true, has: []string{"already exists: choose another name"}}},
		{name: "submit, not a number", b: alice, post: ftForm(func(v url.Values) { v.Set("hp.epochs", "three") }),
			want: want{status: 400, has: []string{"Epochs must be a non-negative number, not &#34;three&#34;.", `value="three"`}}},
		{name: "submit, fraction of a batch", b: alice, post: ftForm(func(v url.Values) { v.Set("hp.batch_size", "2.5") }),
			want: want{status: 400, has: []string{"Batch size must be a non-negative whole number"}}},
		{name: "submit, no name", b: alice, post: ftForm(func(v url.Values) { v.Set("output_repo", "") }),
			want: want{status: 400, has: []string{"Name the fine-tuned model."}}},
		{name: "submit, from another site", b: foreign, post: ftForm(nil),
			want: want{status: 403, hasNot: []string{"data-ft-form"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.err = tt.svc
			fake.mu.Unlock()
			_, before := fake.last()
			var p page
			if tt.get != "" {
				p = tt.b.get(tt.get)
			} else {
				p = tt.b.form("/finetune/new", tt.post)
			}
			if p.status != tt.want.status {
				t.Fatalf("status %d, want %d\n%s", p.status, tt.want.status, p.body)
			}
			if loc := p.header.Get("Location"); !strings.HasPrefix(loc, tt.want.location) {
				t.Errorf("location %q, want %q…", loc, tt.want.location)
			}
			for _, w := range tt.want.has {
				if !strings.Contains(p.body, w) {
					t.Errorf("no %q", w)
				}
			}
			for _, w := range tt.want.hasNot {
				if strings.Contains(p.body, w) {
					t.Errorf("has %q", w)
				}
			}
			if _, after := fake.last(); (after > before) != tt.want.started {
				t.Errorf("service asked: %v, want %v", after > before, tt.want.started)
			}
		})
	}
}

// TestFinetuneRequest checks what the form's fields become: only the
// chosen task's columns (of its chosen format), numbers as numbers, LoRA
// settings only for the LoRA task, the output in the chosen namespace.
func TestFinetuneRequest(t *testing.T) {
	s, fake := newFinetuneSite(t)
	b := s.browser()
	b.signIn("alice")
	tests := []struct {
		name string
		form url.Values
		want finetune.Request
	}{
		{"classification", ftForm(func(v url.Values) {
			v.Set("col.causal-lm-lora.text", "text") // another task's field, ignored
			v.Set("hp.lora_r", "4")                  // LoRA settings of another task, ignored
			v.Set("private", "1")
		}), finetune.Request{
			Task: "text-classification", BaseModel: "alice/bert", Dataset: "alice/reviews", DatasetConfig: "default", TrainSplit: "train",
			Columns:         map[string]string{"text": "text", "label": "label"},
			Hyperparameters: map[string]any{"epochs": 5.0, "learning_rate": 0.003, "batch_size": 8.0, "max_length": 128.0},
			OutputRepo:      "alice/bert-finetuned-reviews", Private: true, Flavor: "cpu-basic",
		}},
		{"LoRA, prompt and completion", ftForm(func(v url.Values) {
			v.Set("task", "causal-lm-lora")
			v.Set("format.causal-lm-lora", "1")
			v.Set("col.causal-lm-lora.text", "text") // the plain-text format's field, not chosen
			v.Set("col.causal-lm-lora.prompt", "question")
			v.Set("col.causal-lm-lora.completion", "answer")
			v.Set("hp.lora_r", "4")
			v.Set("hp.learning_rate", "")
			v.Set("eval_split", "test")
		}), finetune.Request{
			Task: "causal-lm-lora", BaseModel: "alice/bert", Dataset: "alice/reviews", DatasetConfig: "default", TrainSplit: "train", EvalSplit: "test",
			Columns:         map[string]string{"prompt": "question", "completion": "answer"},
			Hyperparameters: map[string]any{"epochs": 5.0, "batch_size": 8.0, "max_length": 128.0, "lora_r": 4.0},
			OutputRepo:      "alice/bert-finetuned-reviews", Flavor: "cpu-basic",
		}},
		{"embeddings without the optional negative", ftForm(func(v url.Values) {
			v.Set("task", "sentence-embedding")
			v.Set("col.sentence-embedding.anchor", "query")
			v.Set("col.sentence-embedding.positive", "doc")
			v.Set("col.sentence-embedding.negative", "")
			v.Set("col.sentence-embedding.sentence1", "s1") // the other format
			v.Set("owner", "acme")
		}), finetune.Request{
			Task: "sentence-embedding", BaseModel: "alice/bert", Dataset: "alice/reviews", DatasetConfig: "default", TrainSplit: "train",
			Columns:         map[string]string{"anchor": "query", "positive": "doc"},
			Hyperparameters: map[string]any{"epochs": 5.0, "learning_rate": 0.003, "batch_size": 8.0, "max_length": 128.0},
			OutputRepo:      "acme/bert-finetuned-reviews", Flavor: "cpu-basic",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p := b.form("/finetune/new", tt.form); p.status != http.StatusSeeOther {
				t.Fatalf("status %d\n%s", p.status, p.body)
			}
			got, _ := fake.last()
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("request\n got %s\nwant %s", g, w)
			}
		})
	}
}

// TestFinetuneButtons checks where the Fine-tune buttons show (models
// with weights, datasets), and the counts of models fine-tuned from a
// model or trained on a dataset, with their links.
func TestFinetuneButtons(t *testing.T) {
	s, _ := newFinetuneSite(t)
	for _, name := range []string{"bert", "bare", "tuned"} {
		s.createRepo("alice", name, false)
	}
	s.commit("alice", "alice/bert", "weights", map[string]string{"config.json": "{}", "model.safetensors": "weights"})
	s.commit("alice", "alice/bare", "no weights", map[string]string{"config.json": "{}", "README.md": "# Bare\n"})
	s.commit("alice", "alice/tuned", "fine-tuned", map[string]string{"config.json": "{}", "model.safetensors": "weights",
		"README.md": "---\nbase_model: alice/bert\ndatasets:\n- alice/reviews\n---\n# Tuned\n"})
	body, _ := json.Marshal(map[string]any{"name": "reviews", "type": "dataset"})
	if p := s.apiDo("POST", "/api/repos/create", s.tokens["alice"], "application/json", body); p.status != 200 {
		t.Fatalf("create dataset: %d %s", p.status, p.body)
	}
	alice, anon := s.browser(), s.browser()
	alice.signIn("alice")
	tests := []struct {
		name   string
		b      *browser
		path   string
		has    []string
		hasNot []string
	}{
		{"model with weights", alice, "/alice/bert",
			[]string{`href="/finetune/new?base_model=alice%2Fbert" data-finetune>Fine-tune<`,
				`<dt>Fine-tunes</dt><dd><a href="/models?filter=base_model%3Afinetune%3Aalice%2Fbert" data-derived="finetune" aria-label="Fine-tunes of this model: 1">1</a>`,
				`aria-label="Adapters of this model: 0"`}, nil},
		{"model with weights, anonymous", anon, "/alice/bert", []string{"data-finetune>Fine-tune<"}, nil},
		{"model without weights", alice, "/alice/bare", []string{"Fine-tunes of this model: 0"}, []string{"data-finetune"}},
		{"fine-tuned model keeps its base model chip", alice, "/alice/tuned",
			[]string{`<span class="k">base model:</span> alice/bert</a>`, `href="/alice/bert"`, `href="/datasets/alice/reviews"`}, nil},
		{"dataset", alice, "/datasets/alice/reviews",
			[]string{`href="/finetune/new?dataset=alice%2Freviews" data-finetune>Fine-tune a model on it<`,
				`<dt>Models trained on this dataset</dt><dd><a href="/models?tag=dataset%3Aalice%2Freviews"`, "Models trained on this dataset: 1"}, nil},
		{"the fine-tunes' listing", alice, "/models?tag=base_model%3Aalice%2Fbert", []string{`href="/alice/tuned"`}, []string{`href="/alice/bare"`}},
		{"the fine-tunes' listing by relation", alice, "/models?filter=base_model%3Afinetune%3Aalice%2Fbert", []string{`href="/alice/tuned"`}, []string{`href="/alice/bare"`}},
		{"the fine-tune's tree", alice, "/alice/tuned", []string{`data-base-model="alice/bert"`, `data-relation="finetune"`}, []string{"finetune:alice/bert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.b.get(tt.path)
			if p.status != 200 {
				t.Fatalf("status %d\n%s", p.status, p.body)
			}
			for _, w := range tt.has {
				if !strings.Contains(p.body, w) {
					t.Errorf("no %q", w)
				}
			}
			for _, w := range tt.hasNot {
				if strings.Contains(p.body, w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
}
