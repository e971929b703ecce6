package web

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/lfs"
)

// repoView is what every repository page shows around its content.
type repoView struct {
	Repo     *haven.Repo
	Tab      string
	Rev      string // the revision as named in the URL (branch, tag or sha)
	SHA      string // the commit it resolves to
	Refs     gitstore.Refs
	APIPath  string // "/api/models/ns/name", escaped
	SignedIn bool
	Liked    bool
	CanWrite bool
	CanAdmin bool
	Viewer   bool       // the repository is a dataset and the viewer is served
	Space    *spaceView // the app of a Space, when Spaces run beside the pages
	// SettingsTab shows the Settings tab: to administrators, and to writers
	// of a Space, who may change how it runs.
	SettingsTab bool
	// Mirror is the source a pull mirror follows; PushMirrors, for
	// administrators, where the repository is published.
	Mirror      *mirrorView
	PushMirrors []mirrorView

	// The branch and tag switcher links to SwitchBase + rev + SwitchPath.
	SwitchBase, SwitchPath string
	TreeBase               string // the tree root at Rev
	Crumbs                 []crumb

	g *gitstore.Repo
}

// View returns the view itself, for templates: pages embed it, and the
// shared parts of the layout take it whole.
func (v *repoView) View() *repoView { return v }

type crumb struct{ Name, URL string }

