package meta_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/lineage"
	"github.com/havenhub/haven/meta"
)

func TestSQLite(t *testing.T) {
	runStoreTests(t, openSQLite)
}

func TestPostgres(t *testing.T) {
	runStoreTests(t, postgresOpener(t))
}

// openSQLite opens a store in a new temporary file.
func openSQLite(t *testing.T) *meta.Store {
	t.Helper()
	return mustOpen(t, filepath.Join(t.TempDir(), "haven.db"))
}

func mustOpen(t *testing.T, dsn string) *meta.Store {
	t.Helper()
	s, err := meta.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var schemaSeq atomic.Int64

// postgresOpener returns an opener that gives each test a store in a
// schema of its own, dropped when the test ends, in the database named by
// HAVEN_TEST_POSTGRES_DSN. Without that variable the tests are skipped, or
// fail when HAVEN_TEST_REQUIRE_SERVICES=1.
func postgresOpener(t *testing.T) func(*testing.T) *meta.Store {
	dsn := os.Getenv("HAVEN_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("HAVEN_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("HAVEN_TEST_POSTGRES_DSN is not set (start a server with scripts/start-postgres.sh)")
		}
		t.Skip("HAVEN_TEST_POSTGRES_DSN is not set")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T) *meta.Store {
		t.Helper()
		schema := fmt.Sprintf("haven_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano(), schemaSeq.Add(1))
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
		})
		su := *u
		q := su.Query()
		q.Set("search_path", schema)
		su.RawQuery = q.Encode()
		return mustOpen(t, su.String())
	}
}

// runStoreTests is the suite that every database must pass.
func runStoreTests(t *testing.T, open func(*testing.T) *meta.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *meta.Store)
	}{
		{"Users", testUsers},
		{"Members", testMembers},
		{"Tokens", testTokens},
		{"Repos", testRepos},
		{"RepoContent", testRepoContent},
		{"DeleteRepo", testDeleteRepo},
		{"MoveRepo", testMoveRepo},
		{"ListRepos", testListRepos},
		{"RepoChanges", testRepoChanges},
		{"Likes", testLikes},
		{"Downloads", testDownloads},
		{"Queue", testQueue},
		{"QueueConcurrentLease", testQueueConcurrentLease},
		{"QueueWorker", testQueueWorker},
		{"ConcurrentWrites", testConcurrentWrites},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// wantCode fails unless err carries the haven error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := haven.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %q, want %q", err, got, code)
	}
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustUser(t *testing.T, s *meta.Store, name string, isOrg bool) *haven.User {
	t.Helper()
	u := &haven.User{Name: name, IsOrg: isOrg}
	mustNil(t, s.CreateUser(ctx, u, ""))
	return u
}

func mustRepo(t *testing.T, s *meta.Store, r *haven.Repo) *haven.Repo {
	t.Helper()
	mustNil(t, s.CreateRepo(ctx, r))
	return r
}

func isUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.IsZero() || tm.Location() != time.UTC {
		t.Errorf("%s = %v, want a non-zero UTC time", what, tm)
	}
}

func testUsers(t *testing.T, s *meta.Store) {
	alice := &haven.User{Name: "Alice", FullName: "Alice Liddell", Email: "alice@example.com", IsAdmin: true}
	mustNil(t, s.CreateUser(ctx, alice, "hash-1"))
	if alice.ID == 0 {
		t.Fatal("CreateUser did not fill the ID")
	}
	isUTC(t, "CreatedAt", alice.CreatedAt)

	for _, name := range []string{"alice", "ALICE", "Alice"} {
		got, err := s.UserByName(ctx, name)
		mustNil(t, err)
		if got.ID != alice.ID || got.Name != "Alice" || got.FullName != alice.FullName || got.Email != alice.Email ||
			!got.IsAdmin || got.IsOrg || !got.CreatedAt.Equal(alice.CreatedAt) {
			t.Errorf("UserByName(%q) = %+v, want %+v", name, got, alice)
		}
		isUTC(t, "CreatedAt", got.CreatedAt)
	}
	got, err := s.UserByID(ctx, alice.ID)
	mustNil(t, err)
	if got.Name != "Alice" {
		t.Errorf("UserByID = %+v", got)
	}

	// Users and organisations share one namespace, in any letter case.
	for _, dup := range []*haven.User{{Name: "alice"}, {Name: "ALICE", IsOrg: true}} {
		wantCode(t, s.CreateUser(ctx, dup, ""), haven.EConflict)
	}
	wantCode(t, s.CreateUser(ctx, &haven.User{Name: "bad name"}, ""), haven.EInvalid)

	_, err = s.UserByName(ctx, "nobody")
	wantCode(t, err, haven.ENotFound)
	_, err = s.UserByID(ctx, alice.ID+1000)
	wantCode(t, err, haven.ENotFound)

	hash, err := s.PasswordHash(ctx, alice.ID)
	mustNil(t, err)
	if hash != "hash-1" {
		t.Errorf("PasswordHash = %q, want hash-1", hash)
	}
	mustNil(t, s.SetPasswordHash(ctx, alice.ID, "hash-2"))
	if hash, _ = s.PasswordHash(ctx, alice.ID); hash != "hash-2" {
		t.Errorf("PasswordHash after set = %q, want hash-2", hash)
	}
	wantCode(t, s.SetPasswordHash(ctx, alice.ID+1000, "x"), haven.ENotFound)
	_, err = s.PasswordHash(ctx, alice.ID+1000)
	wantCode(t, err, haven.ENotFound)
}

