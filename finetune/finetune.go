// Package finetune turns a dataset repository, a base model repository and
// a task into a fine-tuning job: it checks the choice against the model's
// files and the dataset's columns (as the dataset viewer read them), writes
// the training program and its configuration, and submits them as a job
// whose environment is built from pinned requirements. The job pushes a
// new model repository with a model card naming its base model and
// dataset.
package finetune

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/jobs"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/mlstack"
	"github.com/havenhub/haven/runner"
	"github.com/havenhub/haven/viewer"
)

// program is the training program (its environment: mlstack).
//
//go:embed train/*.py
var program embed.FS

// Label marks the jobs that are fine-tunes; its value is the task.
const Label = "haven-finetune"

// Task is a kind of fine-tune the training program knows.
type Task struct {
	Name, Title string
	// LearningRate is the program's default for the task.
	LearningRate float64
	// Layouts are the sets of columns the task can map, one of which a
	// request names.
	Layouts [][]Role
}

// Role is a column a task reads.
type Role struct {
	Name     string `json:"name"`
	Optional bool   `json:"optional,omitempty"`
}

func roles(names ...string) []Role {
	var out []Role
	for _, n := range names {
		opt := strings.HasSuffix(n, "?")
		out = append(out, Role{Name: strings.TrimSuffix(n, "?"), Optional: opt})
	}
	return out
}

// Tasks are the tasks offered (the program's TASKS).
var Tasks = []Task{
	{"text-classification", "Text classification", 5e-5, [][]Role{roles("text", "label")}},
	{"token-classification", "Token classification", 5e-5, [][]Role{roles("tokens", "tags")}},
	{"causal-lm-lora", "Causal LM supervised fine-tuning (LoRA)", 2e-4, [][]Role{roles("text"), roles("prompt", "completion"), roles("messages")}},
	{"sentence-embedding", "Sentence embeddings", 2e-5, [][]Role{roles("anchor", "positive", "negative?"), roles("sentence1", "sentence2", "score")}},
}

// HasWeights reports whether a model's top-level files include a
// configuration and weights, which a fine-tune starts from.
func HasWeights(paths []string) bool {
	config, weights := false, false
	for _, p := range paths {
		switch {
		case p == "config.json":
			config = true
		case strings.HasSuffix(p, ".safetensors"), p == "pytorch_model.bin", strings.HasSuffix(p, ".safetensors.index.json"):
			weights = true
		}
	}
	return config && weights
}

// Config is what the service needs.
type Config struct {
	Meta  *meta.Store
	Git   *gitstore.Store
	Blobs blob.Driver // where the dataset viewer keeps its state
	Jobs  *jobs.Service
	GPUs  *runner.GPUPool
	// Dir holds the program and configuration of each fine-tune.
	Dir       string
	PublicURL string
	Logger    *slog.Logger
}

// Service starts fine-tunes.
type Service struct {
	cfg          Config
	log          *slog.Logger
	requirements []string
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	lines := mlstack.Requirements()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, log: cfg.Logger, requirements: lines}, nil
}

// Requirements are the pinned requirements of the training environment.
func (s *Service) Requirements() []string { return append([]string(nil), s.requirements...) }