// escPath escapes each segment of a slash-separated path.
func escPath(p string) string {
	if p == "" {
		return ""
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// routeRepo serves the pages under a repository's URL.
func (h *Handler) routeRepo(w http.ResponseWriter, r *http.Request, t haven.RepoType, ns, name string, rest []string) {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	if !get {
		h.notFound(w, r)
		return
	}
	repo, err := h.findRepo(r, t, ns, name, rest)
	if err != nil {
		if moved, ok := err.(*movedError); ok {
			http.Redirect(w, r, moved.to, http.StatusMovedPermanently)
			return
		}
		h.fail(w, r, err)
		return
	}
	action := ""
	if len(rest) > 0 {
		action, rest = rest[0], rest[1:]
	}
	switch action {
	case "blob", "commit", "viewer":
		// File contents (and diffs, and rows) of a gated repository are for
		// those who may download them; the card and the file list are not.
		if err := auth.CanDownload(actorOf(r), repo, h.base.String()+repoURL(repo)); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	switch action {
	case "":
		if len(rest) == 0 {
			h.repoCard(w, r, repo)
			return
		}
	case "logs":
		if len(rest) == 0 && repo.Type == haven.Space {
			h.spaceLogs(w, r, repo)
			return
		}
	case "tree":
		h.tree(w, r, repo, rest)
		return
	case "blob":
		h.blob(w, r, repo, rest)
		return
	case "commits":
		h.commits(w, r, repo, rest)
		return
	case "commit":
		if len(rest) == 1 {
			h.commit(w, r, repo, rest[0])
			return
		}
	case "refs":
		h.refs(w, r, repo)
		return
	case "provenance":
		if len(rest) == 0 && repo.Type == haven.Model && h.Evals != nil {
			h.provenance(w, r, repo)
			return
		}
	case "insights":
		h.insights(w, r, repo)
		return
	case "viewer":
		if len(rest) == 0 {
			h.datasetViewer(w, r, repo)
			return
		}
	case "settings":
		h.repoSettings(w, r, repo)
		return
	case "access-requests":
		h.accessRequests(w, r, repo)
		return
	case "discussions":
		h.discussions(w, r, repo, rest)
		return
	case "upload":
		h.upload(w, r, repo, rest)
		return
	case "edit":
		h.edit(w, r, repo, rest)
		return
	}
	h.notFound(w, r)
}

// movedError sends the visitor to a repository's new name.
type movedError struct{ to string }

func (e *movedError) Error() string { return "moved to " + e.to }

// findRepo finds a repository the visitor may read. A renamed repository
// gives a *movedError with the same page under the new name; a hidden one
// is not found, exactly like a missing one.
func (h *Handler) findRepo(r *http.Request, t haven.RepoType, ns, name string, rest []string) (*haven.Repo, error) {
	a := actorOf(r)
	repo, err := h.meta.RepoByName(r.Context(), t, ns, name)
	if haven.IsCode(err, haven.ERepoNotFound) {
		moved, rerr := h.meta.Redirect(r.Context(), t, ns, name)
		if rerr != nil || auth.Can(a, auth.Read, moved) != nil {
			return nil, auth.RepoNotFound()
		}
		to := repoURL(moved)
		if len(rest) > 0 {
			to += "/" + escPath(strings.Join(rest, "/"))
		}
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		return nil, &movedError{to}
	}
	if err != nil {
		return nil, err
	}
	if err := auth.Can(a, auth.Read, repo); err != nil {
		return nil, err
	}
	return repo, nil
}

// view opens a repository at rev ("" for the default branch) and fills
// the parts of the page every tab shares.
func (h *Handler) view(ctx context.Context, r *http.Request, repo *haven.Repo, tab, rev string) (*repoView, error) {
	a := actorOf(r)
	v := &repoView{
		Repo:     repo,
		Tab:      tab,
		Rev:      rev,
		APIPath:  "/api/" + repo.Type.Plural() + "/" + url.PathEscape(repo.Namespace) + "/" + url.PathEscape(repo.Name),
		SignedIn: !a.Anonymous(),
		CanWrite: auth.Can(a, auth.Write, repo) == nil,
		CanAdmin: auth.Can(a, auth.Admin, repo) == nil,
		Viewer:   repo.Type == haven.Dataset && h.viewer,
	}
	if v.Rev == "" {
		v.Rev = repo.DefaultBranch()
	}
	var err error
	if v.Space, err = h.spaceOf(ctx, repo); err != nil {
		return nil, err
	}
	v.SettingsTab = v.CanAdmin || (v.Space != nil && v.CanWrite)
	if err := h.mirrorsOf(ctx, v); err != nil {
		return nil, err
	}
	g, err := h.git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return nil, err
	}
	v.g = g
	if v.SHA, err = g.Resolve(v.Rev); err != nil {
		return nil, err
	}
	if v.Refs, err = g.Refs(); err != nil {
		return nil, err
	}
	if v.SignedIn {
		liked, err := h.meta.LikedRepos(ctx, a.User.ID)
		if err != nil {
			return nil, err
		}
		for _, l := range liked {
			if l.Repo.ID == repo.ID {
				v.Liked = true
			}
		}
	}
	v.TreeBase = repoURL(repo, "/tree/", url.PathEscape(v.Rev))
	v.SwitchBase = repoURL(repo, "/"+tab+"/")
	return v, nil
}

// setPath fills the breadcrumbs and the switcher's path for a file or folder.
func (v *repoView) setPath(p string, isDir bool) {
	v.SwitchPath = ""
	if p != "" {
		v.SwitchPath = "/" + escPath(p)
	}
	if p == "" {
		return
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		c := crumb{Name: s}
		if i < len(segs)-1 || !isDir {
			if i < len(segs)-1 {
				c.URL = v.TreeBase + "/" + escPath(strings.Join(segs[:i+1], "/"))
			}
		}
		v.Crumbs = append(v.Crumbs, c)
	}
}

// splitRev separates a revision from a path in URL segments. A revision
// containing "/" arrives escaped as one segment; if the first segment is
// not a revision, longer prefixes are tried, since some links split it.
func splitRev(g *gitstore.Repo, segs []string) (rev string, rest []string) {
	if len(segs) == 0 {
		return "", nil
	}
	if len(segs) >= 3 && segs[0] == "refs" {
		return strings.Join(segs[:3], "/"), segs[3:]
	}
	if _, err := g.Resolve(segs[0]); err != nil {
		for n := len(segs); n >= 2; n-- {
			if _, err := g.Resolve(strings.Join(segs[:n], "/")); err == nil {
				return strings.Join(segs[:n], "/"), segs[n:]
			}
		}
	}
	return segs[0], segs[1:]
}

// openRev opens the repository and splits rev and path from the URL.
func (h *Handler) openRev(r *http.Request, repo *haven.Repo, tab string, segs []string) (*repoView, string, error) {
	g, err := h.git.Open(r.Context(), repo.Type, repo.RepoID())
	if err != nil {
		return nil, "", err
	}
	rev, rest := splitRev(g, segs)
	v, err := h.view(r.Context(), r, repo, tab, rev)
	if err != nil {
		return nil, "", err
	}
	return v, strings.Trim(strings.Join(rest, "/"), "/"), nil
}

// chip is one piece of card metadata shown as a link.
type chip struct{ Key, Label, URL string }

type snippet struct{ Label, Code string }

type cardData struct {
	*repoView
	Card       template.HTML
	HasReadme  bool
	YAMLError  string // why the card's metadata does not parse
	Chips      []chip
	License    string
	LastCommit *gitstore.Commit
	Snippets   []snippet
	Chart      template.HTML
	Gate       *gateView // the access-request form of a gated repository
	Evals      *repoEvalsView
	// FinetuneURL starts a fine-tune from this model (one with weights)
	// or on this dataset; "" when none can be started here.
	FinetuneURL string
	// Lineage is the model tree of a model, or the models and Spaces
	// that use a dataset.
	Lineage *lineageView
}

// repoCard answers GET /{repo}: the card, metadata and sidebar.
func (h *Handler) repoCard(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	v, err := h.view(r.Context(), r, repo, "card", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if v.Space != nil {
		h.spaceApp(w, r, v)
		return
	}
	d := cardData{repoView: v}
	blobBase := repoURL(repo, "/blob/", url.PathEscape(v.Rev))
	resolveBase := repoURL(repo, "/resolve/", url.PathEscape(v.SHA))
	key := cardKey{repo: repo.ID, sha: v.SHA, base: blobBase}
	readme, rerr := v.g.ReadFile(v.SHA, "README.md")
	if rerr == nil {
		d.HasReadme = true
		body := readme
		if c, err := card.Parse(readme); err == nil {
			body = c.Body
		} else {
			// As the Hub, warn about the metadata and render the rest.
			body = card.Body(readme)
			d.YAMLError = haven.ErrorMessage(err)
		}
		if html, ok := h.cards.get(key); ok {
			d.Card = html
		} else {
			d.Card = renderCard(body, blobBase, resolveBase)
			h.cards.put(key, d.Card)
		}
	} else if !haven.IsCode(rerr, haven.EEntryNotFound) {
		h.fail(w, r, rerr)
		return
	}
	if d.Gate, err = h.gate(r, repo, readme); err != nil {
		h.fail(w, r, err)
		return
	}
	d.Chips, d.License = cardChips(repo)
	if c, err := v.g.CommitInfo(v.SHA); err == nil {
		d.LastCommit = c
	}
	d.Snippets = h.snippets(repo)
	if d.Evals, err = h.repoEvals(r.Context(), repo, readme); err != nil {
		h.fail(w, r, err)
		return
	}
	if repo.Type == haven.Model || repo.Type == haven.Dataset {
		if d.Lineage, err = h.lineage(r.Context(), actorOf(r), repo, readme); err != nil {
			h.fail(w, r, err)
			return
		}
		if h.Finetune != nil && (repo.Type == haven.Dataset || hasWeights(v)) {
			param := "base_model"
			if repo.Type == haven.Dataset {
				param = "dataset"
			}
			d.FinetuneURL = "/finetune/new?" + param + "=" + url.QueryEscape(repo.FullName())
		}
	}
	days, err := h.meta.DownloadsByDay(r.Context(), repo.ID, time.Now().AddDate(0, 0, -29))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Chart = downloadsChart(days, 30, time.Now(), 300, 80)
	h.render(w, r, http.StatusOK, "repo", repo.FullName(), d)
}

// cardChips turns the indexed metadata into links to filtered listings.
func cardChips(repo *haven.Repo) (chips []chip, license string) {
	list := "/" + repo.Type.Plural()
	q := func(k, v string) string { return list + "?" + k + "=" + url.QueryEscape(v) }
	if repo.PipelineTag != "" {
		chips = append(chips, chip{"task", repo.PipelineTag, q("pipeline_tag", repo.PipelineTag)})
	}
	if repo.LibraryName != "" {
		chips = append(chips, chip{"library", repo.LibraryName, q("library", repo.LibraryName)})
	}
	if repo.SDK != "" && repo.Type == haven.Space {
		chips = append(chips, chip{"sdk", repo.SDK, ""})
	}
	for _, tag := range repo.Tags {
		k, v, ok := strings.Cut(tag, ":")
		switch {
		case tag == repo.PipelineTag || tag == repo.LibraryName:
		case ok && k == "license":
			if license == "" {
				license = v
			}
			chips = append(chips, chip{"license", v, q("license", v)})
		case ok && k == "language":
			chips = append(chips, chip{"language", v, q("language", v)})
		case ok && k == "dataset":
			chips = append(chips, chip{"dataset", v, "/datasets/" + escPath(v)})
		case ok && k == "base_model" && isRelationTag(v):
			// The model tree shows how it derives from its bases.
		case ok && k == "base_model":
			chips = append(chips, chip{"base model", v, "/" + escPath(v)})
		case ok && k != "" && v != "":
			// task_categories:text-classification, format:parquet, …: the
			// key styled as the others' rather than shown raw.
			chips = append(chips, chip{strings.ReplaceAll(k, "_", " "), v, q("tag", tag)})
		default:
			chips = append(chips, chip{"", tag, q("tag", tag)})
		}
	}
	return chips, license
}

// snippets shows how to use the repository with the official clients and
// git, against this hub's public URL.
func (h *Handler) snippets(repo *haven.Repo) []snippet {
	base := h.publicURL("")
	id := repo.FullName()
	env := "# export HF_ENDPOINT=" + base + "\n"
	var out []snippet
	switch repo.Type {
	case haven.Model:
		hub := env + "from huggingface_hub import snapshot_download\n\npath = snapshot_download(\"" + id + "\")\n"
		out = append(out, snippet{"huggingface_hub", hub})
		tf := env + "from transformers import AutoModel\n\nmodel = AutoModel.from_pretrained(\"" + id + "\")\n"
		if repo.PipelineTag != "" {
			tf = env + "from transformers import pipeline\n\npipe = pipeline(\"" + repo.PipelineTag + "\", model=\"" + id + "\")\n"
		}
		out = append(out, snippet{"transformers", tf})
		if s, ok := inferenceSnippet(base, repo); ok {
			out = append(out, s)
		}
	default:
		hub := env + "from huggingface_hub import snapshot_download\n\npath = snapshot_download(\"" + id + "\", repo_type=\"" + string(repo.Type) + "\")\n"
		out = append(out, snippet{"huggingface_hub", hub})
		if repo.Type == haven.Dataset {
			out = append(out, snippet{"datasets", env + "from datasets import load_dataset\n\nds = load_dataset(\"" + id + "\")\n"})
		}
	}
	git := "git lfs install\ngit clone " + base + "/" + repo.Type.URLPrefix() + id + "\n"
	out = append(out, snippet{"git clone", git})
	return out
}

// fileRow is one entry of the file browser.
type fileRow struct {
	Name, URL string
	Dir       bool
	Size      int64
	LFS       bool
	Commit    *gitstore.Commit
}

type treeData struct {
	*repoView
	Path      string
	Rows      []fileRow
	Up        string
	Total     int64
	UploadURL string
}

// maxLastCommitRows bounds the folders whose rows show their last commit:
// finding it walks history once per listing.
const maxLastCommitRows = 300

// tree answers GET /{repo}/tree/{rev}/{path}.
func (h *Handler) tree(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	v, dir, err := h.openRev(r, repo, "files", segs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	e, err := v.g.Stat(v.SHA, dir)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if e.Type != gitstore.TypeDirectory {
		http.Redirect(w, r, repoURL(repo, "/blob/", url.PathEscape(v.Rev), "/", escPath(dir)), http.StatusFound)
		return
	}
	v.SwitchBase = repoURL(repo, "/tree/")
	v.setPath(dir, true)
	entries, err := v.g.List(v.SHA, dir, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := treeData{repoView: v, Path: dir, UploadURL: repoURL(repo, "/upload/", url.PathEscape(v.Rev))}
	if dir != "" {
		d.UploadURL += "/" + escPath(dir)
	}
	if dir != "" {
		d.Up = v.TreeBase
		if i := strings.LastIndexByte(dir, '/'); i >= 0 {
			d.Up += "/" + escPath(dir[:i])
		}
	}
	var paths []string
	for _, e := range entries {
		row := fileRow{Name: path.Base(e.Path), Dir: e.Type == gitstore.TypeDirectory, Size: e.Size}
		if row.Dir {
			row.URL = v.TreeBase + "/" + escPath(e.Path)
		} else {
			row.URL = repoURL(repo, "/blob/", url.PathEscape(v.Rev), "/", escPath(e.Path))
			if p, ok := v.g.Pointer(e); ok {
				row.LFS, row.Size = true, p.Size
			}
			d.Total += row.Size
		}
		d.Rows = append(d.Rows, row)
		paths = append(paths, e.Path)
	}
	sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].Dir && !d.Rows[j].Dir })
	if len(paths) <= maxLastCommitRows {
		if last, err := v.g.LastCommits(v.SHA, paths); err == nil {
			for i := range d.Rows {
				d.Rows[i].Commit = last[strings.TrimPrefix(dir+"/"+d.Rows[i].Name, "/")]
			}
		}
	}
	h.render(w, r, http.StatusOK, "tree", repo.FullName()+" at "+v.Rev, d)
}

type blobData struct {
	*repoView
	Path        string
	Name        string
	Size        int64
	LFS         *lfs.Pointer
	Image       bool
	Code        template.HTML
	Binary      bool
	TooLarge    bool
	Lines       int
	RawURL      string
	ImageURL    string
	DownloadURL string
	PointerSize int64
	EditURL     string
}

// blob answers GET /{repo}/blob/{rev}/{path}: a file with highlighting, a
// picture, or the facts of a large file.
func (h *Handler) blob(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	v, file, err := h.openRev(r, repo, "files", segs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if file == "" {
		http.Redirect(w, r, v.TreeBase, http.StatusFound)
		return
	}
	e, err := v.g.Stat(v.SHA, file)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if e.Type == gitstore.TypeDirectory {
		http.Redirect(w, r, v.TreeBase+"/"+escPath(file), http.StatusFound)
		return
	}
	v.SwitchBase = repoURL(repo, "/blob/")
	v.setPath(file, false)
	revPath := url.PathEscape(v.Rev) + "/" + escPath(file)
	d := blobData{
		repoView:    v,
		Path:        file,
		Name:        path.Base(file),
		Size:        e.Size,
		Image:       isImage(file),
		RawURL:      repoURL(repo, "/raw/", revPath),
		ImageURL:    repoURL(repo, "/resolve/", revPath),
		DownloadURL: repoURL(repo, "/resolve/", revPath) + "?download=true",
		PointerSize: e.Size,
	}
	if p, ok := v.g.Pointer(e); ok {
		d.LFS, d.Size = &p, p.Size
	} else if !d.Image {
		if e.Size > maxTextView {
			d.TooLarge = true
		} else {
			content, err := readBlob(v.g, e.OID, maxTextView)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if isText(content) {
				d.Code = highlight(file, content)
				d.Lines = strings.Count(string(content), "\n")
				if v.CanWrite && isBranch(v.Refs, v.Rev) {
					d.EditURL = repoURL(repo, "/edit/", revPath)
				}
			} else {
				d.Binary = true
			}
		}
	}
	h.render(w, r, http.StatusOK, "blob", file+" · "+repo.FullName(), d)
}

// isBranch reports whether rev names a branch, the only place commits go.
func isBranch(refs gitstore.Refs, rev string) bool {
	for _, b := range refs.Branches {
		if b.Name == rev {
			return true
		}
	}
	return false
}

// readBlob reads at most limit bytes of a blob.
func readBlob(g *gitstore.Repo, oid string, limit int64) ([]byte, error) {
	rc, _, err := g.Blob(oid)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

type commitsData struct {
	*repoView
	Commits    []*gitstore.Commit
	Total      int
	Pages      []pageLink
	Prev, Next string
}

// commitsPageSize is the number of commits per history page.
const commitsPageSize = 30

// commits answers GET /{repo}/commits/{rev}.
func (h *Handler) commits(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	v, _, err := h.openRev(r, repo, "commits", segs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.SwitchBase = repoURL(repo, "/commits/")
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("p"))
	pageNo = max(pageNo, 1)
	list, total, err := v.g.Log(v.SHA, (pageNo-1)*commitsPageSize, commitsPageSize)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := commitsData{repoView: v, Commits: list, Total: total}
	d.Pages, d.Prev, d.Next = pager(r.URL.Query(), pageNo, total, commitsPageSize)
	h.render(w, r, http.StatusOK, "commits", "History of "+repo.FullName(), d)
}

type refRow struct {
	gitstore.Ref
	Commit *gitstore.Commit
}

type refsData struct {
	*repoView
	Groups map[string][]refRow // "Branches", "Tags"
	Forms  []refForm           // for writers
}

// refForm is the form that creates a branch or a tag; the two differ only
// in their words.
type refForm struct{ Kind, NameLabel, Example, RevLabel string }

var refForms = []refForm{
	{"branch", "Branch name", "e.g. experiment", "From"},
	{"tag", "Tag name", "e.g. v1.0", "At"},
}

// refs answers GET /{repo}/refs: branches and tags.
func (h *Handler) refs(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	v, err := h.view(r.Context(), r, repo, "refs", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := refsData{repoView: v}
	if v.CanWrite {
		d.Forms = refForms
	}
	rows := func(refs []gitstore.Ref) []refRow {
		var out []refRow
		for _, ref := range refs {
			c, _ := v.g.CommitInfo(ref.Target)
			out = append(out, refRow{ref, c})
		}
		return out
	}
	d.Groups = map[string][]refRow{"Branches": rows(v.Refs.Branches), "Tags": rows(v.Refs.Tags)}
	h.render(w, r, http.StatusOK, "refs", "Branches and tags of "+repo.FullName(), d)
}

type viewerData struct {
	*repoView
	Src string // the viewer's page for this dataset
}

// datasetViewer answers GET /datasets/{repo}/viewer: the viewer's browser
// page in a frame, under the repository's header. The frame calls the
// viewer API with the same session cookie, which checks access again, so
// the page only has to refuse those who may not read the dataset, as
// findRepo already did.
func (h *Handler) datasetViewer(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	v, err := h.view(r.Context(), r, repo, "viewer", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !v.Viewer {
		h.notFound(w, r)
		return
	}
	src := "/datasets-server/ui/?dataset=" + url.QueryEscape(repo.FullName())
	h.render(w, r, http.StatusOK, "viewer", "Viewer of "+repo.FullName(), viewerData{v, src})
}

type settingsData struct {
	*repoView
	TypeName      string
	SpaceSettings *spaceSettings // how a Space runs, for its writers
	Mirrors       []mirrorView   // for administrators
}

// repoSettings answers GET /{repo}/settings: visibility, rename, delete,
// each a form whose script calls the API. A Space's writers, who may not
// administer it, see how it runs (hardware, sleep time, secrets,
// variables, restarts) and nothing else.
func (h *Handler) repoSettings(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	need := auth.Admin
	if repo.Type == haven.Space && h.Spaces != nil {
		need = auth.Write
	}
	if err := auth.Can(actorOf(r), need, repo); err != nil {
		h.fail(w, r, err)
		return
	}
	v, err := h.view(r.Context(), r, repo, "settings", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := settingsData{repoView: v, TypeName: string(repo.Type)}
	if v.CanAdmin {
		list, err := h.meta.MirrorsOfRepo(r.Context(), repo.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, m := range list {
			d.Mirrors = append(d.Mirrors, viewMirror(m))
		}
	}
	if v.Space != nil {
		if d.SpaceSettings, err = h.loadSpaceSettings(r.Context(), repo); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "settings", "Settings of "+repo.FullName(), d)
}

// openBranch opens the revision of a page that commits (upload, edit):
// the visitor must be able to write, and the revision must be a branch,
// the only place commits go.
func (h *Handler) openBranch(r *http.Request, repo *haven.Repo, segs []string) (*repoView, string, error) {
	if err := auth.Can(actorOf(r), auth.Write, repo); err != nil {
		return nil, "", err
	}
	v, p, err := h.openRev(r, repo, "files", segs)
	if err != nil {
		return nil, "", err
	}
	if !isBranch(v.Refs, v.Rev) {
		return nil, "", haven.Errorf(haven.EInvalid, "Files can only be changed on a branch.")
	}
	return v, p, nil
}

type uploadData struct {
	*repoView
	Dir string
}

// upload answers GET /{repo}/upload/{rev}/{dir}: the upload form.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	v, dir, err := h.openBranch(r, repo, segs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v.SwitchBase = repoURL(repo, "/upload/")
	v.setPath(dir, true)
	h.render(w, r, http.StatusOK, "upload", "Upload to "+repo.FullName(), uploadData{v, dir})
}

type editData struct {
	*repoView
	Path    string
	Content string
	New     bool
}

// edit answers GET /{repo}/edit/{rev}/{path}: a text file in a form whose
// script commits it. A missing README.md can be created this way.
func (h *Handler) edit(w http.ResponseWriter, r *http.Request, repo *haven.Repo, segs []string) {
	v, file, err := h.openBranch(r, repo, segs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if file == "" {
		h.notFound(w, r)
		return
	}
	v.setPath(file, false)
	d := editData{repoView: v, Path: file}
	e, err := v.g.Stat(v.SHA, file)
	switch {
	case haven.IsCode(err, haven.EEntryNotFound) && file == "README.md":
		d.New = true
	case err != nil:
		h.fail(w, r, err)
		return
	case e.Type != gitstore.TypeFile || e.Size > maxTextView:
		h.fail(w, r, haven.Errorf(haven.EInvalid, "Only text files up to 2 MB can be edited here."))
		return
	default:
		if _, ok := v.g.Pointer(e); ok {
			h.fail(w, r, haven.Errorf(haven.EInvalid, "Large files stored with LFS cannot be edited here."))
			return
		}
		b, err := readBlob(v.g, e.OID, maxTextView)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !isText(b) {
			h.fail(w, r, haven.Errorf(haven.EInvalid, "Binary files cannot be edited here."))
			return
		}
		d.Content = string(b)
	}
	h.render(w, r, http.StatusOK, "edit", "Edit "+file, d)
}

// mirrorView is a mirror as the repository's pages show it.
type mirrorView struct {
	ID            int64
	Direction     string
	URL           string
	Interval      time.Duration
	LastSuccessAt time.Time
	LastError     string
}

// Every words the interval: "1h", "15m", "30s".
func (m mirrorView) Every() string {
	s := m.Interval.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func viewMirror(m *haven.Mirror) mirrorView {
	return mirrorView{ID: m.ID, Direction: m.Direction, URL: m.RemoteURL(), Interval: m.Interval, LastSuccessAt: m.LastSuccessAt, LastError: m.LastError}
}

// mirrorsOf fills the mirror lines of the repository head: the source of a
// pull mirror for everyone, push mirrors for administrators.
func (h *Handler) mirrorsOf(ctx context.Context, v *repoView) error {
	if v.Repo.MirrorOf == "" && !v.CanAdmin {
		return nil
	}
	list, err := h.meta.MirrorsOfRepo(ctx, v.Repo.ID)
	if err != nil {
		return err
	}
	for _, m := range list {
		mv := viewMirror(m)
		if m.Direction == haven.MirrorPull {
			v.Mirror = &mv
		} else if v.CanAdmin {
			v.PushMirrors = append(v.PushMirrors, mv)
		}
	}
	return nil
}