func testMembers(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	zeta := mustUser(t, s, "Zeta", true)
	acme := mustUser(t, s, "acme", true)

	mustNil(t, s.AddMember(ctx, zeta.ID, alice.ID, meta.RoleRead))
	mustNil(t, s.AddMember(ctx, acme.ID, alice.ID, meta.RoleWrite))
	mustNil(t, s.AddMember(ctx, acme.ID, bob.ID, meta.RoleRead))
	mustNil(t, s.AddMember(ctx, acme.ID, alice.ID, meta.RoleAdmin)) // changes the role

	ms, err := s.Memberships(ctx, alice.ID)
	mustNil(t, err)
	var got []string
	for _, m := range ms {
		got = append(got, m.Org.Name+":"+m.Role)
		if !m.Org.IsOrg {
			t.Errorf("membership org %s is not an org", m.Org.Name)
		}
	}
	if want := []string{"acme:admin", "Zeta:read"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Memberships = %v, want %v", got, want)
	}

	users, roles, err := s.Members(ctx, acme.ID)
	mustNil(t, err)
	got = nil
	for i, u := range users {
		got = append(got, u.Name+":"+roles[i])
	}
	if want := []string{"alice:admin", "bob:read"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Members = %v, want %v", got, want)
	}

	wantCode(t, s.AddMember(ctx, acme.ID, bob.ID, "owner"), haven.EInvalid)
	wantCode(t, s.AddMember(ctx, bob.ID, alice.ID, meta.RoleRead), haven.EInvalid) // bob is no org
	wantCode(t, s.AddMember(ctx, acme.ID, zeta.ID, meta.RoleRead), haven.EInvalid) // orgs are no members
	wantCode(t, s.AddMember(ctx, acme.ID, 99999, meta.RoleRead), haven.ENotFound)
	wantCode(t, s.AddMember(ctx, 99999, bob.ID, meta.RoleRead), haven.ENotFound)

	mustNil(t, s.RemoveMember(ctx, acme.ID, bob.ID))
	wantCode(t, s.RemoveMember(ctx, acme.ID, bob.ID), haven.ENotFound)
	users, _, err = s.Members(ctx, acme.ID)
	mustNil(t, err)
	if len(users) != 1 || users[0].ID != alice.ID {
		t.Errorf("Members after removal = %+v, want only alice", users)
	}
	if ms, _ := s.Memberships(ctx, bob.ID); len(ms) != 0 {
		t.Errorf("Memberships of bob = %+v, want none", ms)
	}
}

func testTokens(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)

	t1 := &haven.Token{UserID: alice.ID, DisplayName: "laptop", Role: haven.RoleWrite}
	mustNil(t, s.CreateToken(ctx, t1, "h1"))
	t2 := &haven.Token{UserID: alice.ID, DisplayName: "ci", Role: haven.RoleRead}
	mustNil(t, s.CreateToken(ctx, t2, "h2"))
	if t1.ID == 0 || t2.ID == 0 || t1.ID == t2.ID {
		t.Fatalf("token ids %d, %d", t1.ID, t2.ID)
	}
	isUTC(t, "CreatedAt", t1.CreatedAt)

	wantCode(t, s.CreateToken(ctx, &haven.Token{UserID: bob.ID, Role: haven.RoleRead}, "h1"), haven.EConflict)
	wantCode(t, s.CreateToken(ctx, &haven.Token{UserID: bob.ID, Role: "admin"}, "h3"), haven.EInvalid)
	wantCode(t, s.CreateToken(ctx, &haven.Token{UserID: 99999, Role: haven.RoleRead}, "h4"), haven.ENotFound)

	tok, user, err := s.TokenByHash(ctx, "h1")
	mustNil(t, err)
	if tok.ID != t1.ID || tok.Role != haven.RoleWrite || tok.DisplayName != "laptop" || !tok.LastUsedAt.IsZero() ||
		user.ID != alice.ID || user.Name != "alice" {
		t.Errorf("TokenByHash = %+v, %+v", tok, user)
	}
	isUTC(t, "user CreatedAt", user.CreatedAt)
	_, _, err = s.TokenByHash(ctx, "nope")
	wantCode(t, err, haven.ENotFound)

	used := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.FixedZone("CET", 3600))
	mustNil(t, s.TouchToken(ctx, t1.ID, used))
	wantCode(t, s.TouchToken(ctx, 99999, used), haven.ENotFound)

	list, err := s.ListTokens(ctx, alice.ID)
	mustNil(t, err)
	if len(list) != 2 || list[0].ID != t1.ID || list[1].ID != t2.ID {
		t.Fatalf("ListTokens = %+v", list)
	}
	if !list[0].LastUsedAt.Equal(used) || list[0].LastUsedAt.Location() != time.UTC {
		t.Errorf("LastUsedAt = %v, want %v in UTC", list[0].LastUsedAt, used)
	}

	// A user cannot delete another user's token.
	wantCode(t, s.DeleteToken(ctx, bob.ID, t1.ID), haven.ENotFound)
	mustNil(t, s.DeleteToken(ctx, alice.ID, t1.ID))
	wantCode(t, s.DeleteToken(ctx, alice.ID, t1.ID), haven.ENotFound)
	_, _, err = s.TokenByHash(ctx, "h1")
	wantCode(t, err, haven.ENotFound)
	if list, _ := s.ListTokens(ctx, alice.ID); len(list) != 1 || list[0].ID != t2.ID {
		t.Errorf("ListTokens after delete = %+v", list)
	}
}