// Request is what people choose: the API's body and the form's fields.
type Request struct {
	Task            string            `json:"task"`
	BaseModel       string            `json:"base_model"`
	BaseRevision    string            `json:"base_revision,omitempty"`
	Dataset         string            `json:"dataset"`
	DatasetConfig   string            `json:"dataset_config,omitempty"`
	TrainSplit      string            `json:"train_split,omitempty"`
	EvalSplit       string            `json:"eval_split,omitempty"`
	Columns         map[string]string `json:"columns"`
	Hyperparameters map[string]any    `json:"hyperparameters,omitempty"`
	// OutputRepo is "name" (in the caller's namespace) or "namespace/name".
	OutputRepo string `json:"output_repo"`
	Private    bool   `json:"private,omitempty"`
	Flavor     string `json:"flavor,omitempty"`
	// TimeoutSeconds bounds the job (default: 2 hours).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// trainConfig is the training program's configuration file.
type trainConfig struct {
	Task            string            `json:"task"`
	BaseModel       string            `json:"base_model"`
	BaseRevision    string            `json:"base_revision"`
	Dataset         string            `json:"dataset"`
	DatasetConfig   *string           `json:"dataset_config"`
	TrainSplit      string            `json:"train_split"`
	EvalSplit       *string           `json:"eval_split"`
	Columns         map[string]string `json:"columns"`
	Hyperparameters map[string]any    `json:"hyperparameters"`
	OutputRepo      string            `json:"output_repo"`
	Private         bool              `json:"private"`
	CheckpointDir   *string           `json:"checkpoint_dir"`
}

// hyperparameters are the names the program takes, with their kinds.
var hyperparameters = map[string]string{
	"epochs": "number", "learning_rate": "number", "batch_size": "int", "max_length": "int", "seed": "int",
	"warmup_ratio": "number", "weight_decay": "number", "lora_r": "int", "lora_alpha": "int",
	"lora_dropout": "number", "eval_steps": "int", "max_steps": "int",
}

func invalid(format string, args ...any) error { return haven.Errorf(haven.EInvalid, format, args...) }

// Start checks req for the actor and submits the fine-tune as a job.
func (s *Service) Start(ctx context.Context, a *auth.Actor, req Request) (*haven.Job, error) {
	if a.Anonymous() {
		return nil, haven.Errorf(haven.EUnauthorized, "You must be authenticated to fine-tune. Please log in or pass a token.")
	}
	if !knownTask(req.Task) {
		var names []string
		for _, t := range Tasks {
			names = append(names, t.Name)
		}
		return nil, invalid("Unknown task %q: expected one of %s", req.Task, strings.Join(names, ", "))
	}
	out := req.OutputRepo
	if !strings.Contains(out, "/") {
		out = a.User.Name + "/" + out
	}
	outID, err := haven.ParseRepoID(out)
	if err != nil {
		return nil, invalid("Invalid output repository %q: expected a name, or namespace/name", req.OutputRepo)
	}
	if err := auth.CanCreateIn(a, haven.Model, outID.Namespace); err != nil {
		return nil, err
	}
	if err := auth.CanRunJobs(a, outID.Namespace, true); err != nil {
		return nil, err
	}
	if _, err := s.cfg.Meta.RepoByName(ctx, haven.Model, outID.Namespace, outID.Name); err == nil {
		return nil, haven.Errorf(haven.EConflict, "The model %s already exists: choose another name for the fine-tuned model", outID)
	}
	ns, err := s.cfg.Meta.UserByName(ctx, outID.Namespace)
	if err != nil {
		return nil, invalid("Unknown namespace %s", outID.Namespace)
	}
	revision, err := s.checkModel(ctx, a, req)
	if err != nil {
		return nil, err
	}
	cfgName, trainSplit, evalSplit, err := s.checkDataset(ctx, a, req)
	if err != nil {
		return nil, err
	}
	hp := map[string]any{}
	for k, v := range req.Hyperparameters {
		kind, ok := hyperparameters[k]
		if !ok {
			return nil, invalid("Unknown hyperparameter %q", k)
		}
		f, ok := v.(float64)
		if v == nil {
			continue
		}
		if !ok || f < 0 || (kind == "int" && f != float64(int64(f))) {
			return nil, invalid("The hyperparameter %s must be a non-negative %s", k, kind)
		}
		hp[k] = v
	}
	flavor := req.Flavor
	if flavor == "" {
		flavor = runner.DefaultFlavor
	}
	if err := runner.JobFlavors(s.cfg.GPUs).Check(flavor); err != nil {
		return nil, invalid("%s", err.Error())
	}

	tc := trainConfig{
		Task: req.Task, BaseModel: req.BaseModel, BaseRevision: revision, Dataset: req.Dataset,
		TrainSplit: trainSplit, Columns: req.Columns, Hyperparameters: hp, OutputRepo: outID.String(), Private: req.Private,
	}
	if cfgName != "" {
		tc.DatasetConfig = &cfgName
	}
	if evalSplit != "" {
		tc.EvalSplit = &evalSplit
	}
	files, err := s.writeProgram(tc)
	if err != nil {
		return nil, err
	}
	timeout := req.TimeoutSeconds
	if timeout <= 0 {
		timeout = 2 * 60 * 60
	}
	spec := haven.JobSpec{
		DockerImage:    "python:3",
		Command:        []string{"python", "train.py", "config.json"},
		Arguments:      []string{},
		Environment:    map[string]string{"TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1"},
		Flavor:         flavor,
		TimeoutSeconds: timeout,
		Labels: map[string]string{
			Label:        req.Task,
			"base-model": labelValue(req.BaseModel),
			"dataset":    labelValue(req.Dataset),
			"output":     labelValue(outID.String()),
		},
		Requirements: s.Requirements(),
		Files:        files,
		Resumable:    true,
	}
	if a.Token != nil && a.Token.FineGrained != nil {
		spec.Scopes = a.Token.FineGrained
	}
	return s.cfg.Jobs.Submit(ctx, ns, a.User, "user", "", spec, nil)
}

// Retry starts a fine-tune again from the configuration of job j.
func (s *Service) Retry(ctx context.Context, a *auth.Actor, j *haven.Job) (*haven.Job, error) {
	if j.Spec.Labels[Label] == "" || j.Spec.Files == "" {
		return nil, invalid("Job %s is not a fine-tune", j.ID)
	}
	if !haven.JobTerminal(j.Stage) {
		return nil, haven.Errorf(haven.EConflict, "Job %s is still running: cancel it first", j.ID)
	}
	if err := auth.CanRunJobs(a, j.Owner, true); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(j.Spec.Files, "config.json"))
	if err != nil {
		return nil, invalid("The configuration of job %s is gone", j.ID)
	}
	var tc trainConfig
	if err := json.Unmarshal(b, &tc); err != nil {
		return nil, err
	}
	files, err := s.writeProgram(tc)
	if err != nil {
		return nil, err
	}
	ns, err := s.cfg.Meta.UserByID(ctx, j.OwnerID)
	if err != nil {
		return nil, err
	}
	spec := j.Spec
	spec.Files, spec.Requirements = files, s.Requirements()
	spec.Scopes = nil
	if a.Token != nil && a.Token.FineGrained != nil {
		spec.Scopes = a.Token.FineGrained
	}
	return s.cfg.Jobs.Submit(ctx, ns, a.User, "user", "", spec, nil)
}

