package meta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

// newObjectID returns 24 random lowercase hex digits, the form of the Hub's
// object ids; clients lower-case ids before putting them in URLs.
func newObjectID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func errDiscussionNotFound() error {
	return haven.Errorf(haven.ENotFound, "Discussion not found")
}

const discussionColumns = `d.id, d.object_id, d.repo_id, d.num, d.title, d.author, d.status, d.is_pull_request,
	d.target_ref, d.merge_commit, d.conflicting_files, d.pinned, d.locked, d.reaction_users, d.created_at, d.updated_at`

func scanDiscussion(sc interface{ Scan(...any) error }, extra ...any) (*haven.Discussion, error) {
	var d haven.Discussion
	var conflicts string
	dest := append([]any{&d.ID, &d.ObjectID, &d.RepoID, &d.Num, &d.Title, &d.Author, &d.Status, &d.IsPullRequest,
		&d.TargetRef, &d.MergeCommit, &conflicts, &d.Pinned, &d.Locked, &d.ReactionUsers, &d.CreatedAt, &d.UpdatedAt}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	if conflicts != "" {
		d.Conflicts = strings.Split(conflicts, "\n")
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return &d, nil
}

// CreateDiscussion stores d with first, its opening comment, and sets their
// ids, times and d.Num: the repository's next number, and at least minNum
// (pull request refs made before discussions were recorded keep theirs).
func (s *Store) CreateDiscussion(ctx context.Context, d *haven.Discussion, first *haven.DiscussionEvent, minNum int) error {
	for attempt := 0; ; attempt++ {
		err := s.inTx(ctx, func(c conn) error {
			var last int
			if err := c.queryRow(ctx, `SELECT COALESCE(MAX(num), 0) FROM discussions WHERE repo_id = ?`, d.RepoID).Scan(&last); err != nil {
				return err
			}
			d.Num = max(last+1, minNum)
			d.ObjectID = newObjectID()
			d.CreatedAt = now()
			d.UpdatedAt = d.CreatedAt
			if err := c.queryRow(ctx, `INSERT INTO discussions (object_id, repo_id, num, title, author, status, is_pull_request,
				target_ref, merge_commit, conflicting_files, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?) RETURNING id`,
				d.ObjectID, d.RepoID, d.Num, d.Title, d.Author, d.Status, d.IsPullRequest, d.TargetRef,
				d.CreatedAt, d.UpdatedAt).Scan(&d.ID); err != nil {
				return err
			}
			if first == nil {
				return nil
			}
			first.DiscussionID = d.ID
			first.CreatedAt = d.CreatedAt
			return insertEvent(ctx, c, first)
		})
		if isUniqueViolation(err) && attempt < 10 {
			// Another discussion took the number: take the next one.
			continue
		}
		if isForeignKeyViolation(err) {
			return haven.Errorf(haven.ERepoNotFound, "Repository not found")
		}
		return err
	}
}

func insertEvent(ctx context.Context, c conn, ev *haven.DiscussionEvent) error {
	ev.ObjectID = newObjectID()
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now()
	}
	ev.UpdatedAt = ev.CreatedAt
	if ev.Data == "" {
		ev.Data = "{}"
	}
	if err := c.queryRow(ctx, `INSERT INTO discussion_events (object_id, discussion_id, type, author, body, hidden, hidden_by, data, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, FALSE, '', ?, ?, ?) RETURNING id`,
		ev.ObjectID, ev.DiscussionID, ev.Type, ev.Author, ev.Body, ev.Data, ev.CreatedAt, ev.UpdatedAt).Scan(&ev.ID); err != nil {
		return err
	}
	if ev.Type != haven.EventComment {
		return nil
	}
	ev.Versions = []haven.CommentVersion{{Body: ev.Body, Author: ev.Author, CreatedAt: ev.CreatedAt}}
	_, err := c.exec(ctx, `INSERT INTO discussion_comment_versions (event_id, body, author, created_at) VALUES (?, ?, ?, ?)`,
		ev.ID, ev.Body, ev.Author, ev.CreatedAt)
	return err
}

// Discussion returns discussion num of a repository.
func (s *Store) Discussion(ctx context.Context, repoID int64, num int) (*haven.Discussion, error) {
	d, err := scanDiscussion(s.conn().queryRow(ctx, `SELECT `+discussionColumns+` FROM discussions d
		WHERE d.repo_id = ? AND d.num = ?`, repoID, num))
	if err != nil {
		return nil, noRows(err, errDiscussionNotFound())
	}
	return d, nil
}

// Discussions lists the discussions of a repository that f selects, newest
// first, with their number of comments, and how many f selects in all.
func (s *Store) Discussions(ctx context.Context, repoID int64, f haven.DiscussionFilter) ([]*haven.Discussion, int, error) {
	ds, total, _, err := s.ListDiscussions(ctx, repoID, f)
	return ds, total, err
}

// ListDiscussions is Discussions that also counts the closed and merged
// discussions f would select with any status, as the Hub's listing shows
// them. Both counts come from one pass over the listing index, which is
// most of a far or filtered page's cost.
func (s *Store) ListDiscussions(ctx context.Context, repoID int64, f haven.DiscussionFilter) (ds []*haven.Discussion, total, closed int, err error) {
	switch f.Sort {
	case "", haven.SortRecentlyCreated, haven.SortReactions, haven.SortTrending:
	default:
		return nil, 0, 0, haven.Errorf(haven.EInvalid, "Invalid sort %q: expected %s, %s or %s", f.Sort,
			haven.SortRecentlyCreated, haven.SortTrending, haven.SortReactions)
	}
	where := []string{"d.repo_id = ?"}
	args := []any{repoID}
	if f.PullRequests != nil {
		where = append(where, "d.is_pull_request = ?")
		args = append(args, *f.PullRequests)
	}
	if f.Author != "" {
		where = append(where, "d.author = ?")
		args = append(args, f.Author)
	}
	if f.Search != "" {
		where = append(where, "LOWER(d.title) LIKE ? ESCAPE '\\'")
		args = append(args, "%"+escapeLike(strings.ToLower(f.Search))+"%")
	}
	const closedCond = "d.status IN ('closed', 'merged')"
	statusCond := "TRUE"
	var statusArgs []any
	switch f.Status {
	case "", "all":
	case haven.StatusOpen:
		statusCond = "d.status IN ('open', 'draft')"
	case haven.StatusClosed:
		statusCond = closedCond
	default:
		statusCond = "d.status = ?"
		statusArgs = []any{f.Status}
	}
	anyStatus := strings.Join(where, " AND ")
	if err := s.conn().queryRow(ctx, `SELECT COALESCE(SUM(CASE WHEN `+statusCond+` THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN `+closedCond+` THEN 1 ELSE 0 END), 0) FROM discussions d WHERE `+anyStatus,
		append(statusArgs, args...)...).Scan(&total, &closed); err != nil {
		return nil, 0, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if total <= max(f.Offset, 0) {
		return nil, total, closed, nil
	}
	// Pinned discussions come first in every order.
	order := "d.pinned DESC, d.num DESC"
	var orderArgs []any
	switch f.Sort {
	case "", haven.SortRecentlyCreated:
	case haven.SortReactions:
		order = "d.pinned DESC, d.reaction_users DESC, d.num DESC"
	case haven.SortTrending:
		since := dbTime(time.Now().Add(-discussionTrendingWindow))
		order = `d.pinned DESC,
			(SELECT COUNT(*) FROM discussion_events e WHERE e.discussion_id = d.id AND e.type = 'comment' AND e.created_at >= ?) +
			(SELECT COUNT(*) FROM discussion_reactions r WHERE r.discussion_id = d.id AND r.created_at >= ?) DESC, d.num DESC`
		orderArgs = []any{since, since}
	}
	// The page's rows are read in a second statement, by id, once the
	// order has picked them: a sort other than the listing index's would
	// otherwise read every selected row, and count its comments, before
	// sorting.
	rows, err := s.conn().query(ctx, `SELECT d.id FROM discussions d WHERE `+anyStatus+` AND `+statusCond+
		` ORDER BY `+order+` LIMIT ? OFFSET ?`, append(append(append(args, statusArgs...), orderArgs...), limit, max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, 0, 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return nil, total, closed, err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	idArgs := make([]any, len(ids))
	for i, id := range ids {
		idArgs[i] = id
	}
	rows, err = s.conn().query(ctx, `SELECT `+discussionColumns+`,
		(SELECT COUNT(*) FROM discussion_events e WHERE e.discussion_id = d.id AND e.type = 'comment')
		FROM discussions d WHERE d.id IN (`+marks+`)`, idArgs...)
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	byID := map[int64]*haven.Discussion{}
	for rows.Next() {
		var n int
		d, err := scanDiscussion(rows, &n)
		if err != nil {
			return nil, 0, 0, err
		}
		d.NumComments = n
		byID[d.ID] = d
	}
	for _, id := range ids {
		if d := byID[id]; d != nil {
			ds = append(ds, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, err
	}
	rows.Close()
	if err := s.topReactions(ctx, ds); err != nil {
		return nil, 0, 0, err
	}
	return ds, total, closed, nil
}

// discussionTrendingWindow is how far back the trending order counts comments and
// reactions.
const discussionTrendingWindow = 7 * 24 * time.Hour

// openingComment selects the id of the opening comment of the discussion
// whose id is bound to it: its first comment.
const openingComment = `(SELECT MIN(oc.id) FROM discussion_events oc WHERE oc.discussion_id = ? AND oc.type = 'comment')`

// topReactions fills in the reactions to the opening comments of ds, most
// given first; only discussions someone reacted to are looked at.
func (s *Store) topReactions(ctx context.Context, ds []*haven.Discussion) error {
	for _, d := range ds {
		d.TopReactions = []haven.Reaction{}
		if d.ReactionUsers == 0 {
			continue
		}
		rows, err := s.conn().query(ctx, `SELECT reaction, author FROM discussion_reactions
			WHERE event_id = `+openingComment+` ORDER BY created_at, author`, d.ID)
		if err != nil {
			return err
		}
		byReaction := map[string][]string{}
		for rows.Next() {
			var reaction, author string
			if err := rows.Scan(&reaction, &author); err != nil {
				rows.Close()
				return err
			}
			byReaction[reaction] = append(byReaction[reaction], author)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		d.TopReactions = groupReactions(byReaction)
		sort.SliceStable(d.TopReactions, func(i, j int) bool {
			return len(d.TopReactions[i].Users) > len(d.TopReactions[j].Users)
		})
	}
	return nil
}

// groupReactions orders reactions as haven.Reactions lists them.
func groupReactions(byReaction map[string][]string) []haven.Reaction {
	out := []haven.Reaction{}
	for _, r := range haven.Reactions {
		if users := byReaction[r]; len(users) > 0 {
			out = append(out, haven.Reaction{Reaction: r, Users: users})
		}
	}
	return out
}

// SetReaction gives comment ev of discussion d the reaction of user, or
// takes it back (on false); either is a no-op when already so. It keeps
// d.ReactionUsers, and updates ev.Reactions.
func (s *Store) SetReaction(ctx context.Context, d *haven.Discussion, ev *haven.DiscussionEvent, user, reaction string, on bool) error {
	if !haven.ValidReaction(reaction) {
		return haven.Errorf(haven.EInvalid, "Invalid reaction %q: expected one of %s", reaction, strings.Join(haven.Reactions, " "))
	}
	err := s.inTx(ctx, func(c conn) error {
		var err error
		if on {
			_, err = c.exec(ctx, `INSERT INTO discussion_reactions (event_id, discussion_id, author, reaction, created_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, ev.ID, d.ID, user, reaction, now())
		} else {
			_, err = c.exec(ctx, `DELETE FROM discussion_reactions WHERE event_id = ? AND author = ? AND reaction = ?`, ev.ID, user, reaction)
		}
		if err != nil {
			return err
		}
		if err := c.execOne(ctx, errDiscussionNotFound(), `UPDATE discussions SET reaction_users =
			(SELECT COUNT(DISTINCT author) FROM discussion_reactions WHERE event_id = `+openingComment+`) WHERE id = ?`,
			d.ID, d.ID); err != nil {
			return err
		}
		return c.queryRow(ctx, `SELECT reaction_users FROM discussions WHERE id = ?`, d.ID).Scan(&d.ReactionUsers)
	})
	if isForeignKeyViolation(err) {
		return haven.Errorf(haven.ENotFound, "Comment not found")
	}
	if err != nil {
		return err
	}
	fresh, err := s.DiscussionEvent(ctx, d.ID, ev.ObjectID)
	if err != nil {
		return err
	}
	ev.Reactions = fresh.Reactions
	return nil
}

const eventColumns = `id, object_id, discussion_id, type, author, body, hidden, hidden_by, data, created_at, updated_at`

func scanEvent(sc interface{ Scan(...any) error }) (*haven.DiscussionEvent, error) {
	var ev haven.DiscussionEvent
	if err := sc.Scan(&ev.ID, &ev.ObjectID, &ev.DiscussionID, &ev.Type, &ev.Author, &ev.Body, &ev.Hidden, &ev.HiddenBy,
		&ev.Data, &ev.CreatedAt, &ev.UpdatedAt); err != nil {
		return nil, err
	}
	ev.CreatedAt, ev.UpdatedAt = ev.CreatedAt.UTC(), ev.UpdatedAt.UTC()
	return &ev, nil
}

// DiscussionEvents lists the events of a discussion in order, comments with
// their versions.
func (s *Store) DiscussionEvents(ctx context.Context, discussionID int64) ([]*haven.DiscussionEvent, error) {
	rows, err := s.conn().query(ctx, `SELECT `+eventColumns+` FROM discussion_events WHERE discussion_id = ? ORDER BY id`, discussionID)
	if err != nil {
		return nil, err
	}
	var out []*haven.DiscussionEvent
	byID := map[int64]*haven.DiscussionEvent{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, ev)
		byID[ev.ID] = ev
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	vrows, err := s.conn().query(ctx, `SELECT v.event_id, v.body, v.author, v.created_at FROM discussion_comment_versions v
		JOIN discussion_events e ON e.id = v.event_id WHERE e.discussion_id = ? ORDER BY v.id`, discussionID)
	if err != nil {
		return nil, err
	}
	defer vrows.Close()
	for vrows.Next() {
		var id int64
		var v haven.CommentVersion
		if err := vrows.Scan(&id, &v.Body, &v.Author, &v.CreatedAt); err != nil {
			return nil, err
		}
		v.CreatedAt = v.CreatedAt.UTC()
		if ev := byID[id]; ev != nil {
			ev.Versions = append(ev.Versions, v)
		}
	}
	if err := vrows.Err(); err != nil {
		return nil, err
	}
	vrows.Close()
	rrows, err := s.conn().query(ctx, `SELECT event_id, reaction, author FROM discussion_reactions
		WHERE discussion_id = ? ORDER BY created_at, author`, discussionID)
	if err != nil {
		return nil, err
	}
	defer rrows.Close()
	byEvent := map[int64]map[string][]string{}
	for rrows.Next() {
		var id int64
		var reaction, author string
		if err := rrows.Scan(&id, &reaction, &author); err != nil {
			return nil, err
		}
		if byEvent[id] == nil {
			byEvent[id] = map[string][]string{}
		}
		byEvent[id][reaction] = append(byEvent[id][reaction], author)
	}
	for id, rs := range byEvent {
		if ev := byID[id]; ev != nil {
			ev.Reactions = groupReactions(rs)
		}
	}
	return out, rrows.Err()
}

// DiscussionEvent returns the event objectID of a discussion.
func (s *Store) DiscussionEvent(ctx context.Context, discussionID int64, objectID string) (*haven.DiscussionEvent, error) {
	evs, err := s.DiscussionEvents(ctx, discussionID)
	if err != nil {
		return nil, err
	}
	for _, ev := range evs {
		if ev.ObjectID == strings.ToLower(objectID) {
			return ev, nil
		}
	}
	return nil, haven.Errorf(haven.ENotFound, "Comment not found")
}

// AddDiscussionEvent appends ev to discussion d and applies change to d in
// the same transaction; d is updated in place.
func (s *Store) AddDiscussionEvent(ctx context.Context, d *haven.Discussion, ev *haven.DiscussionEvent, change haven.DiscussionChange) error {
	return s.inTx(ctx, func(c conn) error {
		t := now()
		set := []string{"updated_at = ?"}
		args := []any{t}
		if change.Title != nil {
			set, args = append(set, "title = ?"), append(args, *change.Title)
		}
		if change.Status != nil {
			set, args = append(set, "status = ?"), append(args, *change.Status)
		}
		if change.MergeCommit != nil {
			set, args = append(set, "merge_commit = ?"), append(args, *change.MergeCommit)
		}
		if change.Conflicts != nil {
			set, args = append(set, "conflicting_files = ?"), append(args, strings.Join(*change.Conflicts, "\n"))
		}
		if change.Pinned != nil {
			set, args = append(set, "pinned = ?"), append(args, *change.Pinned)
		}
		if change.Locked != nil {
			set, args = append(set, "locked = ?"), append(args, *change.Locked)
		}
		if err := c.execOne(ctx, errDiscussionNotFound(), `UPDATE discussions SET `+strings.Join(set, ", ")+` WHERE id = ?`,
			append(args, d.ID)...); err != nil {
			return err
		}
		if ev != nil {
			ev.DiscussionID = d.ID
			ev.CreatedAt = t
			if err := insertEvent(ctx, c, ev); err != nil {
				return err
			}
		}
		d.UpdatedAt = t
		if change.Title != nil {
			d.Title = *change.Title
		}
		if change.Status != nil {
			d.Status = *change.Status
		}
		if change.MergeCommit != nil {
			d.MergeCommit = *change.MergeCommit
		}
		if change.Conflicts != nil {
			d.Conflicts = *change.Conflicts
		}
		if change.Pinned != nil {
			d.Pinned = *change.Pinned
		}
		if change.Locked != nil {
			d.Locked = *change.Locked
		}
		return nil
	})
}

// EditComment gives comment ev of a discussion a new text by editor and keeps
// the old one in its versions. Hidden comments cannot be edited.
func (s *Store) EditComment(ctx context.Context, ev *haven.DiscussionEvent, body, editor string) error {
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		if err := c.execOne(ctx, haven.Errorf(haven.ENotFound, "Comment not found"), `UPDATE discussion_events SET body = ?, updated_at = ?
			WHERE id = ? AND type = 'comment' AND NOT hidden`, body, t, ev.ID); err != nil {
			return err
		}
		_, err := c.exec(ctx, `INSERT INTO discussion_comment_versions (event_id, body, author, created_at) VALUES (?, ?, ?, ?)`,
			ev.ID, body, editor, t)
		return err
	})
	if err != nil {
		return err
	}
	ev.Body, ev.UpdatedAt = body, t
	ev.Versions = append(ev.Versions, haven.CommentVersion{Body: body, Author: editor, CreatedAt: t})
	return nil
}

// HideComment hides comment ev for good: its text and every version of it
// are erased, so that nothing can serve them any more.
func (s *Store) HideComment(ctx context.Context, ev *haven.DiscussionEvent, by string) error {
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		if err := c.execOne(ctx, haven.Errorf(haven.ENotFound, "Comment not found"), `UPDATE discussion_events
			SET hidden = TRUE, hidden_by = ?, body = '', updated_at = ? WHERE id = ? AND type = 'comment'`, by, t, ev.ID); err != nil {
			return err
		}
		_, err := c.exec(ctx, `UPDATE discussion_comment_versions SET body = '' WHERE event_id = ?`, ev.ID)
		return err
	})
	if err != nil {
		return err
	}
	ev.Hidden, ev.HiddenBy, ev.Body, ev.UpdatedAt = true, by, "", t
	for i := range ev.Versions {
		ev.Versions[i].Body = ""
	}
	return nil
}

// DeleteDiscussion deletes a discussion with its events.
func (s *Store) DeleteDiscussion(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(c conn) error {
		return c.execOne(ctx, errDiscussionNotFound(), `DELETE FROM discussions WHERE id = ?`, id)
	})
}