func testRepos(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	r := &haven.Repo{Type: haven.Model, Namespace: "Alice", Name: "My-Model", Private: true, Gated: "manual",
		DefaultBranchName: "trunk", Tags: []string{"a", "b", "a"}}
	mustNil(t, s.CreateRepo(ctx, r))
	if r.ID == 0 {
		t.Fatal("CreateRepo did not fill the ID")
	}
	isUTC(t, "CreatedAt", r.CreatedAt)
	if !r.UpdatedAt.Equal(r.CreatedAt) {
		t.Errorf("UpdatedAt %v != CreatedAt %v", r.UpdatedAt, r.CreatedAt)
	}

	for _, name := range [][2]string{{"Alice", "My-Model"}, {"alice", "my-model"}, {"ALICE", "MY-MODEL"}} {
		got, err := s.RepoByName(ctx, haven.Model, name[0], name[1])
		mustNil(t, err)
		if got.ID != r.ID || got.Namespace != "Alice" || got.Name != "My-Model" || !got.Private || got.Gated != "manual" ||
			got.DefaultBranch() != "trunk" || !got.CreatedAt.Equal(r.CreatedAt) || fmt.Sprint(got.Tags) != "[a b]" {
			t.Errorf("RepoByName(%v) = %+v", name, got)
		}
		isUTC(t, "UpdatedAt", got.UpdatedAt)
	}
	_, err := s.RepoByName(ctx, haven.Dataset, "alice", "my-model")
	wantCode(t, err, haven.ERepoNotFound)
	got, err := s.RepoByID(ctx, r.ID)
	mustNil(t, err)
	if got.FullName() != "Alice/My-Model" {
		t.Errorf("RepoByID = %s", got.FullName())
	}
	_, err = s.RepoByID(ctx, r.ID+1000)
	wantCode(t, err, haven.ERepoNotFound)

	// The same name is free in another type, taken in any letter case.
	mustRepo(t, s, &haven.Repo{Type: haven.Dataset, Namespace: "alice", Name: "my-model"})
	wantCode(t, s.CreateRepo(ctx, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "MY-model"}), haven.EConflict)

	for _, bad := range []*haven.Repo{
		{Type: "notebook", Namespace: "alice", Name: "x"},
		{Type: haven.Model, Namespace: "alice", Name: "x--y"},
		{Type: haven.Model, Namespace: "", Name: "x"},
		{Type: haven.Model, Namespace: "alice", Name: "x", Gated: "sometimes"},
	} {
		wantCode(t, s.CreateRepo(ctx, bad), haven.EInvalid)
	}
	empty := mustRepo(t, s, &haven.Repo{Namespace: "alice", Name: "typeless"})
	if empty.Type != haven.Model {
		t.Errorf("empty type became %q, want model", empty.Type)
	}

	mustNil(t, s.UpdateRepoSettings(ctx, r.ID, meta.RepoSettings{Private: false, Gated: "auto"}))
	got, _ = s.RepoByID(ctx, r.ID)
	if got.Private || got.Gated != "auto" {
		t.Errorf("after UpdateRepoSettings: private=%v gated=%q", got.Private, got.Gated)
	}
	wantCode(t, s.UpdateRepoSettings(ctx, r.ID, meta.RepoSettings{Private: false, Gated: "bogus"}), haven.EInvalid)
	wantCode(t, s.UpdateRepoSettings(ctx, r.ID+1000, meta.RepoSettings{Private: false, Gated: ""}), haven.ERepoNotFound)
}

func testRepoContent(t *testing.T, s *meta.Store) {
	r := mustRepo(t, s, &haven.Repo{Type: haven.Space, Namespace: "alice", Name: "demo"})
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", -5*3600))
	content := meta.RepoContent{
		SHA:         "0123456789abcdef0123456789abcdef01234567",
		CardData:    map[string]any{"license": "mit", "tags": []any{"x", "y"}, "nested": map[string]any{"n": 1.5}},
		Tags:        []string{"gradio", "license:mit", "gradio"},
		PipelineTag: "text-to-image",
		LibraryName: "diffusers",
		SDK:         "gradio",
		UsedStorage: 12345,
		UpdatedAt:   at,
	}
	mustNil(t, s.UpdateRepoContent(ctx, r.ID, content))
	got, err := s.RepoByID(ctx, r.ID)
	mustNil(t, err)
	if got.SHA != content.SHA || got.PipelineTag != "text-to-image" || got.LibraryName != "diffusers" ||
		got.SDK != "gradio" || got.UsedStorage != 12345 || !got.UpdatedAt.Equal(at) ||
		fmt.Sprint(got.Tags) != "[gradio license:mit]" || fmt.Sprint(got.CardData) != fmt.Sprint(content.CardData) {
		t.Errorf("after UpdateRepoContent: %+v", got)
	}
	isUTC(t, "UpdatedAt", got.UpdatedAt)
	if !got.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("CreatedAt changed to %v", got.CreatedAt)
	}
	tagged := func(tag string) int {
		n, err := s.CountRepos(ctx, meta.RepoFilter{Type: haven.Space, Tags: []string{tag}})
		mustNil(t, err)
		return n
	}
	if tagged("license:mit") != 1 {
		t.Error("tag license:mit not indexed")
	}

	// New content replaces the tags and clears the card.
	mustNil(t, s.UpdateRepoContent(ctx, r.ID, meta.RepoContent{Tags: []string{"streamlit"}}))
	got, _ = s.RepoByID(ctx, r.ID)
	if got.CardData != nil || fmt.Sprint(got.Tags) != "[streamlit]" || got.SHA != "" || !got.UpdatedAt.After(at) {
		t.Errorf("after second update: %+v", got)
	}
	if tagged("license:mit") != 0 || tagged("streamlit") != 1 {
		t.Error("tag index not replaced")
	}
	wantCode(t, s.UpdateRepoContent(ctx, r.ID+1000, content), haven.ERepoNotFound)
}

func testDeleteRepo(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "old", Tags: []string{"t"}})
	other := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "other", Tags: []string{"t"}})
	mustNil(t, s.MoveRepo(ctx, r.ID, "alice", "gone"))
	mustNil(t, s.Like(ctx, alice.ID, r.ID))
	mustNil(t, s.Like(ctx, alice.ID, other.ID))
	mustNil(t, s.AddDownloads(ctx, r.ID, time.Now(), 3))

	mustNil(t, s.DeleteRepo(ctx, r.ID))
	wantCode(t, s.DeleteRepo(ctx, r.ID), haven.ERepoNotFound)
	_, err := s.RepoByID(ctx, r.ID)
	wantCode(t, err, haven.ERepoNotFound)
	_, err = s.Redirect(ctx, haven.Model, "alice", "old")
	wantCode(t, err, haven.ENotFound)
	liked, err := s.LikedRepos(ctx, alice.ID)
	mustNil(t, err)
	if len(liked) != 1 || liked[0].Repo.ID != other.ID {
		t.Errorf("LikedRepos after delete = %+v", liked)
	}
	days, err := s.DownloadsByDay(ctx, r.ID, time.Now().AddDate(0, 0, -1))
	mustNil(t, err)
	if len(days) != 0 {
		t.Errorf("downloads of a deleted repo: %+v", days)
	}
	if n, _ := s.CountRepos(ctx, meta.RepoFilter{Tags: []string{"t"}}); n != 1 {
		t.Errorf("repos tagged t = %d, want 1", n)
	}
	// The name is free again.
	mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "gone"})
}

