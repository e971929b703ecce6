package meta_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestCollectionsSQLite(t *testing.T)   { testCollections(t, openSQLite) }
func TestCollectionsPostgres(t *testing.T) { testCollections(t, postgresOpener(t)) }

func testCollections(t *testing.T, open func(*testing.T) *meta.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *meta.Store)
	}{
		{"CreateAndGet", testCollectionCreate},
		{"Items", testCollectionItems},
		{"List", testCollectionList},
		{"Delete", testCollectionDelete},
		{"Upvotes", testCollectionUpvotes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

func mustCollection(t *testing.T, s *meta.Store, owner *haven.User, title string, private bool) *haven.Collection {
	t.Helper()
	c := &haven.Collection{OwnerID: owner.ID, Title: title, Private: private}
	mustNil(t, s.CreateCollection(ctx, c))
	return c
}

// itemTypes is the types of a collection's items in order, after checking
// that their positions are 0..n-1.
func itemTypes(c *haven.Collection) []string {
	var out []string
	for i, it := range c.Items {
		if it.Position != i {
			return []string{"bad position"}
		}
		out = append(out, it.Type)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testCollectionCreate(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "Alice", false)
	a := mustCollection(t, s, alice, "My cool stuff", false)
	b := mustCollection(t, s, alice, "My other stuff", true)
	// An owner's titles are unique; the refusal names the collection.
	dup := &haven.Collection{OwnerID: alice.ID, Title: "My cool stuff", Private: true}
	wantCode(t, s.CreateCollection(ctx, dup), haven.EConflict)
	if dup.ID != a.ID {
		t.Fatalf("the refused collection names %q, want %q", dup.ID, a.ID)
	}
	bob := mustUser(t, s, "Bob", false)
	mustCollection(t, s, bob, "My cool stuff", false)
	if len(a.ID) != 24 || a.ID == b.ID || a.Position != 0 || b.Position != 1 || a.Theme != "orange" || a.Owner != "Alice" {
		t.Fatalf("created %+v and %+v", a, b)
	}
	if a.Slug() != "Alice/my-cool-stuff-"+a.ID {
		t.Fatalf("slug = %q", a.Slug())
	}
	got, err := s.CollectionByID(ctx, b.ID)
	mustNil(t, err)
	if got.Title != "My other stuff" || !got.Private || got.Position != 1 || len(got.Items) != 0 {
		t.Fatalf("got %+v", got)
	}
	isUTC(t, "UpdatedAt", got.UpdatedAt)
	// The owner's full name comes along, for the owner object of answers.
	carol := &haven.User{Name: "carol", FullName: "Carol Danvers"}
	mustNil(t, s.CreateUser(ctx, carol, ""))
	c := mustCollection(t, s, carol, "Picks", false)
	if got, _ := s.CollectionByID(ctx, c.ID); c.OwnerFullName != "Carol Danvers" || got.OwnerFullName != "Carol Danvers" || a.OwnerFullName != "" {
		t.Fatalf("owner full names %q (created), %q (read), %q (none set)", c.OwnerFullName, got.OwnerFullName, a.OwnerFullName)
	}
	_, err = s.CollectionByID(ctx, "0123456789abcdef01234567")
	wantCode(t, err, haven.ENotFound)

	title, desc, theme, pub := "Renamed", "about", "green", false
	pos := 0
	mustNil(t, s.UpdateCollection(ctx, b.ID, meta.CollectionUpdate{Title: &title, Description: &desc, Theme: &theme, Private: &pub, Position: &pos}))
	got, _ = s.CollectionByID(ctx, b.ID)
	if got.Title != "Renamed" || got.Description != "about" || got.Theme != "green" || got.Private || got.Position != 0 {
		t.Fatalf("updated %+v", got)
	}
	if got, _ := s.CollectionByID(ctx, a.ID); got.Position != 1 {
		t.Fatalf("the other collection is at %d, want 1", got.Position)
	}
	wantCode(t, s.UpdateCollection(ctx, "0123456789abcdef01234567", meta.CollectionUpdate{Title: &title}), haven.ENotFound)
}

func testCollectionItems(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	model := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "m"})
	data := mustRepo(t, s, &haven.Repo{Type: haven.Dataset, Namespace: "alice", Name: "d"})
	gone := mustRepo(t, s, &haven.Repo{Type: haven.Space, Namespace: "alice", Name: "s"})
	c := mustCollection(t, s, alice, "Everything", false)
	other := mustCollection(t, s, alice, "Other", false)

	adds := []haven.CollectionItem{
		{Type: haven.ItemModel, Repo: model, Note: "a *model*"},
		{Type: haven.ItemDataset, Repo: data},
		{Type: haven.ItemSpace, Repo: gone},
		{Type: haven.ItemPaper, Paper: "2307.09288"},
		{Type: haven.ItemCollection, Collection: other},
	}
	for i := range adds {
		mustNil(t, s.AddCollectionItem(ctx, c.ID, &adds[i]))
		if adds[i].Position != i || len(adds[i].ID) != 24 {
			t.Fatalf("item %d: %+v", i, adds[i])
		}
	}
	dup := haven.CollectionItem{Type: haven.ItemModel, Repo: model}
	wantCode(t, s.AddCollectionItem(ctx, c.ID, &dup), haven.EConflict)
	missing := haven.CollectionItem{Type: haven.ItemModel, Repo: &haven.Repo{ID: gone.ID + 100}}
	wantCode(t, s.AddCollectionItem(ctx, c.ID, &missing), haven.ENotFound)
	wantCode(t, s.AddCollectionItem(ctx, "0123456789abcdef01234567", &dup), haven.ENotFound)

	got, err := s.CollectionByID(ctx, c.ID)
	mustNil(t, err)
	if !sameStrings(itemTypes(got), []string{"model", "dataset", "space", "paper", "collection"}) {
		t.Fatalf("items = %v", itemTypes(got))
	}
	if got.Items[0].Repo.FullName() != "alice/m" || got.Items[0].Note != "a *model*" ||
		got.Items[3].Paper != "2307.09288" || got.Items[4].Collection.Title != "Other" {
		t.Fatalf("items = %+v", got.Items)
	}

	// A deleted repository leaves, and the positions close up behind it.
	mustNil(t, s.DeleteRepo(ctx, gone.ID))
	got, _ = s.CollectionByID(ctx, c.ID)
	if !sameStrings(itemTypes(got), []string{"model", "dataset", "paper", "collection"}) {
		t.Fatalf("after the repo's deletion: %v", itemTypes(got))
	}

	moves := []struct {
		item string
		to   int
		want []string
	}{
		{adds[0].ID, 1, []string{"dataset", "model", "paper", "collection"}},
		{adds[4].ID, 0, []string{"collection", "dataset", "model", "paper"}},
		{adds[1].ID, 99, []string{"collection", "model", "paper", "dataset"}},
		{adds[3].ID, -5, []string{"paper", "collection", "model", "dataset"}},
	}
	for _, m := range moves {
		to := m.to
		mustNil(t, s.UpdateCollectionItem(ctx, c.ID, m.item, nil, &to))
		got, _ = s.CollectionByID(ctx, c.ID)
		if !sameStrings(itemTypes(got), m.want) {
			t.Fatalf("move to %d: %v, want %v", m.to, itemTypes(got), m.want)
		}
	}
	note := "new note"
	mustNil(t, s.UpdateCollectionItem(ctx, c.ID, adds[0].ID, &note, nil))
	wantCode(t, s.UpdateCollectionItem(ctx, other.ID, adds[0].ID, &note, nil), haven.ENotFound)

	mustNil(t, s.DeleteCollectionItem(ctx, c.ID, adds[4].ID))
	wantCode(t, s.DeleteCollectionItem(ctx, c.ID, adds[4].ID), haven.ENotFound)
	got, _ = s.CollectionByID(ctx, c.ID)
	if !sameStrings(itemTypes(got), []string{"paper", "model", "dataset"}) || got.Items[1].Note != "new note" {
		t.Fatalf("after delete: %v %+v", itemTypes(got), got.Items)
	}
}

func testCollectionList(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	model := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "m"})
	a1 := mustCollection(t, s, alice, "First", false)
	a2 := mustCollection(t, s, alice, "Secret", true)
	b1 := mustCollection(t, s, bob, "Bob's", false)
	mustNil(t, s.AddCollectionItem(ctx, a2.ID, &haven.CollectionItem{Type: haven.ItemModel, Repo: model}))
	mustNil(t, s.AddCollectionItem(ctx, b1.ID, &haven.CollectionItem{Type: haven.ItemModel, Repo: model}))
	mustNil(t, s.AddCollectionItem(ctx, b1.ID, &haven.CollectionItem{Type: haven.ItemPaper, Paper: "1234.5678"}))

	key := meta.ItemKey(&haven.CollectionItem{Repo: model})
	tests := []struct {
		name string
		f    meta.CollectionFilter
		want []string
	}{
		{"anonymous sees public ones", meta.CollectionFilter{Sort: "lastModified"}, []string{b1.ID, a1.ID}},
		{"owner in order", meta.CollectionFilter{Owners: []string{"ALICE"}, VisibleTo: []string{"alice"}}, []string{a1.ID, a2.ID}},
		{"owner as seen by others", meta.CollectionFilter{Owners: []string{"alice"}, VisibleTo: []string{"bob"}}, []string{a1.ID}},
		{"admin", meta.CollectionFilter{Owners: []string{"alice"}, SeeAll: true}, []string{a1.ID, a2.ID}},
		{"by item", meta.CollectionFilter{Items: []string{key}, VisibleTo: []string{"alice"}, Sort: "lastModified"}, []string{b1.ID, a2.ID}},
		{"by two items", meta.CollectionFilter{Items: []string{key, "paper:1234.5678"}}, []string{b1.ID}},
		{"search", meta.CollectionFilter{Search: "IRS"}, []string{a1.ID}},
		{"limit and offset", meta.CollectionFilter{Owners: []string{"alice"}, SeeAll: true, Offset: 1, Limit: 1}, []string{a2.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListCollections(ctx, tt.f)
			mustNil(t, err)
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			if !sameStrings(ids, tt.want) {
				t.Fatalf("ids = %v, want %v", ids, tt.want)
			}
		})
	}
	got, _ := s.ListCollections(ctx, meta.CollectionFilter{Owners: []string{"bob"}})
	if len(got) != 1 || len(got[0].Items) != 2 || got[0].Items[0].Repo == nil {
		t.Fatalf("bob's collections = %+v", got)
	}
	_, err := s.ListCollections(ctx, meta.CollectionFilter{Sort: "bogus"})
	wantCode(t, err, haven.EInvalid)
}

