package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// RenderComment turns the Markdown of a discussion comment into HTML with the
// cards' sanitiser, so that a comment can neither run script nor break the
// page around it.
func RenderComment(text string) string {
	var md bytes.Buffer
	if err := markdown.Convert([]byte(text), &md); err != nil {
		return "<p>" + template.HTMLEscapeString(text) + "</p>"
	}
	return rebalance(cardPolicy.SanitizeBytes(md.Bytes()), "", "")
}

// discussionsPageSize is the number of discussions a listing page shows.
const discussionsPageSize = 50

type discussionsData struct {
	*repoView
	Items      []*haven.Discussion
	Type       string // "", "discussion", "pull_request"
	Status     string // "", "open", "closed"
	Sort       string // "", "trending", "reactions"
	Search     string
	Total      int
	Page       int
	Prev, Next string // links to the neighbouring pages, "" at the ends
	CanDiscuss bool
}

// threadEvent is an event of a discussion as the thread page shows it.
type threadEvent struct {
	ID       string
	Type     string
	Author   string
	When     time.Time
	HTML     template.HTML // comments, sanitised
	Raw      string
	Hidden   bool
	Edited   bool
	CanEdit  bool   // the visitor may edit or hide this comment
	Status   string // status changes
	From, To string // title changes
	Subject  string // commits
	OID      string
	Pinned   bool // pinning and locking changes
	Locked   bool
	// Reactions of a comment; Reacted lists those the visitor gave.
	Reactions []haven.Reaction
	Reacted   map[string]bool
}

type threadData struct {
	*repoView
	Discussion  *haven.Discussion
	Events      []threadEvent
	Files       bool // the "Files changed" view of a pull request
	Diff        []fileDiff
	Adds, Dels  int
	Truncated   int
	Head        string   // pull requests: head of refs/pr/N
	Conflicts   []string // pull requests: paths that keep it from merging
	Ref         string
	Target      string // the target branch's short name
	CanComment  bool
	CanModerate bool
	CanMerge    bool
	CanPin      bool // pin and lock
	CanDelete   bool
	// Reactions is the set a comment may be given, for the visitors who
	// may react.
	Reactions []string
}

// discussions routes /{repo}/discussions[/{num}[/files]].
func (h *Handler) discussions(w http.ResponseWriter, r *http.Request, repo *haven.Repo, rest []string) {
	switch {
	case len(rest) == 0:
		h.discussionList(w, r, repo)
	case len(rest) == 1:
		h.discussionThread(w, r, repo, rest[0], false)
	case len(rest) == 2 && rest[1] == "files":
		// The diff shows file contents: for those who may download them.
		if err := auth.CanDownload(actorOf(r), repo, h.base.String()+repoURL(repo)); err != nil {
			h.fail(w, r, err)
			return
		}
		h.discussionThread(w, r, repo, rest[0], true)
	default:
		h.notFound(w, r)
	}
}