func testMoveRepo(t *testing.T, s *meta.Store) {
	mustUser(t, s, "alice", false)
	mustUser(t, s, "acme", true)
	a := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "A"})
	taken := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "acme", Name: "taken"})

	resolves := func(ns, name string, want int64, wantName string) {
		t.Helper()
		got, err := s.Redirect(ctx, haven.Model, ns, name)
		if err != nil {
			t.Fatalf("Redirect(%s/%s): %v", ns, name, err)
		}
		if got.ID != want || got.FullName() != wantName {
			t.Errorf("Redirect(%s/%s) = #%d %s, want #%d %s", ns, name, got.ID, got.FullName(), want, wantName)
		}
	}

	mustNil(t, s.MoveRepo(ctx, a.ID, "alice", "B"))
	if _, err := s.RepoByName(ctx, haven.Model, "alice", "a"); !haven.IsCode(err, haven.ERepoNotFound) {
		t.Errorf("old name still found directly: %v", err)
	}
	resolves("alice", "a", a.ID, "alice/B")
	searched := func(q string) []int64 {
		t.Helper()
		repos, err := s.ListRepos(ctx, meta.RepoFilter{Type: haven.Model, Search: q, Sort: "id"})
		mustNil(t, err)
		var ids []int64
		for _, r := range repos {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := searched("alice/b"); fmt.Sprint(got) != fmt.Sprint([]int64{a.ID}) {
		t.Errorf("search for the new name = %v, want [%d]", got, a.ID)
	}
	if got := searched("alice/a"); got != nil {
		t.Errorf("search for the old name = %v, want nothing", got)
	}

	// A→B→C: both old names lead to C, in any letter case.
	mustNil(t, s.MoveRepo(ctx, a.ID, "acme", "C"))
	resolves("ALICE", "a", a.ID, "acme/C")
	resolves("alice", "b", a.ID, "acme/C")
	got, err := s.RepoByName(ctx, haven.Model, "acme", "c")
	mustNil(t, err)
	if got.ID != a.ID || got.FullName() != "acme/C" {
		t.Errorf("RepoByName after move = %s", got.FullName())
	}
	_, err = s.Redirect(ctx, haven.Dataset, "alice", "a")
	wantCode(t, err, haven.ENotFound)
	_, err = s.Redirect(ctx, haven.Model, "acme", "C")
	wantCode(t, err, haven.ENotFound)

	wantCode(t, s.MoveRepo(ctx, a.ID, "ACME", "Taken"), haven.EConflict)
	wantCode(t, s.MoveRepo(ctx, a.ID, "acme", "bad..name"), haven.EInvalid)
	wantCode(t, s.MoveRepo(ctx, 99999, "acme", "x"), haven.ERepoNotFound)
	if got, _ := s.RepoByID(ctx, taken.ID); got.FullName() != "acme/taken" {
		t.Errorf("conflicting move changed the other repo: %s", got.FullName())
	}

	// A change of letter case keeps the repo and leaves no redirect.
	mustNil(t, s.MoveRepo(ctx, a.ID, "acme", "c"))
	if got, _ := s.RepoByID(ctx, a.ID); got.Name != "c" {
		t.Errorf("case change not kept: %s", got.FullName())
	}
	_, err = s.Redirect(ctx, haven.Model, "acme", "C")
	wantCode(t, err, haven.ENotFound)

	// Moving back to an old name drops the redirect there.
	mustNil(t, s.MoveRepo(ctx, a.ID, "alice", "A"))
	_, err = s.Redirect(ctx, haven.Model, "alice", "a")
	wantCode(t, err, haven.ENotFound)
	resolves("acme", "c", a.ID, "alice/A")

	// A new repository at a redirected name takes the name.
	fresh := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "b"})
	_, err = s.Redirect(ctx, haven.Model, "alice", "B")
	wantCode(t, err, haven.ENotFound)
	if got, _ := s.RepoByName(ctx, haven.Model, "alice", "B"); got.ID != fresh.ID {
		t.Errorf("alice/B is #%d, want the new #%d", got.ID, fresh.ID)
	}
}

