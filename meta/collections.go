package meta

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
)

// CollectionFilter selects and orders collections for ListCollections.
type CollectionFilter struct {
	Owners []string // namespaces, in any letter case; empty: every owner
	// Items are item keys (see ItemKey) that a collection must all contain.
	Items  []string
	Search string // case-insensitive substring of the title
	// VisibleTo names the namespaces whose private collections the caller
	// may see; public ones are always seen.
	VisibleTo []string
	SeeAll    bool // every private collection too (administrators)
	// Sort is "" (the owner's order when one owner is asked for, else the
	// last modified first), "lastModified", "upvotes" or "trending".
	Sort   string
	Offset int
	Limit  int // 0: no limit
}

// CollectionUpdate is a change of a collection's metadata; nil fields stay.
type CollectionUpdate struct {
	Title       *string
	Description *string
	Private     *bool
	Theme       *string
	Position    *int // moves it among its owner's collections
}

// ItemKey is how an item is identified inside collections: "repo:ID",
// "collection:ID" or "paper:ID". An item is in a collection at most once.
func ItemKey(it *haven.CollectionItem) string {
	switch {
	case it.Repo != nil:
		return "repo:" + strconv.FormatInt(it.Repo.ID, 10)
	case it.Collection != nil:
		return "collection:" + it.Collection.ID
	}
	return "paper:" + it.Paper
}

const collectionColumns = `c.id, c.owner_id, u.name, u.full_name, u.is_org, c.title, c.description, c.private, c.theme,
	c.position, c.upvotes, c.created_at, c.updated_at`

const collectionFrom = " FROM collections c JOIN users u ON u.id = c.owner_id"