func testCollectionDelete(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	a := mustCollection(t, s, alice, "A", false)
	b := mustCollection(t, s, alice, "B", false)
	c := mustCollection(t, s, alice, "C", false)
	mustNil(t, s.AddCollectionItem(ctx, c.ID, &haven.CollectionItem{Type: haven.ItemPaper, Paper: "1"}))
	mustNil(t, s.AddCollectionItem(ctx, c.ID, &haven.CollectionItem{Type: haven.ItemCollection, Collection: b}))
	mustNil(t, s.AddCollectionItem(ctx, c.ID, &haven.CollectionItem{Type: haven.ItemPaper, Paper: "2"}))

	mustNil(t, s.DeleteCollection(ctx, b.ID))
	wantCode(t, s.DeleteCollection(ctx, b.ID), haven.ENotFound)
	_, err := s.CollectionByID(ctx, b.ID)
	wantCode(t, err, haven.ENotFound)
	got, _ := s.CollectionByID(ctx, c.ID)
	if got.Position != 1 || len(got.Items) != 2 || got.Items[1].Paper != "2" {
		t.Fatalf("after deleting the collection it pointed at: %+v", got)
	}
	if got, _ := s.CollectionByID(ctx, a.ID); got.Position != 0 {
		t.Fatalf("a at %d", got.Position)
	}
	// Positions stay 0..n-1 after a deletion: a new one goes last.
	d := mustCollection(t, s, alice, "D", false)
	if d.Position != 2 {
		t.Fatalf("new collection at %d, want 2", d.Position)
	}
}