func testListRepos(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	mustUser(t, s, "acme", true)
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mk := func(typ haven.RepoType, ns, name string, private bool, gated string, created, updated int, tags ...string) *haven.Repo {
		return mustRepo(t, s, &haven.Repo{Type: typ, Namespace: ns, Name: name, Private: private, Gated: gated, Tags: tags,
			CreatedAt: base.Add(time.Duration(created) * time.Hour), UpdatedAt: base.Add(time.Duration(updated) * time.Hour)})
	}
	mk(haven.Model, "alice", "Llama-Tiny", false, "", 1, 6, "text-generation", "pytorch", "license:mit")
	mk(haven.Model, "alice", "secret", true, "", 2, 5, "pytorch")
	vision := mk(haven.Model, "acme", "Vision", false, "auto", 3, 1, "image-classification", "pytorch")
	mk(haven.Model, "acme", "internal", true, "", 4, 2)
	fork := mk(haven.Model, "bob", "llama_fork", false, "", 5, 3, "text-generation")
	mk(haven.Dataset, "alice", "llama-data", false, "", 6, 4)
	// Content read by full listings but not brief ones (commit, card,
	// storage) next to what both read.
	mustNil(t, s.UpdateRepoContent(ctx, fork.ID, meta.RepoContent{SHA: "0123abcd", CardData: map[string]any{"license": "mit"},
		CardError: "bad \"yaml\"", Tags: fork.Tags, PipelineTag: "text-generation", LibraryName: "peft", SDK: "gradio",
		UsedStorage: 1234, UpdatedAt: fork.UpdatedAt}))

	tiny, _ := s.RepoByName(ctx, haven.Model, "alice", "llama-tiny")
	mustNil(t, s.AddDownloads(ctx, tiny.ID, time.Now(), 50))
	mustNil(t, s.AddDownloads(ctx, vision.ID, time.Now(), 10))
	mustNil(t, s.AddDownloads(ctx, fork.ID, time.Now(), 30))
	mustNil(t, s.Like(ctx, alice.ID, vision.ID))
	mustNil(t, s.Like(ctx, bob.ID, vision.ID))
	mustNil(t, s.Like(ctx, bob.ID, fork.ID))

	yes, no := true, false
	tests := []struct {
		name   string
		filter meta.RepoFilter
		want   []string // in order
	}{
		{"anonymous", meta.RepoFilter{Type: haven.Model},
			[]string{"alice/Llama-Tiny", "bob/llama_fork", "acme/Vision"}},
		{"owner and org", meta.RepoFilter{Type: haven.Model, VisibleTo: []string{"alice", "acme"}},
			[]string{"alice/Llama-Tiny", "alice/secret", "bob/llama_fork", "acme/internal", "acme/Vision"}},
		{"visibility ignores case", meta.RepoFilter{Type: haven.Model, VisibleTo: []string{"ALICE"}},
			[]string{"alice/Llama-Tiny", "alice/secret", "bob/llama_fork", "acme/Vision"}},
		{"admin", meta.RepoFilter{Type: haven.Model, SeeAll: true, Sort: "id"},
			[]string{"alice/Llama-Tiny", "alice/secret", "acme/Vision", "acme/internal", "bob/llama_fork"}},
		{"every type", meta.RepoFilter{Sort: "id"},
			[]string{"alice/Llama-Tiny", "acme/Vision", "bob/llama_fork", "alice/llama-data"}},
		{"datasets", meta.RepoFilter{Type: haven.Dataset}, []string{"alice/llama-data"}},
		{"search", meta.RepoFilter{Type: haven.Model, Search: "LLAMA"}, []string{"alice/Llama-Tiny", "bob/llama_fork"}},
		{"search across slash", meta.RepoFilter{Type: haven.Model, Search: "alice/ll"}, []string{"alice/Llama-Tiny"}},
		{"search underscore is literal", meta.RepoFilter{Type: haven.Model, Search: "_"}, []string{"bob/llama_fork"}},
		{"search percent is literal", meta.RepoFilter{Type: haven.Model, Search: "%"}, nil},
		{"search with a quote", meta.RepoFilter{Type: haven.Model, Search: `llama"`}, nil},
		{"search short", meta.RepoFilter{Type: haven.Model, Search: "ll"}, []string{"alice/Llama-Tiny", "bob/llama_fork"}},
		{"author", meta.RepoFilter{Type: haven.Model, Author: "ACME", SeeAll: true},
			[]string{"acme/internal", "acme/Vision"}},
		{"tag", meta.RepoFilter{Type: haven.Model, Tags: []string{"pytorch"}},
			[]string{"alice/Llama-Tiny", "acme/Vision"}},
		{"all tags", meta.RepoFilter{Type: haven.Model, Tags: []string{"pytorch", "text-generation"}},
			[]string{"alice/Llama-Tiny"}},
		{"unknown tag", meta.RepoFilter{Type: haven.Model, Tags: []string{"jax"}}, nil},
		{"gated", meta.RepoFilter{Type: haven.Model, Gated: &yes}, []string{"acme/Vision"}},
		{"not gated", meta.RepoFilter{Type: haven.Model, Gated: &no}, []string{"alice/Llama-Tiny", "bob/llama_fork"}},
		{"createdAt", meta.RepoFilter{Type: haven.Model, Sort: "createdAt"},
			[]string{"bob/llama_fork", "acme/Vision", "alice/Llama-Tiny"}},
		{"updatedAt", meta.RepoFilter{Type: haven.Model, Sort: "updatedAt"},
			[]string{"alice/Llama-Tiny", "bob/llama_fork", "acme/Vision"}},
		{"downloads", meta.RepoFilter{Type: haven.Model, Sort: "downloads", SeeAll: true},
			[]string{"alice/Llama-Tiny", "bob/llama_fork", "acme/Vision", "acme/internal", "alice/secret"}},
		{"likes", meta.RepoFilter{Type: haven.Model, Sort: "likes"},
			[]string{"acme/Vision", "bob/llama_fork", "alice/Llama-Tiny"}},
		{"trending", meta.RepoFilter{Type: haven.Model, Sort: "trendingScore"},
			[]string{"acme/Vision", "bob/llama_fork", "alice/Llama-Tiny"}},
		{"page", meta.RepoFilter{Type: haven.Model, SeeAll: true, Sort: "id", Offset: 1, Limit: 2},
			[]string{"alice/secret", "acme/Vision"}},
		{"page past the end", meta.RepoFilter{Type: haven.Model, Sort: "id", Offset: 3, Limit: 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repos, err := s.ListRepos(ctx, tt.filter)
			mustNil(t, err)
			var got []string
			for _, r := range repos {
				got = append(got, r.FullName())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ListRepos = %v, want %v", got, tt.want)
			}
			// A brief listing gives the same rows with the fields of a
			// listing's default item, and no others.
			brief := tt.filter
			brief.Brief = true
			briefs, err := s.ListRepos(ctx, brief)
			mustNil(t, err)
			if len(briefs) != len(repos) {
				t.Fatalf("brief ListRepos gave %d repos, want %d", len(briefs), len(repos))
			}
			for i, r := range repos {
				want := haven.Repo{ID: r.ID, Type: r.Type, Namespace: r.Namespace, Name: r.Name, Private: r.Private, Gated: r.Gated,
					CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, CardError: r.CardError, Tags: r.Tags, PipelineTag: r.PipelineTag,
					LibraryName: r.LibraryName, SDK: r.SDK, Downloads: r.Downloads, Likes: r.Likes, TrendingScore: r.TrendingScore}
				if !reflect.DeepEqual(*briefs[i], want) {
					t.Errorf("brief repo %d = %+v, want %+v", i, *briefs[i], want)
				}
			}
			n, err := s.CountRepos(ctx, tt.filter)
			mustNil(t, err)
			unpaged := tt.filter
			unpaged.Offset, unpaged.Limit = 0, 0
			all, err := s.ListRepos(ctx, unpaged)
			mustNil(t, err)
			if n != len(all) {
				t.Errorf("CountRepos = %d, want %d", n, len(all))
			}
		})
	}

	_, err := s.ListRepos(ctx, meta.RepoFilter{Sort: "stars"})
	wantCode(t, err, haven.EInvalid)

	// The counters come back on every repo.
	repos, err := s.ListRepos(ctx, meta.RepoFilter{Type: haven.Model, Search: "vision"})
	mustNil(t, err)
	if len(repos) != 1 || repos[0].Likes != 2 || repos[0].Downloads != 10 || repos[0].DownloadsAllTime != 10 ||
		repos[0].TrendingScore != 210 || fmt.Sprint(repos[0].Tags) != "[image-classification pytorch]" {
		t.Errorf("listed repo = %+v", repos)
	}
}