// writeProgram writes the training program and its configuration into a
// folder of their own, which the job runs in.
func (s *Service) writeProgram(tc trainConfig) (string, error) {
	dir, err := os.MkdirTemp(s.cfg.Dir, "ft-")
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(program, "train", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(program, p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path.Base(p)), b, 0o644)
	})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), mlstack.File(), 0o644); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(tc, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

func knownTask(name string) bool {
	for _, t := range Tasks {
		if t.Name == name {
			return true
		}
	}
	return false
}

// labelValue writes a repository id as a label value, which may not hold
// "/".
func labelValue(id string) string {
	v := strings.ReplaceAll(id, "/", "--")
	if len(v) > 100 {
		v = v[:100]
	}
	return v
}

// checkModel checks that the base model exists, that the actor may read
// its files, and that it has a configuration and weights; it returns the
// commit to train from.
func (s *Service) checkModel(ctx context.Context, a *auth.Actor, req Request) (string, error) {
	id, err := haven.ParseRepoID(req.BaseModel)
	if err != nil {
		return "", invalid("Invalid base model %q: expected namespace/name", req.BaseModel)
	}
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Model, id.Namespace, id.Name)
	if err != nil {
		return "", invalid("The base model %s does not exist", req.BaseModel)
	}
	if err := auth.CanDownload(a, repo, ""); err != nil {
		return "", invalid("The base model %s does not exist or you may not read its files", req.BaseModel)
	}
	g, err := s.cfg.Git.Open(ctx, haven.Model, id)
	if err != nil {
		return "", err
	}
	rev := req.BaseRevision
	if rev == "" {
		rev = "main"
	}
	sha, err := g.Resolve(rev)
	if err != nil {
		return "", invalid("The base model %s has no revision %q", req.BaseModel, rev)
	}
	entries, err := g.List(sha, "", false)
	if err != nil {
		return "", err
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.Path)
	}
	if !HasWeights(paths) {
		return "", invalid("The base model %s has no weights to fine-tune: it needs a config.json and model.safetensors (or pytorch_model.bin) at %s", req.BaseModel, rev)
	}
	return sha, nil
}

