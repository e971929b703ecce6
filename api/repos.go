package api

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/hubhttp"
	"github.com/havenhub/haven/lfs"
	"github.com/havenhub/haven/meta"
)

// repoURL is the web URL of a repository on the public base.
func (s *Server) repoURL(repo *haven.Repo) string {
	return s.publicURL("/" + repo.Type.URLPrefix() + escapeRepoID(repo))
}

// decodeJSON reads a bounded JSON body into v.
func decodeJSON(r *http.Request, v any) error { return hubhttp.DecodeJSON(r, v) }

type createRepoRequest struct {
	Name         string  `json:"name"`
	Organization *string `json:"organization"`
	Type         string  `json:"type"`
	Private      *bool   `json:"private"`
	Visibility   string  `json:"visibility"`
	SDK          string  `json:"sdk"`
	License      string  `json:"license"`
	SpaceSettings
	Files []struct {
		Path     string `json:"path"`
		Content  string `json:"content"`
		Encoding string `json:"encoding"`
	} `json:"files"`
}

// handleCreateRepo answers POST /api/repos/create.
func (s *Server) handleCreateRepo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	actor := actorOf(r)
	var req createRepoRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := haven.ParseRepoType(req.Type)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ns := actor.Name()
	name := req.Name
	if req.Organization != nil && *req.Organization != "" {
		ns = *req.Organization
	} else if a, b, ok := strings.Cut(req.Name, "/"); ok {
		ns, name = a, b
	}
	if actor.Anonymous() {
		s.writeError(w, r, haven.Errorf(haven.EUnauthorized, "You must be authenticated to create a repository. Please log in or pass a token."))
		return
	}
	owner, err := s.newRepoOwner(r.Context(), actor, t, ns, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	private := req.Private != nil && *req.Private
	if req.Private == nil && req.Visibility == "" && owner.IsOrg {
		// The organisation decides when the request does not.
		def, err := s.meta.OrgDefaultPrivate(r.Context(), owner.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		private = def
	}
	switch req.Visibility {
	case "private":
		private = true
	case "public", "":
	case "protected":
		if t != haven.Space {
			s.writeError(w, r, errInvalid("Visibility 'protected' is only available for Spaces"))
			return
		}
	default:
		s.writeError(w, r, errInvalid("Invalid visibility %q: expected public, private or protected", req.Visibility))
		return
	}
	if t == haven.Space {
		switch req.SDK {
		case "gradio", "streamlit", "docker", "static":
		case "":
			req.SDK = "static"
		default:
			s.writeError(w, r, errInvalid("Invalid Space SDK %q: expected gradio, streamlit, docker or static", req.SDK))
			return
		}
	}
	// Initial files: the JS client may send its own; otherwise the default
	// .gitattributes (and, for Spaces, a README that names the SDK).
	var ops []gitstore.Op
	for _, f := range req.Files {
		content, err := decodeContent(f.Content, f.Encoding)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: f.Path, Content: content})
	}
	if req.License != "" && !validLicenseID(req.License) {
		s.writeError(w, r, errInvalid("Invalid license %q: expected an identifier such as mit or apache-2.0", req.License))
		return
	}
	if len(ops) == 0 {
		ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: ".gitattributes", Content: lfs.DefaultAttributes(t)})
		if t != haven.Space && req.License != "" {
			// As on the Hub, a licence chosen at creation goes to the card.
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: "README.md", Content: []byte("---\nlicense: " + req.License + "\n---\n")})
		}
		if t == haven.Space {
			ops = append(ops, gitstore.Op{Kind: gitstore.OpPut, Path: "README.md", Content: spaceReadme(name, req.SDK, req.License)})
			if req.SDK == "static" {
				ops = append(ops,
					gitstore.Op{Kind: gitstore.OpPut, Path: "index.html", Content: staticIndex(name)},
					gitstore.Op{Kind: gitstore.OpPut, Path: "style.css", Content: []byte(staticStyle)})
			}
		}
	}
	now := time.Now().UTC()
	repo := &haven.Repo{Type: t, Namespace: owner.Name, Name: name, Private: private, CreatedAt: now, UpdatedAt: now, SDK: req.SDK}
	if !s.createRepo(w, r, repo, nil, &req.SpaceSettings, "initial commit", ops) {
		return
	}
	s.tellCreated(r.Context(), repo)
	s.record(r, haven.AuditRepoCreate, repo, map[string]any{"private": repo.Private})
	writeJSON(w, http.StatusOK, map[string]string{
		"url":  s.repoURL(repo),
		"name": repo.FullName(),
		"id":   repoObjectID(repo),
	})
}