// testRepoChanges checks that every kind of change to a repository moves
// RepoChanges, and that reads and changes elsewhere do not.
func testRepoChanges(t *testing.T, s *meta.Store) {
	n, ok, err := s.RepoChanges(ctx)
	mustNil(t, err)
	if !ok {
		if s.Shared() {
			return // PostgreSQL keeps no count
		}
		t.Fatal("RepoChanges: no count on SQLite")
	}
	alice := mustUser(t, s, "alice", false)
	var r *haven.Repo
	steps := []struct {
		name   string
		change func() error
		moves  bool
	}{
		{"create", func() error {
			r = mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "m"})
			return nil
		}, true},
		{"read", func() error { _, err := s.ListRepos(ctx, meta.RepoFilter{Type: haven.Model}); return err }, false},
		{"another table", func() error { mustUser(t, s, "bob", false); return nil }, false},
		{"like", func() error { return s.Like(ctx, alice.ID, r.ID) }, true},
		{"unlike", func() error { return s.Unlike(ctx, alice.ID, r.ID) }, true},
		{"downloads", func() error { return s.AddDownloads(ctx, r.ID, time.Now(), 3) }, true},
		{"settings", func() error { return s.UpdateRepoSettings(ctx, r.ID, meta.RepoSettings{Private: true}) }, true},
		{"content", func() error {
			return s.UpdateRepoContent(ctx, r.ID, meta.RepoContent{SHA: "abc", Tags: []string{"fill-mask"}, PipelineTag: "fill-mask"})
		}, true},
		{"links", func() error {
			return s.SetRepoLinks(ctx, r.ID, []lineage.Edge{{Target: "alice/base", Relation: "finetune"}})
		}, true},
		{"move", func() error { return s.MoveRepo(ctx, r.ID, "alice", "m2") }, true},
		{"delete", func() error { return s.DeleteRepo(ctx, r.ID) }, true},
	}
	for _, step := range steps {
		mustNil(t, step.change())
		next, ok, err := s.RepoChanges(ctx)
		mustNil(t, err)
		if !ok || (next != n) != step.moves {
			t.Errorf("%s: RepoChanges %d → %d (ok %v), want a change: %v", step.name, n, next, ok, step.moves)
		}
		n = next
	}
}

func testLikes(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	r1 := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "one"})
	r2 := mustRepo(t, s, &haven.Repo{Type: haven.Dataset, Namespace: "alice", Name: "two"})

	likes := func(id int64) int64 {
		t.Helper()
		r, err := s.RepoByID(ctx, id)
		mustNil(t, err)
		return r.Likes
	}

	mustNil(t, s.Like(ctx, alice.ID, r1.ID))
	mustNil(t, s.Like(ctx, alice.ID, r1.ID)) // idempotent
	time.Sleep(2 * time.Millisecond)         // distinct like times, for the order
	mustNil(t, s.Like(ctx, alice.ID, r2.ID))
	mustNil(t, s.Like(ctx, bob.ID, r1.ID))
	if n := likes(r1.ID); n != 2 {
		t.Errorf("likes of one = %d, want 2", n)
	}

	liked, err := s.LikedRepos(ctx, alice.ID)
	mustNil(t, err)
	if len(liked) != 2 || liked[0].Repo.ID != r2.ID || liked[1].Repo.ID != r1.ID || !liked[0].CreatedAt.After(liked[1].CreatedAt) {
		t.Fatalf("LikedRepos = %+v, want two then one", liked)
	}
	isUTC(t, "liked CreatedAt", liked[0].CreatedAt)
	if liked[0].Repo.Type != haven.Dataset || liked[0].Repo.Likes != 1 {
		t.Errorf("liked repo = %+v", liked[0].Repo)
	}

	likers, err := s.Likers(ctx, r1.ID)
	mustNil(t, err)
	if len(likers) != 2 || likers[0].ID != bob.ID || likers[1].ID != alice.ID {
		t.Errorf("Likers = %+v, want bob then alice", likers)
	}

	mustNil(t, s.Unlike(ctx, alice.ID, r1.ID))
	mustNil(t, s.Unlike(ctx, alice.ID, r1.ID)) // idempotent
	if n := likes(r1.ID); n != 1 {
		t.Errorf("likes after unlike = %d, want 1", n)
	}
	if liked, _ := s.LikedRepos(ctx, alice.ID); len(liked) != 1 {
		t.Errorf("LikedRepos after unlike = %+v", liked)
	}

	wantCode(t, s.Like(ctx, alice.ID, 99999), haven.ERepoNotFound)
	wantCode(t, s.Like(ctx, 99999, r1.ID), haven.ENotFound)
	wantCode(t, s.Unlike(ctx, alice.ID, 99999), haven.ERepoNotFound)
	if n := likes(r1.ID); n != 1 {
		t.Errorf("likes after a failed like = %d, want 1", n)
	}
}