// checkDataset checks that the dataset exists, that the actor may read it,
// and that its columns, as the dataset viewer read them, fit the task. It
// returns the config and splits to use.
func (s *Service) checkDataset(ctx context.Context, a *auth.Actor, req Request) (config, train, eval string, err error) {
	id, err := haven.ParseRepoID(req.Dataset)
	if err != nil {
		return "", "", "", invalid("Invalid dataset %q: expected namespace/name", req.Dataset)
	}
	repo, err := s.cfg.Meta.RepoByName(ctx, haven.Dataset, id.Namespace, id.Name)
	if err != nil {
		return "", "", "", invalid("The dataset %s does not exist", req.Dataset)
	}
	if err := auth.CanDownload(a, repo, ""); err != nil {
		return "", "", "", invalid("The dataset %s does not exist or you may not read its files", req.Dataset)
	}
	g, err := s.cfg.Git.Open(ctx, haven.Dataset, id)
	if err != nil {
		return "", "", "", err
	}
	sha, err := g.Resolve("main")
	if err != nil {
		return "", "", "", invalid("The dataset %s has no files", req.Dataset)
	}
	st, err := viewer.LoadState(ctx, s.cfg.Blobs, repo.ID, sha)
	if err != nil || st == nil {
		return "", "", "", invalid("The dataset viewer has not read %s yet: try again in a moment", req.Dataset)
	}
	if st.Error != nil {
		return "", "", "", invalid("The dataset viewer cannot read %s: %s", req.Dataset, st.Error.Message)
	}
	var c *viewer.Config
	if req.DatasetConfig != "" {
		c = st.ConfigByName(req.DatasetConfig)
		if c == nil {
			return "", "", "", invalid("The dataset %s has no config %q", req.Dataset, req.DatasetConfig)
		}
	} else {
		for i := range st.Configs {
			if c == nil || st.Configs[i].Default {
				c = &st.Configs[i]
			}
		}
		if c == nil {
			return "", "", "", invalid("The dataset %s has no data the viewer could read", req.Dataset)
		}
	}
	if c.Error != nil {
		return "", "", "", invalid("The dataset viewer cannot read the config %s of %s: %s", c.Name, req.Dataset, c.Error.Message)
	}
	train = req.TrainSplit
	if train == "" {
		train = "train"
	}
	if c.SplitByName(train) == nil {
		return "", "", "", invalid("The dataset %s has no split %q: it has %s", req.Dataset, train, splitNames(c))
	}
	eval = req.EvalSplit
	if eval == "" {
		for _, name := range []string{"validation", "valid", "test"} {
			if c.SplitByName(name) != nil {
				eval = name
				break
			}
		}
	} else if c.SplitByName(eval) == nil {
		return "", "", "", invalid("The dataset %s has no split %q: it has %s", req.Dataset, eval, splitNames(c))
	}
	if err := checkColumns(req.Task, req.Columns, c.Features); err != nil {
		return "", "", "", err
	}
	return c.Name, train, eval, nil
}

func splitNames(c *viewer.Config) string {
	var names []string
	for _, sp := range c.Splits {
		names = append(names, sp.Name)
	}
	return strings.Join(names, ", ")
}

// feature is the part of a datasets feature type that the checks read.
type feature struct {
	Type    string          `json:"_type"`
	Dtype   string          `json:"dtype"`
	Names   []string        `json:"names"`
	Feature json.RawMessage `json:"feature"`
}