func testCollectionUpvotes(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	carol := mustUser(t, s, "carol", false)
	few := mustCollection(t, s, alice, "Few", false)
	many := mustCollection(t, s, alice, "Many", false)
	before, err := s.CollectionByID(ctx, many.ID)
	mustNil(t, err)
	steps := []struct {
		id   string
		user *haven.User
		on   bool
		want int64
	}{
		{many.ID, bob, true, 1},
		{many.ID, bob, true, 1}, // twice is once
		{many.ID, carol, true, 2},
		{few.ID, bob, true, 1},
		{many.ID, alice, true, 3},
		{many.ID, alice, false, 2},
		{many.ID, alice, false, 2}, // nothing to take back
	}
	for _, st := range steps {
		n, err := s.UpvoteCollection(ctx, st.id, st.user.ID, st.on)
		mustNil(t, err)
		if n != st.want {
			t.Fatalf("upvote %s by %s (%v) = %d, want %d", st.id, st.user.Name, st.on, n, st.want)
		}
	}
	_, err = s.UpvoteCollection(ctx, "0123456789abcdef01234567", bob.ID, true)
	wantCode(t, err, haven.ENotFound)
	after, err := s.CollectionByID(ctx, many.ID)
	mustNil(t, err)
	if after.Upvotes != 2 || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("after upvotes: %d upvotes, updated %v (was %v)", after.Upvotes, after.UpdatedAt, before.UpdatedAt)
	}
	up, err := s.UpvotedCollections(ctx, bob.ID, []string{few.ID, many.ID})
	mustNil(t, err)
	if !up[few.ID] || !up[many.ID] {
		t.Fatalf("bob's upvotes = %v", up)
	}
	up, err = s.UpvotedCollections(ctx, alice.ID, []string{few.ID, many.ID})
	mustNil(t, err)
	if len(up) != 0 {
		t.Fatalf("alice's upvotes = %v", up)
	}
	got, err := s.ListCollections(ctx, meta.CollectionFilter{Sort: "upvotes"})
	mustNil(t, err)
	if len(got) != 2 || got[0].ID != many.ID || got[1].ID != few.ID {
		t.Fatalf("by upvotes: %v, %v", got[0].ID, got[1].ID)
	}
}