func testDownloads(t *testing.T, s *meta.Store) {
	r := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "alice", Name: "dl"})
	today := time.Now().UTC()
	midnight := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	mustNil(t, s.AddDownloads(ctx, r.ID, today, 2))
	mustNil(t, s.AddDownloads(ctx, r.ID, today, 3)) // same day: one row
	mustNil(t, s.AddDownloads(ctx, r.ID, today.AddDate(0, 0, -10), 7))
	mustNil(t, s.AddDownloads(ctx, r.ID, today.AddDate(0, 0, -40), 100)) // outside the 30 days
	mustNil(t, s.AddDownloads(ctx, r.ID, today, 0))

	check := func(when string) {
		t.Helper()
		got, err := s.RepoByID(ctx, r.ID)
		mustNil(t, err)
		if got.Downloads != 12 || got.DownloadsAllTime != 112 || got.TrendingScore != 5 {
			t.Errorf("%s: downloads %d, all time %d, trending %d; want 12, 112, 5",
				when, got.Downloads, got.DownloadsAllTime, got.TrendingScore)
		}
	}
	check("after AddDownloads")
	mustNil(t, s.RefreshCounters(ctx))
	check("after RefreshCounters")

	days, err := s.DownloadsByDay(ctx, r.ID, today.AddDate(0, 0, -30))
	mustNil(t, err)
	want := []meta.DayCount{{midnight.AddDate(0, 0, -10), 7}, {midnight, 5}}
	if len(days) != len(want) {
		t.Fatalf("DownloadsByDay = %+v, want %+v", days, want)
	}
	for i := range want {
		if !days[i].Day.Equal(want[i].Day) || days[i].Day.Location() != time.UTC || days[i].Count != want[i].Count {
			t.Errorf("day %d = %+v, want %+v", i, days[i], want[i])
		}
	}

	wantCode(t, s.AddDownloads(ctx, 99999, today, 1), haven.ERepoNotFound)
	wantCode(t, s.AddDownloads(ctx, r.ID, today, -1), haven.EInvalid)
}

func testQueue(t *testing.T, s *meta.Store) {
	past := time.Now().Add(-time.Hour)
	first, err := s.Enqueue(ctx, "index", []byte(`{"repo":1}`), past.Add(-time.Minute))
	mustNil(t, err)
	second, err := s.Enqueue(ctx, "index", []byte(`{"repo":2}`), past)
	mustNil(t, err)
	other, err := s.Enqueue(ctx, "webhook", []byte("w"), past.Add(-2*time.Minute))
	mustNil(t, err)
	future, err := s.Enqueue(ctx, "index", nil, time.Now().Add(time.Hour))
	mustNil(t, err)
	_, err = s.Enqueue(ctx, "", nil, time.Time{})
	wantCode(t, err, haven.EInvalid)

	j, err := s.JobByID(ctx, first)
	mustNil(t, err)
	if j.State != meta.JobQueued || j.Kind != "index" || string(j.Payload) != `{"repo":1}` || j.Attempts != 0 {
		t.Errorf("JobByID = %+v", j)
	}
	isUTC(t, "RunAt", j.RunAt)
	isUTC(t, "CreatedAt", j.CreatedAt)
	_, err = s.JobByID(ctx, 99999)
	wantCode(t, err, haven.ENotFound)

	lease := func(kinds ...string) *meta.Job {
		t.Helper()
		j, err := s.Lease(ctx, kinds, "worker-1", time.Minute)
		mustNil(t, err)
		return j
	}
	// Oldest due first, only of the kinds asked for.
	if j := lease("index"); j == nil || j.ID != first || j.State != meta.JobLeased || j.Attempts != 1 {
		t.Fatalf("first lease = %+v, want job %d", j, first)
	}
	if j := lease("index"); j == nil || j.ID != second {
		t.Fatalf("second lease = %+v, want job %d", j, second)
	}
	if j := lease("index"); j != nil {
		t.Fatalf("third lease = %+v, want nothing due (job %d is in the future)", j, future)
	}
	if j := lease(); j == nil || j.ID != other {
		t.Fatalf("lease of any kind = %+v, want job %d", j, other)
	}

	mustNil(t, s.Complete(ctx, first))
	if j, _ := s.JobByID(ctx, first); j.State != meta.JobDone {
		t.Errorf("completed job state %q", j.State)
	}
	wantCode(t, s.Complete(ctx, 99999), haven.ENotFound)

	// A failed attempt is retried at its new time, until the last attempt.
	retry := time.Now().Add(-time.Second)
	mustNil(t, s.Fail(ctx, second, "boom", retry, 2))
	j, _ = s.JobByID(ctx, second)
	if j.State != meta.JobQueued || j.LastError != "boom" || !j.RunAt.Equal(retry.UTC().Truncate(time.Microsecond)) {
		t.Errorf("after first failure: %+v", j)
	}
	if j := lease("index"); j == nil || j.ID != second || j.Attempts != 2 {
		t.Fatalf("retry lease = %+v, want job %d, attempt 2", j, second)
	}
	mustNil(t, s.Fail(ctx, second, "boom again", time.Now(), 2))
	if j, _ := s.JobByID(ctx, second); j.State != meta.JobFailed || j.LastError != "boom again" {
		t.Errorf("after last failure: %+v", j)
	}
	if j := lease("index"); j != nil {
		t.Errorf("a failed job was leased again: %+v", j)
	}
	wantCode(t, s.Fail(ctx, 99999, "x", time.Now(), 1), haven.ENotFound)

	// An expired lease (a worker that died) makes the job due again.
	crashed, err := s.Enqueue(ctx, "scan", nil, time.Time{})
	mustNil(t, err)
	// Long enough that a loaded machine still takes the second lease
	// within it.
	j, err = s.Lease(ctx, []string{"scan"}, "worker-1", time.Second)
	mustNil(t, err)
	if j == nil || j.ID != crashed {
		t.Fatalf("lease = %+v, want job %d", j, crashed)
	}
	if j := lease("scan"); j != nil {
		t.Fatalf("job leased twice while its lease runs: %+v", j)
	}
	time.Sleep(1100 * time.Millisecond)
	if j := lease("scan"); j == nil || j.ID != crashed || j.Attempts != 2 {
		t.Fatalf("after the lease expired got %+v, want job %d, attempt 2", j, crashed)
	}
}