func parseFeature(raw json.RawMessage) feature {
	var f feature
	if len(raw) > 0 && raw[0] == '[' {
		// A list written as [inner].
		var inner []json.RawMessage
		json.Unmarshal(raw, &inner)
		f.Type = "List"
		if len(inner) > 0 {
			f.Feature = inner[0]
		}
		return f
	}
	json.Unmarshal(raw, &f)
	return f
}

func (f feature) isString() bool {
	return f.Type == "Value" && (f.Dtype == "string" || f.Dtype == "large_string")
}
func (f feature) isNumber() bool {
	return f.Type == "Value" && (strings.HasPrefix(f.Dtype, "int") || strings.HasPrefix(f.Dtype, "uint") || strings.HasPrefix(f.Dtype, "float") || f.Dtype == "double")
}
func (f feature) isInt() bool {
	return f.Type == "Value" && (strings.HasPrefix(f.Dtype, "int") || strings.HasPrefix(f.Dtype, "uint") || f.Dtype == "bool")
}
func (f feature) isList() bool {
	return f.Type == "List" || f.Type == "Sequence" || f.Type == "LargeList"
}
func (f feature) elem() feature { return parseFeature(f.Feature) }

// checkColumns checks that the mapped columns exist and have types the
// task can train on, saying what to change when not.
func checkColumns(task string, cols map[string]string, features viewer.Features) error {
	types := map[string]feature{}
	var names []string
	for _, c := range features {
		types[c.Name] = parseFeature(c.Type)
		names = append(names, c.Name)
	}
	get := func(role string) (feature, error) {
		name := cols[role]
		if name == "" {
			return feature{}, invalid("Map the %s column: the dataset's columns are %s", role, strings.Join(names, ", "))
		}
		f, ok := types[name]
		if !ok {
			return feature{}, invalid("The dataset has no column %q (for %s): its columns are %s", name, role, strings.Join(names, ", "))
		}
		return f, nil
	}
	need := func(role string, ok func(feature) bool, what string) error {
		f, err := get(role)
		if err != nil {
			return err
		}
		if !ok(f) {
			return invalid("The column %q (for %s) must hold %s", cols[role], role, what)
		}
		return nil
	}
	for role := range cols {
		switch role {
		case "text", "label", "tokens", "tags", "prompt", "completion", "messages", "anchor", "positive", "negative", "sentence1", "sentence2", "score":
		default:
			return invalid("Unknown column role %q for %s", role, task)
		}
	}
	isString := func(f feature) bool { return f.isString() }
	switch task {
	case "text-classification":
		if err := need("text", isString, "text"); err != nil {
			return err
		}
		return need("label", func(f feature) bool { return f.Type == "ClassLabel" || f.isString() || f.isInt() },
			"class labels (a ClassLabel, strings or integers)")
	case "token-classification":
		if err := need("tokens", func(f feature) bool { return f.isList() && f.elem().isString() }, "lists of words"); err != nil {
			return err
		}
		return need("tags", func(f feature) bool {
			e := f.elem()
			return f.isList() && (e.Type == "ClassLabel" || e.isInt() || e.isString())
		}, "lists of tags (ClassLabels, integers or strings), one per word")
	case "causal-lm-lora":
		switch {
		case cols["messages"] != "":
			return need("messages", func(f feature) bool { return f.isList() }, "lists of chat messages")
		case cols["prompt"] != "" || cols["completion"] != "":
			if err := need("prompt", isString, "text"); err != nil {
				return err
			}
			return need("completion", isString, "text")
		default:
			return need("text", isString, "text")
		}
	case "sentence-embedding":
		if cols["sentence1"] != "" || cols["score"] != "" {
			for _, role := range []string{"sentence1", "sentence2"} {
				if err := need(role, isString, "text"); err != nil {
					return err
				}
			}
			return need("score", func(f feature) bool { return f.isNumber() }, "similarity scores (numbers)")
		}
		for _, role := range []string{"anchor", "positive"} {
			if err := need(role, isString, "text"); err != nil {
				return err
			}
		}
		if cols["negative"] != "" {
			return need("negative", isString, "text")
		}
		return nil
	}
	return fmt.Errorf("unknown task %s", task)
}
