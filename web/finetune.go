package web

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/finetune"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/runner"
)

// FinetunePages is what the fine-tune form needs of the fine-tuning
// service (*finetune.Service): it checks the choice and submits the job.
type FinetunePages interface {
	Start(ctx context.Context, a *auth.Actor, req finetune.Request) (*haven.Job, error)
	Retry(ctx context.Context, a *auth.Actor, j *haven.Job) (*haven.Job, error)
}

// ftTask is a task as the form offers it: its column roles in one or more
// forms (causal LM data is plain text, prompt and completion, or chat
// messages) and the learning rate the training program uses by default.
type ftTask struct {
	Name, Title string
	Forms       []ftForm
	LR          string
	LoRA        bool
	Chosen      int // the form chosen, as the page shows it
}

type ftForm struct {
	Index int
	Label string // the roles, for the format choice
	Roles []ftRole
}

type ftRole struct {
	Role     string
	Optional bool
	Value    string // the column chosen, as the page shows it
}

// ftTasks are the service's tasks as the form shows them.
func ftTasks() []ftTask {
	var out []ftTask
	for _, t := range finetune.Tasks {
		task := ftTask{Name: t.Name, Title: t.Title, LR: strings.Replace(strconv.FormatFloat(t.LearningRate, 'g', -1, 64), "e-0", "e-", 1), LoRA: strings.Contains(t.Name, "lora")}
		for i, layout := range t.Layouts {
			f := ftForm{Index: i}
			var labels []string
			for _, r := range layout {
				f.Roles = append(f.Roles, ftRole{Role: r.Name, Optional: r.Optional})
				l := r.Name
				if r.Optional {
					l += " (optional)"
				}
				labels = append(labels, l)
			}
			f.Label = strings.Join(labels, ", ")
			task.Forms = append(task.Forms, f)
		}
		out = append(out, task)
	}
	return out
}

// ftHyper is one hyperparameter field of the form.
type ftHyper struct {
	Name, Label, Value, Hint string
	Int, LoRA                bool
}

// ftHyperDefaults are the hyperparameters the form shows, with the
// training program's defaults; an empty value leaves the default.
var ftHyperDefaults = []ftHyper{
	{Name: "epochs", Label: "Epochs", Value: "3"},
	{Name: "learning_rate", Label: "Learning rate", Hint: "the task's default"},
	{Name: "batch_size", Label: "Batch size", Value: "8", Int: true},
	{Name: "max_length", Label: "Max length", Value: "128", Int: true, Hint: "tokens"},
	{Name: "lora_r", Label: "LoRA r", Value: "8", Int: true, LoRA: true},
	{Name: "lora_alpha", Label: "LoRA alpha", Value: "16", Int: true, LoRA: true},
	{Name: "lora_dropout", Label: "LoRA dropout", Value: "0.05", LoRA: true},
}

type finetuneData struct {
	Error      string
	BaseModel  string
	Dataset    string
	Task       string
	Tasks      []ftTask
	Config     string
	TrainSplit string
	EvalSplit  string
	Hyper      []ftHyper
	Owner      string
	Owners     []string
	Output     string
	Private    bool
	Flavor     string
	Flavors    []option
	Models     []string // suggestions: the visitor's models
	Datasets   []string // and datasets
	NameEdited bool     // the output name was typed, not derived
}

// routeFinetune serves /finetune/new: the form (GET) and its submission
// (POST, guarded by the same-origin check of ServeHTTP).
func (h *Handler) routeFinetune(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) == 1 && segs[0] == "new" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		h.finetuneForm(w, r)
	case len(segs) == 1 && segs[0] == "new" && r.Method == http.MethodPost:
		h.finetuneStart(w, r)
	default:
		h.notFound(w, r)
	}
}

// finetuneForm answers GET /finetune/new, prefilled from ?base_model=,
// ?dataset= and ?task=.
func (h *Handler) finetuneForm(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to fine-tune a model."))
		return
	}
	q := r.URL.Query()
	d := finetuneData{
		BaseModel:  strings.TrimSpace(q.Get("base_model")),
		Dataset:    strings.TrimSpace(q.Get("dataset")),
		Task:       q.Get("task"),
		TrainSplit: "train",
		Owner:      a.User.Name,
		Flavor:     runner.DefaultFlavor,
	}
	d.Tasks = ftTasks()
	d.Hyper = append([]ftHyper(nil), ftHyperDefaults...)
	if d.task() == nil {
		d.Task = d.Tasks[0].Name
	}
	for i := range d.Hyper {
		if d.Hyper[i].Name == "learning_rate" {
			d.Hyper[i].Value = d.task().LR
		}
	}
	for i := range d.Tasks {
		for _, f := range d.Tasks[i].Forms {
			for k := range f.Roles {
				if !f.Roles[k].Optional {
					f.Roles[k].Value = f.Roles[k].Role
				}
			}
		}
	}
	d.Output = ftOutputName(d.BaseModel, d.Dataset)
	if err := h.finetuneChoices(r, &d); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "finetune", "Fine-tune a model", d)
}

