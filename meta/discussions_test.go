package meta_test

import (
	"reflect"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestDiscussionsSQLite(t *testing.T)   { testDiscussions(t, openSQLite(t)) }
func TestDiscussionsPostgres(t *testing.T) { testDiscussions(t, postgresOpener(t)(t)) }

func nums(ds []*haven.Discussion) []int {
	out := []int{}
	for _, d := range ds {
		out = append(out, d.Num)
	}
	return out
}

func testDiscussions(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	repo := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "tiny"})
	other := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "other"})

	open := func(repoID int64, title, author string, pr bool, minNum int) *haven.Discussion {
		t.Helper()
		d := &haven.Discussion{RepoID: repoID, Title: title, Author: author, Status: haven.StatusOpen, IsPullRequest: pr}
		if pr {
			d.Status, d.TargetRef = haven.StatusDraft, "refs/heads/main"
		}
		first := &haven.DiscussionEvent{Type: haven.EventComment, Author: author, Body: "about " + title}
		mustNil(t, s.CreateDiscussion(ctx, d, first, minNum))
		if len(d.ObjectID) != 24 || len(first.ObjectID) != 24 || first.DiscussionID != d.ID {
			t.Fatalf("ids: %+v %+v", d, first)
		}
		isUTC(t, "CreatedAt", d.CreatedAt)
		return d
	}
	pr := open(repo.ID, "A pull request", "alice", true, 0)
	disc := open(repo.ID, "A question", "bob", false, 0)
	legacy := open(repo.ID, "After old refs", "bob", true, 7) // refs/pr/1..6 existed already
	elsewhere := open(other.ID, "Elsewhere", "alice", false, 0)
	if pr.Num != 1 || disc.Num != 2 || legacy.Num != 7 || elsewhere.Num != 1 {
		t.Fatalf("numbers %d %d %d %d, want 1 2 7 1", pr.Num, disc.Num, legacy.Num, elsewhere.Num)
	}

	yes, no := true, false
	closed := haven.StatusClosed
	mustNil(t, s.AddDiscussionEvent(ctx, disc, &haven.DiscussionEvent{Type: haven.EventStatusChange, Author: "bob", Data: `{"status":"closed"}`},
		haven.DiscussionChange{Status: &closed}))
	if disc.Status != closed {
		t.Fatalf("status not updated in place: %+v", disc)
	}
	tests := []struct {
		name       string
		f          haven.DiscussionFilter
		want       []int
		wantClosed int // closed or merged ones the filter selects with any status
	}{
		{"all newest first", haven.DiscussionFilter{}, []int{7, 2, 1}, 1},
		{"open includes drafts", haven.DiscussionFilter{Status: "open"}, []int{7, 1}, 1},
		{"closed", haven.DiscussionFilter{Status: "closed"}, []int{2}, 1},
		{"pull requests", haven.DiscussionFilter{PullRequests: &yes}, []int{7, 1}, 0},
		{"discussions", haven.DiscussionFilter{PullRequests: &no}, []int{2}, 1},
		{"author", haven.DiscussionFilter{Author: "bob"}, []int{7, 2}, 1},
		{"unknown author", haven.DiscussionFilter{Author: "nobody"}, []int{}, 0},
		{"search", haven.DiscussionFilter{Search: "QUESTION"}, []int{2}, 1},
		{"page", haven.DiscussionFilter{Offset: 1, Limit: 1}, []int{2}, 1},
		{"past the end", haven.DiscussionFilter{Offset: 3, Limit: 1}, []int{}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, total, closed, err := s.ListDiscussions(ctx, repo.ID, tc.f)
			mustNil(t, err)
			if closed != tc.wantClosed {
				t.Errorf("closed = %d, want %d", closed, tc.wantClosed)
			}
			if !reflect.DeepEqual(nums(got), tc.want) {
				t.Fatalf("nums = %v, want %v", nums(got), tc.want)
			}
			if tc.f.Limit == 0 && total != len(tc.want) {
				t.Fatalf("total = %d, want %d", total, len(tc.want))
			}
		})
	}

	// Comments: edit keeps the versions, hide erases them.
	c := &haven.DiscussionEvent{Type: haven.EventComment, Author: "bob", Body: "first"}
	mustNil(t, s.AddDiscussionEvent(ctx, pr, c, haven.DiscussionChange{}))
	got, err := s.DiscussionEvent(ctx, pr.ID, c.ObjectID)
	mustNil(t, err)
	mustNil(t, s.EditComment(ctx, got, "second", "alice"))
	evs, err := s.DiscussionEvents(ctx, pr.ID)
	mustNil(t, err)
	if len(evs) != 2 || evs[1].Body != "second" || len(evs[1].Versions) != 2 || evs[1].Versions[0].Body != "first" || evs[1].Versions[1].Author != "alice" {
		t.Fatalf("events after edit = %+v", evs)
	}
	if !reflect.DeepEqual(evs[1], got) {
		t.Fatalf("edited in place %+v, stored %+v", got, evs[1])
	}
	mustNil(t, s.HideComment(ctx, got, "alice"))
	evs, _ = s.DiscussionEvents(ctx, pr.ID)
	if !evs[1].Hidden || evs[1].Body != "" || evs[1].Versions[0].Body != "" || evs[1].HiddenBy != "alice" {
		t.Fatalf("hidden comment = %+v", evs[1])
	}
	wantCode(t, s.EditComment(ctx, got, "again", "alice"), haven.ENotFound)
	_, err = s.DiscussionEvent(ctx, pr.ID, "000000000000000000000000")
	wantCode(t, err, haven.ENotFound)

	// A merge records its commit and clears conflicts; conflicts read back.
	conflicts := []string{"a.txt", "b/c.txt"}
	mustNil(t, s.AddDiscussionEvent(ctx, pr, nil, haven.DiscussionChange{Conflicts: &conflicts}))
	d, err := s.Discussion(ctx, repo.ID, 1)
	mustNil(t, err)
	if !reflect.DeepEqual(d.Conflicts, conflicts) || d.TargetRef != "refs/heads/main" || !d.IsPullRequest {
		t.Fatalf("discussion = %+v", d)
	}
	merged, sha, none := haven.StatusMerged, "abc123", []string{}
	mustNil(t, s.AddDiscussionEvent(ctx, pr, &haven.DiscussionEvent{Type: haven.EventStatusChange, Author: "alice", Data: `{"status":"merged"}`},
		haven.DiscussionChange{Status: &merged, MergeCommit: &sha, Conflicts: &none}))
	d, _ = s.Discussion(ctx, repo.ID, 1)
	if d.Status != merged || d.MergeCommit != sha || d.Conflicts != nil {
		t.Fatalf("merged discussion = %+v", d)
	}
	_, err = s.Discussion(ctx, repo.ID, 99)
	wantCode(t, err, haven.ENotFound)
	list, _, _ := s.Discussions(ctx, repo.ID, haven.DiscussionFilter{Author: "alice"})
	if len(list) != 1 || list[0].NumComments != 2 {
		t.Fatalf("comments counted: %+v", list)
	}

	// A discussion can be deleted alone, with its events.
	mustNil(t, s.DeleteDiscussion(ctx, legacy.ID))
	_, err = s.Discussion(ctx, repo.ID, legacy.Num)
	wantCode(t, err, haven.ENotFound)
	wantCode(t, s.DeleteDiscussion(ctx, legacy.ID), haven.ENotFound)

	// Deleting the repository deletes its discussions.
	mustNil(t, s.DeleteRepo(ctx, repo.ID))
	list, total, err := s.Discussions(ctx, repo.ID, haven.DiscussionFilter{})
	mustNil(t, err)
	if len(list) != 0 || total != 0 {
		t.Fatalf("after delete: %d, %d", len(list), total)
	}
}