func testQueueConcurrentLease(t *testing.T, s *meta.Store) {
	const jobs, workers = 40, 8
	for i := range jobs {
		_, err := s.Enqueue(ctx, "work", []byte{byte(i)}, time.Time{})
		mustNil(t, err)
	}
	var (
		seen  = make(chan int64, jobs*2)
		errs  = make(chan error, workers)
		start = make(chan struct{})
	)
	for w := range workers {
		go func() {
			<-start
			for {
				j, err := s.Lease(ctx, []string{"work"}, fmt.Sprintf("w%d", w), time.Minute)
				if err != nil || j == nil {
					errs <- err
					return
				}
				seen <- j.ID
				if err := s.Complete(ctx, j.ID); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	close(start)
	for range workers {
		mustNil(t, <-errs)
	}
	close(seen)
	count := map[int64]int{}
	for id := range seen {
		count[id]++
	}
	if len(count) != jobs {
		t.Errorf("%d distinct jobs leased, want %d", len(count), jobs)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("job %d leased %d times", id, n)
		}
	}
}

func testConcurrentWrites(t *testing.T, s *meta.Store) {
	const n = 20
	owner := mustUser(t, s, "owner", false)
	target := mustRepo(t, s, &haven.Repo{Type: haven.Model, Namespace: "owner", Name: "popular"})
	users := make([]*haven.User, n)
	for i := range users {
		users[i] = mustUser(t, s, fmt.Sprintf("user%d", i), false)
	}
	errs := make(chan error, 3*n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			errs <- s.CreateRepo(ctx, &haven.Repo{Type: haven.Model, Namespace: "owner", Name: fmt.Sprintf("repo-%d", i)})
			errs <- s.Like(ctx, users[i].ID, target.ID)
			errs <- s.AddDownloads(ctx, target.ID, time.Now(), 1)
		}()
	}
	close(start)
	for range 3 * n {
		mustNil(t, <-errs)
	}
	got, err := s.RepoByID(ctx, target.ID)
	mustNil(t, err)
	if got.Likes != n || got.Downloads != n {
		t.Errorf("after %d concurrent likes and downloads: likes %d, downloads %d", n, got.Likes, got.Downloads)
	}
	count, err := s.CountRepos(ctx, meta.RepoFilter{Author: owner.Name})
	mustNil(t, err)
	if count != n+1 {
		t.Errorf("%d repos, want %d", count, n+1)
	}
}

// testQueueWorker checks what a queue worker is made of: NextJob waits
// until a job is queued and its wake-up told, or until the poll, and stops
// with its context; Retry backs off step by step and gives up after the
// last; Release hands a job back at once.
func testQueueWorker(t *testing.T, s *meta.Store) {
	wake := make(chan struct{}, 1)
	w := meta.Waiting{Kinds: []string{"mail"}, Worker: meta.WorkerName("test"), Lease: time.Minute, Wake: wake, Poll: time.Hour}
	got := make(chan *meta.Job)
	go func() { got <- s.NextJob(ctx, w) }()
	id, err := s.Enqueue(ctx, "mail", []byte("hi"), time.Time{})
	mustNil(t, err)
	wake <- struct{}{}
	select {
	case j := <-got:
		if j == nil || j.ID != id || j.Attempts != 1 {
			t.Fatalf("NextJob = %+v, want job %d", j, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NextJob did not wake up")
	}

	// Without a wake-up, the poll finds it.
	polled := w
	polled.Wake, polled.Poll = nil, 20*time.Millisecond
	mustNil(t, s.Release(ctx, id))
	if j := s.NextJob(ctx, polled); j == nil || j.ID != id || j.Attempts != 2 {
		t.Fatalf("NextJob after Release = %+v, want job %d at attempt 2", j, id)
	}

	// A new job: each lease is an attempt, and each failed one waits
	// longer, until the last.
	mustNil(t, s.Complete(ctx, id))
	id, err = s.Enqueue(ctx, "mail", nil, time.Time{})
	mustNil(t, err)
	backoff := []time.Duration{time.Hour, 2 * time.Hour}
	for attempt, want := range []string{meta.JobQueued, meta.JobQueued, meta.JobFailed} {
		j := s.NextJob(ctx, polled)
		if j == nil || j.ID != id || j.Attempts != attempt+1 {
			t.Fatalf("lease %d: %+v, want job %d", attempt+1, j, id)
		}
		before := time.Now()
		mustNil(t, s.Retry(ctx, j, "boom", backoff))
		j, _ = s.JobByID(ctx, id)
		step := backoff[min(attempt, len(backoff)-1)]
		if j.State != want || j.LastError != "boom" || want == meta.JobQueued && j.RunAt.Before(before.Add(step-time.Second)) {
			t.Errorf("after failure %d: %+v, want %s due in %s", attempt+1, j, want, step)
		}
		if want == meta.JobQueued {
			mustNil(t, s.Release(ctx, id)) // due now rather than in an hour
		}
	}

	stopped, cancel := context.WithCancel(ctx)
	go func() { got <- s.NextJob(stopped, w) }()
	cancel()
	select {
	case j := <-got:
		if j != nil {
			t.Errorf("NextJob after its context ended = %+v", j)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("NextJob did not stop with its context")
	}
}