func (h *Handler) discussionList(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	v, err := h.view(r.Context(), r, repo, "community", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := discussionsData{repoView: v, CanDiscuss: auth.CanDiscuss(actorOf(r), auth.Discuss, repo, "") == nil}
	f := haven.DiscussionFilter{Limit: discussionsPageSize}
	switch q.Get("type") {
	case "discussion":
		no := false
		f.PullRequests, d.Type = &no, "discussion"
	case "pull_request":
		yes := true
		f.PullRequests, d.Type = &yes, "pull_request"
	}
	switch q.Get("status") {
	case haven.StatusOpen, haven.StatusClosed:
		f.Status, d.Status = q.Get("status"), q.Get("status")
	}
	switch q.Get("sort") {
	case haven.SortTrending, haven.SortReactions:
		f.Sort, d.Sort = q.Get("sort"), q.Get("sort")
	}
	f.Search = strings.TrimSpace(q.Get("search"))
	d.Search = f.Search
	if p, err := strconv.Atoi(q.Get("p")); err == nil && p > 0 {
		d.Page = p
	}
	f.Offset = d.Page * discussionsPageSize
	if d.Items, d.Total, _, err = h.meta.ListDiscussions(r.Context(), repo.ID, f); err != nil {
		h.fail(w, r, err)
		return
	}
	link := func(p int) string {
		v := url.Values{}
		if d.Type != "" {
			v.Set("type", d.Type)
		}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if d.Sort != "" {
			v.Set("sort", d.Sort)
		}
		if d.Search != "" {
			v.Set("search", d.Search)
		}
		if p > 0 {
			v.Set("p", strconv.Itoa(p))
		}
		if len(v) == 0 {
			return repoURL(repo, "/discussions")
		}
		return repoURL(repo, "/discussions") + "?" + v.Encode()
	}
	if d.Page > 0 {
		d.Prev = link(d.Page - 1)
	}
	if f.Offset+len(d.Items) < d.Total {
		d.Next = link(d.Page + 1)
	}
	h.render(w, r, http.StatusOK, "discussions", "Community · "+repo.FullName(), d)
}

func (h *Handler) discussionThread(w http.ResponseWriter, r *http.Request, repo *haven.Repo, num string, files bool) {
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		h.notFound(w, r)
		return
	}
	disc, err := h.meta.Discussion(r.Context(), repo.ID, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if files && !disc.IsPullRequest {
		h.notFound(w, r)
		return
	}
	v, err := h.view(r.Context(), r, repo, "community", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	a := actorOf(r)
	d := threadData{
		repoView:    v,
		Discussion:  disc,
		Files:       files,
		Ref:         haven.PullRequestRef(disc.Num),
		Target:      strings.TrimPrefix(disc.TargetRef, "refs/heads/"),
		CanComment:  auth.CanComment(a, repo, disc) == nil,
		CanModerate: auth.CanDiscuss(a, auth.Moderate, repo, disc.Author) == nil,
		CanMerge:    disc.IsPullRequest && auth.CanDiscuss(a, auth.Merge, repo, disc.Author) == nil,
		CanPin:      auth.CanDiscuss(a, auth.Pin, repo, disc.Author) == nil,
		CanDelete:   auth.CanDiscuss(a, auth.Delete, repo, disc.Author) == nil,
	}
	if d.CanComment {
		d.Reactions = haven.Reactions
	}
	evs, err := h.meta.DiscussionEvents(r.Context(), disc.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, ev := range evs {
		te := threadEvent{ID: ev.ObjectID, Type: ev.Type, Author: ev.Author, When: ev.CreatedAt}
		switch ev.Type {
		case haven.EventComment:
			te.Hidden, te.Edited, te.Raw = ev.Hidden, len(ev.Versions) > 1, ev.Body
			if !ev.Hidden && ev.Body != "" {
				te.HTML = template.HTML(RenderComment(ev.Body)) // sanitised
			}
			te.CanEdit = !ev.Hidden && auth.CanDiscuss(a, auth.Moderate, repo, ev.Author) == nil
			te.Reactions, te.Reacted = ev.Reactions, map[string]bool{}
			for _, rc := range ev.Reactions {
				te.Reacted[rc.Reaction] = slices.Contains(rc.Users, a.Name())
			}
		default:
			var data struct {
				Status, From, To, Subject, OID string
				Pinned, Locked                 bool
			}
			json.Unmarshal([]byte(ev.Data), &data)
			te.Status, te.From, te.To, te.Subject, te.OID = data.Status, data.From, data.To, data.Subject, data.OID
			te.Pinned, te.Locked = data.Pinned, data.Locked
		}
		d.Events = append(d.Events, te)
	}
	if disc.IsPullRequest {
		if d.Head, err = v.g.Resolve(d.Ref); err != nil && !haven.IsCode(err, haven.ERevisionNotFound) {
			h.fail(w, r, err)
			return
		}
		if d.Head != "" && (disc.Status == haven.StatusOpen || disc.Status == haven.StatusDraft) {
			d.Conflicts, _ = v.g.Conflicts(r.Context(), disc.TargetRef, d.Head)
		}
		if files && d.Head != "" {
			base := disc.TargetRef
			if disc.Status == haven.StatusMerged && disc.MergeCommit != "" {
				if c, err := v.g.CommitInfo(disc.MergeCommit); err == nil && len(c.Parents) == 2 {
					base = c.Parents[0]
				}
			}
			from, err := v.g.MergeBase(r.Context(), base, d.Head)
			if err != nil && !haven.IsCode(err, haven.ERevisionNotFound) {
				h.fail(w, r, err)
				return
			}
			if d.Diff, d.Adds, d.Dels, d.Truncated, err = h.treeDiff(v.g, repo, from, d.Head); err != nil {
				h.fail(w, r, err)
				return
			}
		}
	}
	h.render(w, r, http.StatusOK, "discussion", disc.Title+" · #"+num+" · "+repo.FullName(), d)
}