// finetuneStart answers the form: the fine-tune is submitted as a job and
// the visitor sent to its page; a choice the service refuses shows the
// form again, as filled, with the reason above it.
func (h *Handler) finetuneStart(w http.ResponseWriter, r *http.Request) {
	a := actorOf(r)
	if a.Anonymous() {
		http.Redirect(w, r, "/login?next="+url.QueryEscape("/finetune/new"), http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d, req, msg := readFinetuneForm(r.PostForm, a)
	if msg == "" {
		j, err := h.Finetune.Start(r.Context(), a, req)
		if err == nil {
			http.Redirect(w, r, jobURL(j), http.StatusSeeOther)
			return
		}
		switch haven.ErrorCode(err) {
		case haven.EInvalid, haven.EConflict, haven.EForbidden, haven.ENotFound, haven.ERepoNotFound, haven.EUnauthorized:
			msg = haven.ErrorMessage(err)
		default:
			h.fail(w, r, err)
			return
		}
	}
	d.Error = msg
	if err := h.finetuneChoices(r, &d); err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusBadRequest, "finetune", "Fine-tune a model", d)
}

// readFinetuneForm reads the form into the page's data (to show it again)
// and the service's request; msg says what is wrong with a field the
// service cannot judge (a number that is not one).
func readFinetuneForm(v url.Values, a *auth.Actor) (d finetuneData, req finetune.Request, msg string) {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	d = finetuneData{
		BaseModel: get("base_model"), Dataset: get("dataset"), Task: get("task"),
		Config: get("dataset_config"), TrainSplit: get("train_split"), EvalSplit: get("eval_split"),
		Owner: get("owner"), Output: get("output_repo"), Private: v.Get("private") != "",
		Flavor: get("flavor"), NameEdited: v.Get("name_edited") != "",
	}
	if d.Owner == "" {
		d.Owner = a.User.Name
	}
	d.Tasks = ftTasks()
	req = finetune.Request{
		Task: d.Task, BaseModel: d.BaseModel, Dataset: d.Dataset, DatasetConfig: d.Config,
		TrainSplit: d.TrainSplit, EvalSplit: d.EvalSplit, Private: d.Private, Flavor: d.Flavor,
		Columns: map[string]string{}, Hyperparameters: map[string]any{},
	}
	if d.Output != "" {
		req.OutputRepo = d.Owner + "/" + d.Output
	}
	// Every task's columns are kept as typed; the chosen task's go out.
	for i := range d.Tasks {
		t := &d.Tasks[i]
		t.Chosen, _ = strconv.Atoi(v.Get("format." + t.Name))
		if t.Chosen < 0 || t.Chosen >= len(t.Forms) {
			t.Chosen = 0
		}
		for fi, f := range t.Forms {
			for k := range f.Roles {
				col := get("col." + t.Name + "." + f.Roles[k].Role)
				t.Forms[fi].Roles[k].Value = col
				if t.Name == d.Task && fi == t.Chosen && col != "" {
					req.Columns[f.Roles[k].Role] = col
				}
			}
		}
	}
	task := d.task()
	for _, hp := range ftHyperDefaults {
		hp.Value = get("hp." + hp.Name)
		d.Hyper = append(d.Hyper, hp)
		if hp.Value == "" || (hp.LoRA && (task == nil || !task.LoRA)) {
			continue
		}
		f, err := strconv.ParseFloat(hp.Value, 64)
		if err != nil || f < 0 || (hp.Int && f != float64(int64(f))) {
			kind := "number"
			if hp.Int {
				kind = "whole number"
			}
			if msg == "" {
				msg = hp.Label + " must be a non-negative " + kind + ", not " + strconv.Quote(hp.Value) + "."
			}
			continue
		}
		req.Hyperparameters[hp.Name] = f
	}
	if d.Output == "" && msg == "" {
		msg = "Name the fine-tuned model."
	}
	return d, req, msg
}

// task returns the chosen task, nil if unknown.
func (d *finetuneData) task() *ftTask {
	for i := range d.Tasks {
		if d.Tasks[i].Name == d.Task {
			return &d.Tasks[i]
		}
	}
	return nil
}

// finetuneChoices fills what the form offers: the namespaces the visitor
// may create models in, their models and datasets as suggestions, and
// the CPU flavors (the page's script asks the Jobs API for the GPU ones).
func (h *Handler) finetuneChoices(r *http.Request, d *finetuneData) error {
	ctx := r.Context()
	a := actorOf(r)
	d.Owners = []string{a.User.Name}
	ms, err := h.meta.Memberships(ctx, a.User.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Role == meta.RoleAdmin || m.Role == meta.RoleWrite {
			d.Owners = append(d.Owners, m.Org.Name)
		}
	}
	for _, t := range []haven.RepoType{haven.Model, haven.Dataset} {
		repos, err := h.meta.ListRepos(ctx, visible(a, meta.RepoFilter{Type: t, Author: a.User.Name, Sort: "lastModified", Limit: 100}))
		if err != nil {
			return err
		}
		for _, repo := range repos {
			if t == haven.Model {
				d.Models = append(d.Models, repo.FullName())
			} else {
				d.Datasets = append(d.Datasets, repo.FullName())
			}
		}
	}
	found := false
	for _, f := range runner.JobFlavors(nil).List() {
		d.Flavors = append(d.Flavors, option{f.Name, f.Describe(), f.Name == d.Flavor})
		found = found || f.Name == d.Flavor
	}
	if !found && d.Flavor != "" {
		d.Flavors = append(d.Flavors, option{d.Flavor, d.Flavor, true})
	}
	return nil
}

// ftOutputName is the default name of a fine-tuned model:
// "{base}-finetuned-{dataset}", from the names without namespaces.
func ftOutputName(base, dataset string) string {
	if base == "" || dataset == "" {
		return ""
	}
	name := path.Base(base) + "-finetuned-" + path.Base(dataset)
	if len(name) > 96 {
		name = name[:96]
	}
	return name
}

// hasWeights reports whether a model's files at sha include a
// configuration and weights, which a fine-tune starts from (the service
// checks the same).
func hasWeights(v *repoView) bool {
	entries, err := v.g.List(v.SHA, "", false)
	if err != nil {
		return false
	}
	paths := make([]string, 0, len(entries))
	for _, e := range entries {
		paths = append(paths, e.Path)
	}
	return finetune.HasWeights(paths)
}