func scanCollection(row scanner) (*haven.Collection, error) {
	var c haven.Collection
	if err := row.Scan(&c.ID, &c.OwnerID, &c.Owner, &c.OwnerFullName, &c.OwnerIsOrg, &c.Title, &c.Description, &c.Private, &c.Theme,
		&c.Position, &c.Upvotes, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

func scanCollections(ctx context.Context, c conn, query string, args ...any) ([]*haven.Collection, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*haven.Collection
	for rows.Next() {
		col, err := scanCollection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, col)
	}
	return out, rows.Err()
}

func errCollectionNotFound() error {
	return haven.Errorf(haven.ENotFound, "Collection not found")
}

// CreateCollection adds c, owned by c.OwnerID, after the owner's other
// collections, and fills its ID, Owner, Position and times. An owner's
// titles are unique, as on the Hub: when the owner already has a collection
// titled c.Title, c.ID becomes that collection's id and the error's code is
// haven.EConflict.
func (s *Store) CreateCollection(ctx context.Context, c *haven.Collection) error {
	if c.Theme == "" {
		c.Theme = haven.CollectionThemes[0]
	}
	c.ID = haven.NewObjectID()
	t := now()
	err := s.inTx(ctx, func(cn conn) error {
		owner, err := scanUser(cn.queryRow(ctx, "SELECT "+userColumns+" FROM users u WHERE u.id = ?"+cn.d.lockRow, c.OwnerID))
		if err != nil {
			return noRows(err, errUserIDNotFound(c.OwnerID))
		}
		c.Owner, c.OwnerFullName, c.OwnerIsOrg = owner.Name, owner.FullName, owner.IsOrg
		var existing string
		err = cn.queryRow(ctx, "SELECT id FROM collections WHERE owner_id = ? AND title = ?", c.OwnerID, c.Title).Scan(&existing)
		if err == nil {
			c.ID = existing
			return haven.Errorf(haven.EConflict, "A collection with this title already exists")
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// The owner's row is locked above (or the database is, on SQLite),
		// so two creations cannot take the same position.
		if err := cn.queryRow(ctx, "SELECT COUNT(*) FROM collections WHERE owner_id = ?", c.OwnerID).Scan(&c.Position); err != nil {
			return err
		}
		_, err = cn.exec(ctx, `INSERT INTO collections (id, owner_id, title, description, private, theme, position,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.OwnerID, c.Title, c.Description, c.Private, c.Theme, c.Position, t, t)
		return err
	})
	if err != nil {
		return err
	}
	c.CreatedAt, c.UpdatedAt = t, t
	return nil
}

// CollectionByID returns a collection with all its items in order.
func (s *Store) CollectionByID(ctx context.Context, id string) (*haven.Collection, error) {
	c, err := scanCollection(s.conn().queryRow(ctx, "SELECT "+collectionColumns+collectionFrom+" WHERE c.id = ?", id))
	if err != nil {
		return nil, noRows(err, errCollectionNotFound())
	}
	if err := s.loadItems(ctx, []*haven.Collection{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// ListCollections lists the collections that match f, with all their items.
func (s *Store) ListCollections(ctx context.Context, f CollectionFilter) ([]*haven.Collection, error) {
	var where []string
	var args []any
	if len(f.Owners) > 0 {
		keys := make([]any, len(f.Owners))
		for i, o := range f.Owners {
			keys[i] = strings.ToLower(o)
		}
		where = append(where, "u.name_key IN ("+placeholders(len(keys))+")")
		args = append(args, keys...)
	}
	for _, k := range f.Items {
		where = append(where, "EXISTS (SELECT 1 FROM collection_items i WHERE i.collection_id = c.id AND i.item_key = ?)")
		args = append(args, k)
	}
	if f.Search != "" {
		where = append(where, `LOWER(c.title) LIKE ? ESCAPE '\'`)
		args = append(args, "%"+escapeLike(strings.ToLower(f.Search))+"%")
	}
	if !f.SeeAll {
		cond := "c.private = FALSE"
		if len(f.VisibleTo) > 0 {
			cond = "(c.private = FALSE OR u.name_key IN (" + placeholders(len(f.VisibleTo)) + "))"
			for _, ns := range f.VisibleTo {
				args = append(args, strings.ToLower(ns))
			}
		}
		where = append(where, cond)
	}
	var order string
	switch f.Sort {
	case "":
		order = "c.updated_at DESC, c.id DESC"
		if len(f.Owners) == 1 {
			order = "c.position, c.id"
		}
	case "lastModified":
		order = "c.updated_at DESC, c.id DESC"
	case "upvotes", "trending":
		order = "c.upvotes DESC, c.updated_at DESC, c.id DESC"
	default:
		return nil, haven.Errorf(haven.EInvalid, "Invalid sort %q: expected lastModified, upvotes or trending", f.Sort)
	}
	q := "SELECT " + collectionColumns + collectionFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := int64(math.MaxInt64)
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	args = append(args, limit, max(f.Offset, 0))
	cs, err := scanCollections(ctx, s.conn(), q+" ORDER BY "+order+" LIMIT ? OFFSET ?", args...)
	if err != nil {
		return nil, err
	}
	return cs, s.loadItems(ctx, cs)
}

// loadItems fills the items of cs, in order, with their repositories and
// collections as they are now.
func (s *Store) loadItems(ctx context.Context, cs []*haven.Collection) error {
	if len(cs) == 0 {
		return nil
	}
	byID := make(map[string]*haven.Collection, len(cs))
	ids := make([]any, len(cs))
	for i, c := range cs {
		byID[c.ID], ids[i] = c, c.ID
		c.Items = []haven.CollectionItem{}
	}
	rows, err := s.conn().query(ctx, `SELECT collection_id, id, type, repo_id, ref_id, paper_id, note, position, created_at
		FROM collection_items WHERE collection_id IN (`+placeholders(len(ids))+`) ORDER BY collection_id, position`, ids...)
	if err != nil {
		return err
	}
	type pending struct {
		col    *haven.Collection
		repoID sql.NullInt64
		refID  sql.NullString
	}
	var items []pending
	repoIDs, refIDs := map[int64]bool{}, map[string]bool{}
	for rows.Next() {
		var (
			p   pending
			cid string
			it  haven.CollectionItem
		)
		if err := rows.Scan(&cid, &it.ID, &it.Type, &p.repoID, &p.refID, &it.Paper, &it.Note, &it.Position, &it.CreatedAt); err != nil {
			rows.Close()
			return err
		}
		it.CreatedAt = it.CreatedAt.UTC()
		p.col = byID[cid]
		it.Position = len(p.col.Items) // gaps left by deleted repositories close here
		p.col.Items = append(p.col.Items, it)
		items = append(items, p)
		if p.repoID.Valid {
			repoIDs[p.repoID.Int64] = true
		}
		if p.refID.Valid {
			refIDs[p.refID.String] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	repos := map[int64]*haven.Repo{}
	if len(repoIDs) > 0 {
		args := make([]any, 0, len(repoIDs))
		for id := range repoIDs {
			args = append(args, id)
		}
		rs, err := scanRepos(ctx, s.conn(), "SELECT "+repoColumns+" FROM repos r WHERE r.id IN ("+placeholders(len(args))+")", args...)
		if err != nil {
			return err
		}
		for _, r := range rs {
			repos[r.ID] = r
		}
	}
	refs := map[string]*haven.Collection{}
	if len(refIDs) > 0 {
		args := make([]any, 0, len(refIDs))
		for id := range refIDs {
			args = append(args, id)
		}
		rs, err := scanCollections(ctx, s.conn(), "SELECT "+collectionColumns+collectionFrom+" WHERE c.id IN ("+placeholders(len(args))+")", args...)
		if err != nil {
			return err
		}
		for _, r := range rs {
			refs[r.ID] = r
		}
	}
	// Items were appended in the order of items, collection by collection.
	next := map[*haven.Collection]int{}
	for _, p := range items {
		it := &p.col.Items[next[p.col]]
		next[p.col]++
		if p.repoID.Valid {
			it.Repo = repos[p.repoID.Int64]
		}
		if p.refID.Valid {
			it.Collection = refs[p.refID.String]
		}
	}
	return nil
}

// UpdateCollection changes a collection's metadata and its last update time.
func (s *Store) UpdateCollection(ctx context.Context, id string, u CollectionUpdate) error {
	return s.inTx(ctx, func(c conn) error {
		var ownerID int64
		var pos int
		err := c.queryRow(ctx, "SELECT owner_id, position FROM collections WHERE id = ?"+c.d.lockRow, id).Scan(&ownerID, &pos)
		if err != nil {
			return noRows(err, errCollectionNotFound())
		}
		set := []string{"updated_at = ?"}
		args := []any{now()}
		if u.Title != nil {
			set, args = append(set, "title = ?"), append(args, *u.Title)
		}
		if u.Description != nil {
			set, args = append(set, "description = ?"), append(args, *u.Description)
		}
		if u.Private != nil {
			set, args = append(set, "private = ?"), append(args, *u.Private)
		}
		if u.Theme != nil {
			set, args = append(set, "theme = ?"), append(args, *u.Theme)
		}
		if _, err := c.exec(ctx, "UPDATE collections SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...); err != nil {
			return err
		}
		if u.Position == nil {
			return nil
		}
		return move(ctx, c, "collections", "owner_id", ownerID, id, pos, *u.Position)
	})
}

// move puts row id of table at position to among the rows that share its
// scope column, shifting those in between, so positions stay 0..n-1.
func move(ctx context.Context, c conn, table, scope string, scopeVal any, id string, from, to int) error {
	var n int
	if err := c.queryRow(ctx, "SELECT COUNT(*) FROM "+table+" WHERE "+scope+" = ?", scopeVal).Scan(&n); err != nil {
		return err
	}
	to = min(max(to, 0), n-1)
	if to == from {
		return nil
	}
	var err error
	if to > from {
		_, err = c.exec(ctx, "UPDATE "+table+" SET position = position - 1 WHERE "+scope+" = ? AND position > ? AND position <= ?", scopeVal, from, to)
	} else {
		_, err = c.exec(ctx, "UPDATE "+table+" SET position = position + 1 WHERE "+scope+" = ? AND position >= ? AND position < ?", scopeVal, to, from)
	}
	if err != nil {
		return err
	}
	_, err = c.exec(ctx, "UPDATE "+table+" SET position = ? WHERE id = ?", to, id)
	return err
}

// DeleteCollection removes a collection, its items and the items of other
// collections that point at it; the owner's later collections move up.
func (s *Store) DeleteCollection(ctx context.Context, id string) error {
	return s.inTx(ctx, func(c conn) error {
		var ownerID int64
		var pos int
		err := c.queryRow(ctx, "SELECT owner_id, position FROM collections WHERE id = ?"+c.d.lockRow, id).Scan(&ownerID, &pos)
		if err != nil {
			return noRows(err, errCollectionNotFound())
		}
		if err := compactAfterRefs(ctx, c, "ref_id = ?", id); err != nil {
			return err
		}
		if _, err := c.exec(ctx, "DELETE FROM collections WHERE id = ?", id); err != nil {
			return err
		}
		_, err = c.exec(ctx, "UPDATE collections SET position = position - 1 WHERE owner_id = ? AND position > ?", ownerID, pos)
		return err
	})
}

// compactAfterRefs deletes the items matching cond and closes the gaps they
// leave in their collections.
func compactAfterRefs(ctx context.Context, c conn, cond string, arg any) error {
	rows, err := c.query(ctx, "SELECT collection_id, position FROM collection_items WHERE "+cond+" ORDER BY position DESC", arg)
	if err != nil {
		return err
	}
	type gap struct {
		col string
		pos int
	}
	var gaps []gap
	for rows.Next() {
		var g gap
		if err := rows.Scan(&g.col, &g.pos); err != nil {
			rows.Close()
			return err
		}
		gaps = append(gaps, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := c.exec(ctx, "DELETE FROM collection_items WHERE "+cond, arg); err != nil {
		return err
	}
	// Highest positions first, so earlier shifts do not move later gaps.
	for _, g := range gaps {
		if _, err := c.exec(ctx, "UPDATE collection_items SET position = position - 1 WHERE collection_id = ? AND position > ?", g.col, g.pos); err != nil {
			return err
		}
	}
	return nil
}

// AddCollectionItem appends it to a collection and fills its ID, Position
// and CreatedAt. An item already there is a haven.EConflict.
func (s *Store) AddCollectionItem(ctx context.Context, collectionID string, it *haven.CollectionItem) error {
	var repoID, refID any
	if it.Repo != nil {
		repoID = it.Repo.ID
	}
	if it.Collection != nil {
		refID = it.Collection.ID
	}
	it.ID = haven.NewObjectID()
	t := now()
	err := s.inTx(ctx, func(c conn) error {
		var one int
		err := c.queryRow(ctx, "SELECT 1 FROM collections WHERE id = ?"+c.d.lockRow, collectionID).Scan(&one)
		if err != nil {
			return noRows(err, errCollectionNotFound())
		}
		if err := c.queryRow(ctx, "SELECT COALESCE(MAX(position) + 1, 0) FROM collection_items WHERE collection_id = ?", collectionID).Scan(&it.Position); err != nil {
			return err
		}
		_, err = c.exec(ctx, `INSERT INTO collection_items (id, collection_id, type, item_key, repo_id, ref_id, paper_id,
			note, position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			it.ID, collectionID, it.Type, ItemKey(it), repoID, refID, it.Paper, it.Note, it.Position, t)
		if isUniqueViolation(err) {
			return haven.Errorf(haven.EConflict, "Item already in the collection")
		}
		if isForeignKeyViolation(err) {
			return haven.Errorf(haven.ENotFound, "Item not found")
		}
		if err != nil {
			return err
		}
		_, err = c.exec(ctx, "UPDATE collections SET updated_at = ? WHERE id = ?", t, collectionID)
		return err
	})
	if err != nil {
		return err
	}
	it.CreatedAt = t
	return nil
}

// UpdateCollectionItem changes an item's note or moves it; nil leaves them.
func (s *Store) UpdateCollectionItem(ctx context.Context, collectionID, itemID string, note *string, position *int) error {
	return s.inTx(ctx, func(c conn) error {
		var pos int
		err := c.queryRow(ctx, "SELECT position FROM collection_items WHERE collection_id = ? AND id = ?"+c.d.lockRow,
			collectionID, itemID).Scan(&pos)
		if err != nil {
			return noRows(err, haven.Errorf(haven.ENotFound, "Item not found in the collection"))
		}
		if note != nil {
			if _, err := c.exec(ctx, "UPDATE collection_items SET note = ? WHERE id = ?", *note, itemID); err != nil {
				return err
			}
		}
		if position != nil {
			// A deleted repository takes its items along and leaves gaps.
			if pos, err = renumber(ctx, c, collectionID, itemID); err != nil {
				return err
			}
			if err := move(ctx, c, "collection_items", "collection_id", collectionID, itemID, pos, *position); err != nil {
				return err
			}
		}
		_, err = c.exec(ctx, "UPDATE collections SET updated_at = ? WHERE id = ?", now(), collectionID)
		return err
	})
}

// DeleteCollectionItem removes an item; the items after it move up.
func (s *Store) DeleteCollectionItem(ctx context.Context, collectionID, itemID string) error {
	return s.inTx(ctx, func(c conn) error {
		var pos int
		err := c.queryRow(ctx, "SELECT position FROM collection_items WHERE collection_id = ? AND id = ?"+c.d.lockRow,
			collectionID, itemID).Scan(&pos)
		if err != nil {
			return noRows(err, haven.Errorf(haven.ENotFound, "Item not found in the collection"))
		}
		if err := compactAfterRefs(ctx, c, "id = ?", itemID); err != nil {
			return err
		}
		_, err = c.exec(ctx, "UPDATE collections SET updated_at = ? WHERE id = ?", now(), collectionID)
		return err
	})
}

// renumber gives a collection's items the positions 0..n-1 in their order
// and returns the new position of itemID.
func renumber(ctx context.Context, c conn, collectionID, itemID string) (int, error) {
	rows, err := c.query(ctx, "SELECT id, position FROM collection_items WHERE collection_id = ? ORDER BY position, created_at", collectionID)
	if err != nil {
		return 0, err
	}
	type row struct {
		id  string
		pos int
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.pos); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	at := 0
	for i, r := range all {
		if r.id == itemID {
			at = i
		}
		if r.pos != i {
			if _, err := c.exec(ctx, "UPDATE collection_items SET position = ? WHERE id = ?", i, r.id); err != nil {
				return 0, err
			}
		}
	}
	return at, nil
}

// UpvoteCollection records (on) or takes back the upvote of a user for
// collection id; either is a no-op when already so. It answers the
// collection's upvotes after the change.
func (s *Store) UpvoteCollection(ctx context.Context, id string, userID int64, on bool) (int64, error) {
	var upvotes int64
	err := s.inTx(ctx, func(c conn) error {
		var err error
		if on {
			_, err = c.exec(ctx, `INSERT INTO collection_upvotes (collection_id, user_id, created_at) VALUES (?, ?, ?)
				ON CONFLICT DO NOTHING`, id, userID, now())
		} else {
			_, err = c.exec(ctx, `DELETE FROM collection_upvotes WHERE collection_id = ? AND user_id = ?`, id, userID)
		}
		if err != nil {
			return err
		}
		// Upvotes are not a change of the collection: lastUpdated stays.
		if err := c.execOne(ctx, errCollectionNotFound(), `UPDATE collections SET upvotes =
			(SELECT COUNT(*) FROM collection_upvotes WHERE collection_id = ?) WHERE id = ?`, id, id); err != nil {
			return err
		}
		return c.queryRow(ctx, `SELECT upvotes FROM collections WHERE id = ?`, id).Scan(&upvotes)
	})
	if isForeignKeyViolation(err) {
		return 0, errCollectionNotFound()
	}
	return upvotes, err
}

// UpvotedCollections reports which of the collections ids the user upvoted.
func (s *Store) UpvotedCollections(ctx context.Context, userID int64, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{userID}
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i], args = "?", append(args, id)
	}
	rows, err := s.conn().query(ctx, `SELECT collection_id FROM collection_upvotes WHERE user_id = ? AND collection_id IN (`+
		strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