// newRepoOwner checks that actor may create a repository named name of
// type t in namespace ns, and returns the namespace's owner.
func (s *Server) newRepoOwner(ctx context.Context, actor *auth.Actor, t haven.RepoType, ns, name string) (*haven.User, error) {
	if !haven.ValidName(name) {
		return nil, errInvalid("Invalid repo name %q: use 1 to 96 letters, digits, '-', '_' and '.', no '--' or '..', not ending in '.git'", name)
	}
	owner, err := s.meta.UserByName(ctx, ns)
	if err != nil {
		if haven.IsCode(err, haven.ENotFound) {
			err = haven.Errorf(haven.EForbidden, "You don't have the rights to create a %s under the namespace %q", t, ns)
		}
		return nil, err
	}
	if err := auth.CanCreateIn(actor, t, owner.Name); err != nil {
		return nil, err
	}
	return owner, nil
}

// createRepo stores repo (its row, its Space settings, then its git
// repository with a first commit of ops) and reports whether it did;
// otherwise it has answered: 409 with the existing repository's url, which
// create_repo and duplicate_repo read with exist_ok=True, or the error. A
// failure after the row leaves no row behind. from is the Space repo is
// duplicated from, or nil.
func (s *Server) createRepo(w http.ResponseWriter, r *http.Request, repo, from *haven.Repo, set *SpaceSettings, title string, ops []gitstore.Op) bool {
	ctx := r.Context()
	if err := s.meta.CreateRepo(ctx, repo); err != nil {
		if haven.IsCode(err, haven.EConflict) {
			url := s.repoURL(repo)
			if existing, gerr := s.meta.RepoByName(ctx, repo.Type, repo.Namespace, repo.Name); gerr == nil {
				url = s.repoURL(existing)
			}
			w.Header().Set("X-Error-Message", "You already created this "+string(repo.Type)+" repo")
			writeJSON(w, http.StatusConflict, map[string]string{
				"error": "You already created this " + string(repo.Type) + " repo",
				"url":   url,
			})
			return false
		}
		s.writeError(w, r, err)
		return false
	}
	// Space settings are in place before the first commit starts a build.
	err := s.configureSpace(ctx, repo, from, set)
	if err == nil {
		err = s.initGitRepo(ctx, repo, actorOf(r), title, ops)
	}
	if err != nil {
		s.meta.DeleteRepo(context.WithoutCancel(ctx), repo.ID)
		s.writeError(w, r, err)
		return false
	}
	return true
}

func spaceReadme(name, sdk, license string) []byte {
	var b strings.Builder
	b.WriteString("---\ntitle: " + name + "\nsdk: " + sdk + "\n")
	if license != "" {
		b.WriteString("license: " + license + "\n")
	}
	b.WriteString("---\n")
	return []byte(b.String())
}

// staticIndex is the first page of a new static Space, as the Hub seeds one.
func staticIndex(name string) []byte {
	return []byte(`<!doctype html>
<html>
	<head>
		<meta charset="utf-8" />
		<meta name="viewport" content="width=device-width" />
		<title>` + html.EscapeString(name) + `</title>
		<link rel="stylesheet" href="style.css" />
	</head>
	<body>
		<div class="card">
			<h1>Welcome to your static Space!</h1>
			<p>Edit index.html to change this page.</p>
		</div>
	</body>
</html>
`)
}

const staticStyle = `body {
	padding: 2rem;
	font-family: -apple-system, BlinkMacSystemFont, "Arial", sans-serif;
}

.card {
	max-width: 620px;
	margin: 0 auto;
	padding: 16px;
	border: 1px solid lightgray;
	border-radius: 16px;
}
`

// initGitRepo creates the bare repository with its first commit, replacing
// leftovers of an earlier attempt that has no metadata row.
func (s *Server) initGitRepo(ctx context.Context, repo *haven.Repo, actor *auth.Actor, title string, ops []gitstore.Op) error {
	ctx = context.WithoutCancel(ctx)
	if err := s.git.Init(ctx, repo.Type, repo.RepoID()); err != nil {
		if !haven.IsCode(err, haven.EConflict) {
			return err
		}
		if err := s.git.Remove(ctx, repo.Type, repo.RepoID()); err != nil {
			return err
		}
		if err := s.git.Init(ctx, repo.Type, repo.RepoID()); err != nil {
			return err
		}
	}
	g, err := s.git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return err
	}
	_, err = g.Commit(ctx, gitstore.CommitRequest{
		Ref:       "refs/heads/" + repo.DefaultBranch(),
		CreateRef: true,
		Author:    signature(actor),
		Title:     title,
		Ops:       ops,
	})
	if err != nil {
		return err
	}
	return s.refreshRepo(ctx, repo)
}

// signature is the git identity of the actor.
func signature(a *auth.Actor) gitstore.Signature {
	name := a.Name()
	if name == "" {
		name = "haven"
	}
	email := name + "@users.noreply.haven"
	if a.User != nil && a.User.Email != "" {
		email = a.User.Email
	}
	return gitstore.Signature{Name: name, Email: email, When: time.Now().UTC()}
}

