package webhooks

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
)

// Version is the payload version sent; the Python client accepts only 3.
const Version = 3

// Payload is the JSON body of a delivery, version 3 of the Hub's format.
type Payload struct {
	Event         PayloadEvent       `json:"event"`
	Repo          PayloadRepo        `json:"repo"`
	Discussion    *PayloadDiscussion `json:"discussion,omitempty"`
	Comment       *PayloadComment    `json:"comment,omitempty"`
	UpdatedRefs   []PayloadRef       `json:"updatedRefs,omitempty"`
	UpdatedConfig map[string]any     `json:"updatedConfig,omitempty"`
	MovedTo       *PayloadMovedTo    `json:"movedTo,omitempty"`
	Webhook       PayloadWebhook     `json:"webhook"`
}

// PayloadEvent says what happened.
type PayloadEvent struct {
	Action string `json:"action"`
	Scope  string `json:"scope"`
}

// PayloadID is an object named by its id.
type PayloadID struct {
	ID string `json:"id"`
}

// PayloadURL is where an object is, on the web and in the API.
type PayloadURL struct {
	Web string `json:"web"`
	API string `json:"api,omitempty"`
}

// PayloadRepo is the repository of an event.
type PayloadRepo struct {
	Type    haven.RepoType `json:"type"`
	Name    string         `json:"name"`
	ID      string         `json:"id"`
	Private bool           `json:"private"`
	URL     PayloadURL     `json:"url"`
	HeadSHA string         `json:"headSha,omitempty"`
	Owner   PayloadID      `json:"owner"`
	Tags    []string       `json:"tags"`
}

// PayloadDiscussion is the discussion or pull request of a community
// event.
type PayloadDiscussion struct {
	ID            string          `json:"id"`
	Num           int             `json:"num"`
	Title         string          `json:"title"`
	URL           PayloadURL      `json:"url"`
	Status        string          `json:"status"`
	Author        PayloadID       `json:"author"`
	IsPullRequest bool            `json:"isPullRequest"`
	Changes       *PayloadChanges `json:"changes,omitempty"`
}

// PayloadChanges are a pull request's target and merge commit.
type PayloadChanges struct {
	Base          string `json:"base"`
	MergeCommitID string `json:"mergeCommitId,omitempty"`
}

// PayloadComment is the comment of a comment event, or the first comment
// of a new discussion. Hidden comments have no content.
type PayloadComment struct {
	ID      string     `json:"id"`
	Author  PayloadID  `json:"author"`
	Hidden  bool       `json:"hidden"`
	Content *string    `json:"content,omitempty"`
	URL     PayloadURL `json:"url"`
}

// PayloadRef is a ref that moved; a nil sha means it did not exist.
type PayloadRef struct {
	Ref    string  `json:"ref"`
	OldSHA *string `json:"oldSha"`
	NewSHA *string `json:"newSha"`
}

// PayloadMovedTo is the new name of a moved repository.
type PayloadMovedTo struct {
	Name  string    `json:"name"`
	Owner PayloadID `json:"owner"`
}

// PayloadWebhook names the webhook a delivery is for.
type PayloadWebhook struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// objectID is the 24-character id the API gives a row (repository, user).
func objectID(id int64) string {
	s := strconv.FormatInt(id, 10)
	if len(s) >= 24 {
		return s
	}
	return strings.Repeat("0", 24-len(s)) + s
}

func escapeName(full string) string {
	ns, name, _ := strings.Cut(full, "/")
	return url.PathEscape(ns) + "/" + url.PathEscape(name)
}

// buildPayload makes the payload of ev for webhook id; ids maps user and
// organisation names (lower case) to their row ids, for the owners and
// authors it names.
func buildPayload(base string, ev *eventJob, webhookID string, ids func(name string) int64) *Payload {
	r := &ev.Repo
	full := r.Namespace + "/" + r.Name
	web := base + "/" + r.Type.URLPrefix() + escapeName(full)
	p := &Payload{
		Event: PayloadEvent{Action: ev.Action, Scope: ev.Scope},
		Repo: PayloadRepo{Type: r.Type, Name: full, ID: objectID(r.ID), Private: r.Private,
			URL:   PayloadURL{Web: web, API: base + "/api/" + r.Type.Plural() + "/" + escapeName(full)},
			Owner: PayloadID{ID: objectID(ids(r.Namespace))}, Tags: r.Tags},
		Webhook: PayloadWebhook{ID: webhookID, Version: Version},
	}
	if p.Repo.Tags == nil {
		p.Repo.Tags = []string{}
	}
	if strings.HasPrefix(ev.Scope, haven.ScopeRepo) {
		p.Repo.HeadSHA = r.SHA
	}
	for _, u := range ev.UpdatedRefs {
		ref := PayloadRef{Ref: u.Ref}
		if u.OldSHA != "" {
			ref.OldSHA = &u.OldSHA
		}
		if u.NewSHA != "" {
			ref.NewSHA = &u.NewSHA
		}
		p.UpdatedRefs = append(p.UpdatedRefs, ref)
	}
	if ev.Scope == haven.ScopeRepoConfig {
		p.UpdatedConfig = ev.UpdatedConfig
		if p.UpdatedConfig == nil {
			p.UpdatedConfig = map[string]any{}
		}
	}
	if ev.MovedTo != "" {
		ns, _, _ := strings.Cut(ev.MovedTo, "/")
		p.MovedTo = &PayloadMovedTo{Name: ev.MovedTo, Owner: PayloadID{ID: objectID(ids(ns))}}
	}
	if d := ev.Discussion; d != nil {
		num := strconv.Itoa(d.Num)
		p.Discussion = &PayloadDiscussion{ID: d.ObjectID, Num: d.Num, Title: d.Title, Status: d.Status,
			URL:    PayloadURL{Web: web + "/discussions/" + num, API: p.Repo.URL.API + "/discussions/" + num},
			Author: PayloadID{ID: objectID(ids(d.Author))}, IsPullRequest: d.IsPullRequest}
		if d.IsPullRequest {
			p.Discussion.Changes = &PayloadChanges{Base: d.TargetRef, MergeCommitID: d.MergeCommit}
		}
		if c := ev.Comment; c != nil {
			p.Comment = &PayloadComment{ID: c.ObjectID, Author: PayloadID{ID: objectID(ids(c.Author))}, Hidden: c.Hidden,
				URL: PayloadURL{Web: p.Discussion.URL.Web + "#" + c.ObjectID}}
			if !c.Hidden {
				body := c.Body
				p.Comment.Content = &body
			}
		}
	}
	return p
}
