package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
)

// Refresher derives a repository's metadata from its git repository. The
// server runs it after every commit and push; admin commands that write git
// repositories themselves (haven import) run it without an HTTP server.
type Refresher struct {
	Meta *meta.Store
	Git  *gitstore.Store
	// Indexers hear of the card of the default branch (evaluation
	// results, the documentation score).
	Indexers []CardIndexer
	// OpenLFS opens LFS objects, to read the headers of a model's
	// safetensors files for its parameter count; nil reads only those
	// stored in git.
	OpenLFS gitstore.LFSOpener
	Logger  *slog.Logger
}

// Refresh derives the head, card, tags, storage, parameter count and model-tree links of
// repo's default branch, tells the Indexers about the card, and queues the
// background work a moved branch starts (the dataset viewer's conversion, a
// Space's build). Callers serialise refreshes of one repository.
func (rf Refresher) Refresh(ctx context.Context, repo *haven.Repo) error {
	log := rf.Logger
	if log == nil {
		log = slog.Default()
	}
	g, err := rf.Git.Open(ctx, repo.Type, repo.RepoID())
	if err != nil {
		return err
	}
	sha, err := g.Resolve(repo.DefaultBranch())
	if err != nil {
		return err
	}
	c, err := g.CommitInfo(sha)
	if err != nil {
		return err
	}
	content := meta.RepoContent{SHA: sha, UpdatedAt: c.Author.When.UTC(), SDK: repo.SDK}
	var parsed *card.Card
	if readme, err := g.ReadFile(sha, "README.md"); err == nil {
		var perr error
		if parsed, perr = card.Parse(readme); perr != nil {
			content.CardError = haven.ErrorMessage(perr)
		}
		if cd := parsed; cd != nil && cd.Data != nil {
			m := cd.Meta(repo.Type)
			content.CardData = cd.Data
			content.Tags = m.Tags
			content.PipelineTag = m.PipelineTag
			content.LibraryName = m.LibraryName
			if sdk, ok := cd.Data["sdk"].(string); ok && repo.Type == haven.Space {
				content.SDK = sdk
			}
		}
	}
	var files []string
	evalFiles := map[string][]byte{}
	if entries, err := g.List(sha, "", true); err == nil {
		if repo.Type == haven.Model && !sameWeights(ctx, rf.Meta, repo, g, entries) {
			// Before the content: the info of the new head must not be
			// cached without them.
			if err := rf.Meta.SetRepoParams(ctx, repo.ID, modelParams(ctx, g, entries, rf.OpenLFS)); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if e.Type != "file" {
				continue
			}
			if isEvalResultsFile(e.Path, e.Size) && len(evalFiles) < 64 {
				if b, err := g.ReadFile(sha, e.Path); err == nil {
					evalFiles[e.Path] = b
				}
			}
			files = append(files, e.Path)
			if p, ok := g.Pointer(e); ok {
				content.UsedStorage += p.Size
			} else {
				content.UsedStorage += e.Size
			}
		}
	}
	auto, library := autoTags(repo.Type, files, func(name string) []byte {
		if e, err := g.Stat(sha, name); err != nil || e.Size > maxConfigSize {
			return nil
		}
		b, _ := g.ReadFile(sha, name)
		return b
	})
	if content.LibraryName == "" {
		content.LibraryName = library
	}
	content.Tags = addTags(content.Tags, content.LibraryName)
	content.Tags = addTags(content.Tags, auto...)
	links := repoLinks(repo, g, sha, content.CardData, files)
	content.Tags = addTags(content.Tags, links.Tags()...)
	if err := rf.Meta.UpdateRepoContent(ctx, repo.ID, content); err != nil {
		return err
	}
	for _, ci := range rf.Indexers {
		if err := ci.IndexCard(ctx, repo, parsed, evalFiles); err != nil {
			log.Warn("index card", "repo", repo.FullName(), "err", err)
		}
	}
	if err := rf.Meta.SetRepoLinks(ctx, repo.ID, links.Edges()); err != nil {
		return err
	}
	// Background work picks this up: the dataset viewer's conversion, a
	// Space's build.
	kind := map[haven.RepoType]string{haven.Dataset: JobDatasetUpdated, haven.Space: JobSpaceUpdated}[repo.Type]
	if kind != "" && (repo.Type != haven.Space || repo.SHA != sha) {
		payload, _ := json.Marshal(RepoUpdated{RepoID: repo.ID, SHA: sha})
		if _, err := rf.Meta.Enqueue(ctx, kind, payload, time.Now()); err != nil {
			return err
		}
	}
	return nil
}