// repoObjectID is the opaque "_id" of a repository.
func repoObjectID(repo *haven.Repo) string {
	return strings.Repeat("0", 24-len(itoa(repo.ID))) + itoa(repo.ID)
}

type repoNameRequest struct {
	Name         string  `json:"name"`
	Organization *string `json:"organization"`
	Type         string  `json:"type"`
}

// lookupNamed resolves the {name, organization, type} body of delete.
func (s *Server) lookupNamed(r *http.Request, req repoNameRequest) (*haven.Repo, error) {
	t, err := haven.ParseRepoType(req.Type)
	if err != nil {
		return nil, err
	}
	ns, name := actorOf(r).Name(), req.Name
	if req.Organization != nil && *req.Organization != "" {
		ns = *req.Organization
	} else if a, b, ok := strings.Cut(req.Name, "/"); ok {
		ns, name = a, b
	}
	repo, err := s.meta.RepoByName(r.Context(), t, ns, name)
	if err != nil {
		return nil, auth.RepoNotFound()
	}
	return repo, nil
}

// handleDeleteRepo answers DELETE /api/repos/delete.
func (s *Server) handleDeleteRepo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodDelete {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	var req repoNameRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	repo, err := s.lookupNamed(r, req)
	if err == nil {
		err = auth.Can(actorOf(r), auth.Admin, repo)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The row goes first: once it is gone nobody can reach the repository,
	// and a leftover folder is replaced if the name is taken again.
	ctx := context.WithoutCancel(r.Context())
	if err := s.meta.DeleteRepo(s.audited(ctx, r, haven.AuditRepoDelete, repo, nil), repo.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changed(repo)
	if err := s.git.Remove(ctx, repo.Type, repo.RepoID()); err != nil {
		s.log.Error("removing git repository", "repo", repo.FullName(), "err", err)
	}
	s.tell(ctx, &haven.RepoEvent{Scope: haven.ScopeRepo, Action: haven.ActionDelete, Repo: repo})
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleMoveRepo answers POST /api/repos/move.
func (s *Server) handleMoveRepo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeError(w, r, errNotFound("Not Found"))
		return
	}
	var req struct {
		From string `json:"fromRepo"`
		To   string `json:"toRepo"`
		Type string `json:"type"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := haven.ParseRepoType(req.Type)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	from, err := haven.ParseRepoID(req.From)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	to, err := haven.ParseRepoID(req.To)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	actor := actorOf(r)
	repo, err := s.meta.RepoByName(r.Context(), t, from.Namespace, from.Name)
	if err != nil {
		s.writeError(w, r, auth.RepoNotFound())
		return
	}
	if err := auth.Can(actor, auth.Admin, repo); err != nil {
		s.writeError(w, r, err)
		return
	}
	owner, err := s.meta.UserByName(r.Context(), to.Namespace)
	if err != nil {
		s.writeError(w, r, haven.Errorf(haven.EForbidden, "You don't have the rights to move a repository to the namespace %q", to.Namespace))
		return
	}
	if err := auth.CanCreateIn(actor, t, owner.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	to.Namespace = owner.Name
	if _, err := s.meta.RepoByName(r.Context(), t, to.Namespace, to.Name); err == nil && !strings.EqualFold(from.String(), to.String()) {
		s.writeError(w, r, haven.Errorf(haven.EConflict, "A %s repository called %s already exists", t, to))
		return
	}
	ctx := context.WithoutCancel(r.Context())
	old := repo.RepoID()
	if err := s.git.Move(ctx, t, old, to); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The namespace it moves into sees it arrive too.
	moved := *repo
	moved.Namespace, moved.Name = to.Namespace, to.Name
	actx := s.audited(ctx, r, haven.AuditRepoMove, repo, map[string]any{"to": to.String()})
	if !strings.EqualFold(repo.Namespace, to.Namespace) {
		actx = s.audited(actx, r, haven.AuditRepoMove, &moved, map[string]any{"from": from.String(), "to": to.String()})
	}
	if err := s.meta.MoveRepo(actx, repo.ID, to.Namespace, to.Name); err != nil {
		s.git.Move(ctx, t, to, old) // put the folder back where the row says it is
		s.writeError(w, r, err)
		return
	}
	s.changed(repo)
	s.tell(ctx, &haven.RepoEvent{Scope: haven.ScopeRepo, Action: haven.ActionMove, Repo: repo, MovedTo: to.String()})
	writeJSON(w, http.StatusOK, map[string]any{})
}

// handleSettings answers PUT /api/{types}/{id}/settings.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, repo *haven.Repo, _ []string) {
	if err := auth.Can(actorOf(r), auth.Admin, repo); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req struct {
		Private             *bool  `json:"private"`
		Visibility          string `json:"visibility"`
		Gated               any    `json:"gated"`
		DiscussionsDisabled *bool  `json:"discussionsDisabled"`
		XetEnabled          *bool  `json:"xetEnabled"`
	}
	if err := decodeSettings(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Settings this server cannot change are refused rather than ignored,
	// so that a client never believes they took effect.
	if req.XetEnabled != nil && *req.XetEnabled != s.xetOn {
		if s.xetOn {
			s.writeError(w, r, errInvalid("Xet storage is on for every repository of this server and cannot be turned off for one"))
		} else {
			s.writeError(w, r, errInvalid("Xet storage is off on this server"))
		}
		return
	}
	if req.Visibility == "protected" {
		s.writeError(w, r, errInvalid(`The visibility "protected" is not supported by this server: use "public" or "private"`))
		return
	}
	private, gated, noDiscussions := repo.Private, repo.Gated, repo.DiscussionsDisabled
	if req.DiscussionsDisabled != nil {
		noDiscussions = *req.DiscussionsDisabled
	}
	if req.Private != nil {
		private = *req.Private
	}
	switch req.Visibility {
	case "":
	case "private":
		private = true
	case "public":
		private = false
	default:
		s.writeError(w, r, errInvalid("Invalid visibility %q", req.Visibility))
		return
	}
	switch g := req.Gated.(type) {
	case nil:
	case bool:
		if g {
			s.writeError(w, r, errInvalid(`Invalid gated value: expected "auto", "manual" or false`))
			return
		}
		gated = ""
	case string:
		if g != "auto" && g != "manual" {
			s.writeError(w, r, errInvalid(`Invalid gated value %q: expected "auto", "manual" or false`, g))
			return
		}
		gated = g
	default:
		s.writeError(w, r, errInvalid(`Invalid gated value: expected "auto", "manual" or false`))
		return
	}
	actx := s.audited(r.Context(), r, haven.AuditRepoSettings, repo, map[string]any{"private": private, "gated": gatedValue(gated),
		"discussionsDisabled": noDiscussions,
		"previous":            map[string]any{"private": repo.Private, "gated": gatedValue(repo.Gated), "discussionsDisabled": repo.DiscussionsDisabled}})
	set := meta.RepoSettings{Private: private, Gated: gated, DiscussionsDisabled: noDiscussions}
	if err := s.meta.UpdateRepoSettings(actx, repo.ID, set); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.changed(repo)
	s.tellConfig(r.Context(), repo, private, gated)
	writeJSON(w, http.StatusOK, map[string]any{"private": private, "gated": gatedValue(gated), "discussionsDisabled": noDiscussions})
}

func gatedValue(g string) any {
	if g == "" {
		return false
	}
	return g
}

// refreshRepo derives the metadata of the default branch (head, card,
// tags, storage) after it moved. Refreshes of one repository run one at a
// time so that an older state never overwrites a newer one.
func (s *Server) refreshRepo(ctx context.Context, repo *haven.Repo) error {
	mu, _ := s.refresh.LoadOrStore(repo.ID, new(syncMutex))
	mu.(*syncMutex).Lock()
	defer mu.(*syncMutex).Unlock()
	defer s.changed(repo)
	var indexers []CardIndexer
	for _, rt := range s.routes {
		if ci, ok := rt.(CardIndexer); ok {
			indexers = append(indexers, ci)
		}
	}
	return Refresher{Meta: s.meta, Git: s.git, Indexers: indexers, OpenLFS: s.openObject, Logger: s.log}.Refresh(ctx, repo)
}

// isEvalResultsFile tells the .eval_results/*.yaml files of a repository,
// which hold evaluation results beside its card.
func isEvalResultsFile(p string, size int64) bool {
	dir, name := path.Split(p)
	return dir == ".eval_results/" && (path.Ext(name) == ".yaml" || path.Ext(name) == ".yml") && size <= 1<<20
}

// JobDatasetUpdated is the queue job kind enqueued when the default branch
// of a dataset moves; its payload is a JSON RepoUpdated.
const JobDatasetUpdated = "dataset.updated"

// JobSpaceUpdated is enqueued when the default branch of a Space moves; its
// payload is a JSON RepoUpdated.
const JobSpaceUpdated = "space.updated"

// RepoUpdated says which commit a repository's default branch now points at.
type RepoUpdated struct {
	RepoID int64  `json:"repo_id"`
	SHA    string `json:"sha"`
}

// decodeContent decodes an initial file sent with create-repo.
func decodeContent(content, encoding string) ([]byte, error) {
	switch encoding {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, errInvalid("Invalid base64 content: %v", err)
		}
		return b, nil
	case "", "utf-8", "utf8":
		return []byte(content), nil
	}
	return nil, errInvalid("Unknown encoding %q", encoding)
}
