package meta_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestProfilesSQLite(t *testing.T)   { testProfiles(t, openSQLite(t)) }
func TestProfilesPostgres(t *testing.T) { testProfiles(t, postgresOpener(t)(t)) }

func testProfiles(t *testing.T, s *meta.Store) {
	alice := mustUser(t, s, "alice", false)
	bob := mustUser(t, s, "bob", false)
	acme := mustUser(t, s, "acme", true)

	// Profile and avatar.
	mustNil(t, s.SetProfile(ctx, acme.ID, "Acme Corp", "We make <b>things</b>", "https://acme.example"))
	p, err := s.Profile(ctx, acme.ID)
	mustNil(t, err)
	if p.Details != "We make <b>things</b>" || p.Website != "https://acme.example" || p.AvatarKey != "" {
		t.Fatalf("Profile = %+v", p)
	}
	if u, _ := s.UserByID(ctx, acme.ID); u.FullName != "Acme Corp" {
		t.Errorf("full name = %q", u.FullName)
	}
	wantCode(t, s.SetProfile(ctx, acme.ID, "", string(make([]byte, meta.MaxDetails+1)), ""), haven.EInvalid)
	socials := haven.SocialHandles{GitHub: "acme-corp", Twitter: "acme", LinkedIn: "acme-corporation", Bluesky: "acme.bsky.social"}
	mustNil(t, s.SetSocials(ctx, acme.ID, socials))
	if p, _ := s.Profile(ctx, acme.ID); p.Socials != socials || p.Details != "We make <b>things</b>" {
		t.Fatalf("socials = %+v", p)
	}
	wantCode(t, s.SetSocials(ctx, acme.ID, haven.SocialHandles{GitHub: string(make([]byte, meta.MaxSocialHandle+1))}), haven.EInvalid)
	wantCode(t, s.SetSocials(ctx, 999999, socials), haven.ENotFound)
	old, err := s.SetAvatar(ctx, acme.ID, "avatars/1/a", "image/png")
	mustNil(t, err)
	if old != "" {
		t.Errorf("first SetAvatar replaced %q", old)
	}
	if old, _ = s.SetAvatar(ctx, acme.ID, "avatars/1/b", "image/jpeg"); old != "avatars/1/a" {
		t.Errorf("second SetAvatar replaced %q", old)
	}
	if p, _ = s.Profile(ctx, acme.ID); p.AvatarKey != "avatars/1/b" || p.AvatarType != "image/jpeg" {
		t.Errorf("Profile after SetAvatar = %+v", p)
	}
	if used, err := s.AvatarInUse(ctx, "avatars/1/b"); err != nil || !used {
		t.Errorf("AvatarInUse(current) = %v, %v", used, err)
	}
	if used, _ := s.AvatarInUse(ctx, "avatars/1/a"); used {
		t.Error("a replaced avatar is still in use")
	}

	// Follows.
	mustNil(t, s.Follow(ctx, alice.ID, bob.ID))
	mustNil(t, s.Follow(ctx, alice.ID, bob.ID)) // twice is once
	mustNil(t, s.Follow(ctx, alice.ID, acme.ID))
	mustNil(t, s.Follow(ctx, bob.ID, acme.ID))
	wantCode(t, s.Follow(ctx, alice.ID, alice.ID), haven.EInvalid)
	wantCode(t, s.Follow(ctx, alice.ID, 9999), haven.ENotFound)
	if ok, _ := s.IsFollowing(ctx, alice.ID, bob.ID); !ok {
		t.Error("alice does not follow bob")
	}
	if ok, _ := s.IsFollowing(ctx, bob.ID, alice.ID); ok {
		t.Error("bob follows alice")
	}
	followers, err := s.Followers(ctx, acme.ID, 0)
	mustNil(t, err)
	if len(followers) != 2 {
		t.Fatalf("Followers(acme) = %v", followers)
	}
	following, err := s.Following(ctx, alice.ID, 0)
	mustNil(t, err)
	if len(following) != 2 {
		t.Fatalf("Following(alice) = %v", following)
	}
	if following, _ = s.Following(ctx, alice.ID, 1); len(following) != 1 || following[0].Name != "acme" {
		t.Errorf("Following(alice, 1) = %v, want the newest only", following)
	}
	c, err := s.Counts(ctx, alice.ID)
	mustNil(t, err)
	if c.Following != 2 || c.Followers != 0 {
		t.Errorf("Counts(alice) = %+v", c)
	}
	mustNil(t, s.Unfollow(ctx, alice.ID, bob.ID))
	mustNil(t, s.Unfollow(ctx, alice.ID, bob.ID))
	if c, _ = s.Counts(ctx, bob.ID); c.Followers != 0 || c.Following != 1 {
		t.Errorf("Counts(bob) after unfollow = %+v", c)
	}

	// Invitations.
	mustNil(t, s.AddMember(ctx, acme.ID, alice.ID, meta.RoleAdmin))
	wantCode(t, s.Invite(ctx, &haven.Invitation{Org: *acme, User: *alice, Role: meta.RoleRead}), haven.EConflict)
	wantCode(t, s.Invite(ctx, &haven.Invitation{Org: *acme, User: *bob, Role: "owner"}), haven.EInvalid)
	inv := &haven.Invitation{Org: *acme, User: *bob, Role: meta.RoleRead, Inviter: "alice"}
	mustNil(t, s.Invite(ctx, inv))
	again := &haven.Invitation{Org: *acme, User: *bob, Role: meta.RoleWrite, Inviter: "alice"}
	mustNil(t, s.Invite(ctx, again))
	if again.ID != inv.ID {
		t.Errorf("a second invitation made a new one: %s, %s", inv.ID, again.ID)
	}
	list, err := s.InvitationsOfUser(ctx, bob.ID)
	mustNil(t, err)
	if len(list) != 1 || list[0].Role != meta.RoleWrite || list[0].Org.Name != "acme" || list[0].User.Name != "bob" || list[0].Inviter != "alice" {
		t.Fatalf("InvitationsOfUser = %+v", list)
	}
	if list, _ = s.InvitationsOfOrg(ctx, acme.ID); len(list) != 1 {
		t.Fatalf("InvitationsOfOrg = %+v", list)
	}
	_, err = s.AcceptInvitation(ctx, inv.ID, alice.ID) // not alice's
	wantCode(t, err, haven.ENotFound)
	got, err := s.AcceptInvitation(ctx, inv.ID, bob.ID)
	mustNil(t, err)
	if got.Role != meta.RoleWrite {
		t.Errorf("accepted %+v", got)
	}
	_, err = s.AcceptInvitation(ctx, inv.ID, bob.ID)
	wantCode(t, err, haven.ENotFound)
	users, roles, err := s.Members(ctx, acme.ID)
	mustNil(t, err)
	if len(users) != 2 || users[1].Name != "bob" || roles[1] != meta.RoleWrite {
		t.Errorf("Members = %v %v", users, roles)
	}
	if c, _ = s.Counts(ctx, acme.ID); c.Members != 2 || c.Followers != 2 {
		t.Errorf("Counts(acme) = %+v", c)
	}

	carol := mustUser(t, s, "carol", false)
	inv = &haven.Invitation{Org: *acme, User: *carol, Role: meta.RoleRead}
	mustNil(t, s.Invite(ctx, inv))
	del, err := s.DeleteInvitation(ctx, inv.ID)
	mustNil(t, err)
	if del.User.Name != "carol" {
		t.Errorf("DeleteInvitation = %+v", del)
	}
	_, err = s.DeleteInvitation(ctx, inv.ID)
	wantCode(t, err, haven.ENotFound)

	// Lookup by email.
	dave := &haven.User{Name: "dave", Email: "Dave@Example.org"}
	mustNil(t, s.CreateUser(ctx, dave, ""))
	if u, err := s.UserByEmail(ctx, "dave@example.ORG"); err != nil || u.ID != dave.ID {
		t.Errorf("UserByEmail = %v, %v", u, err)
	}
	_, err = s.UserByEmail(ctx, "nobody@example.org")
	wantCode(t, err, haven.ENotFound)
	_, err = s.UserByEmail(ctx, "")
	wantCode(t, err, haven.ENotFound)
}

func TestEmailInvitationsSQLite(t *testing.T)   { testEmailInvitations(t, openSQLite(t)) }
func TestEmailInvitationsPostgres(t *testing.T) { testEmailInvitations(t, postgresOpener(t)(t)) }

// testEmailInvitations keeps invitations to addresses without an account
// and turns them into the invitations of whoever proves the address.
func testEmailInvitations(t *testing.T, s *meta.Store) {
	acme := mustUser(t, s, "acme", true)
	other := mustUser(t, s, "other-org", true)
	third := mustUser(t, s, "third-org", true)
	for _, org := range []*haven.User{acme, other, third} {
		inv := &haven.Invitation{Org: *org, Email: "New.Person@Example.com", Role: meta.RoleWrite, Inviter: "alice"}
		mustNil(t, s.InviteEmail(ctx, inv))
		if len(inv.ID) != 24 {
			t.Fatalf("id %q", inv.ID)
		}
	}
	// Again, in another spelling: the role is replaced, no second one.
	again := &haven.Invitation{Org: *acme, Email: "new.person@example.com", Role: meta.RoleRead, Inviter: "alice", Mailed: true}
	mustNil(t, s.InviteEmail(ctx, again))
	wantCode(t, s.InviteEmail(ctx, &haven.Invitation{Org: *acme, Email: "x@example.com", Role: "owner"}), haven.EInvalid)
	list, err := s.EmailInvitationsOfOrg(ctx, acme)
	mustNil(t, err)
	if len(list) != 1 || list[0].Role != meta.RoleRead || !list[0].Mailed || list[0].Org.Name != "acme" {
		t.Fatalf("acme's email invitations = %+v", list)
	}
	// Cancelled by an admin of another organisation: not found.
	_, err = s.DeleteEmailInvitation(ctx, other, list[0].ID)
	wantCode(t, err, haven.ENotFound)
	list, err = s.EmailInvitationsOfOrg(ctx, third)
	mustNil(t, err)
	gone, err := s.DeleteEmailInvitation(ctx, third, list[0].ID)
	mustNil(t, err)
	if gone.Email != "New.Person@Example.com" {
		t.Fatalf("deleted %+v", gone)
	}

	// The person signs up; they are a member of other-org already.
	carol := mustUser(t, s, "carol", false)
	mustNil(t, s.AddMember(ctx, other.ID, carol.ID, meta.RoleRead))
	nobody, err := s.ClaimEmailInvitations(ctx, carol.ID, "someone.else@example.com")
	mustNil(t, err)
	if len(nobody) != 0 {
		t.Fatalf("claimed for another address: %+v", nobody)
	}
	got, err := s.ClaimEmailInvitations(ctx, carol.ID, "NEW.PERSON@example.com")
	mustNil(t, err)
	if len(got) != 1 || got[0].Org.Name != "acme" || got[0].User.Name != "carol" || got[0].Role != meta.RoleRead || got[0].Inviter != "alice" {
		t.Fatalf("claimed = %+v", got)
	}
	mine, err := s.InvitationsOfUser(ctx, carol.ID)
	mustNil(t, err)
	if len(mine) != 1 || mine[0].ID != got[0].ID {
		t.Fatalf("carol's invitations = %+v", mine)
	}
	for _, org := range []*haven.User{acme, other} {
		left, err := s.EmailInvitationsOfOrg(ctx, org)
		mustNil(t, err)
		if len(left) != 0 {
			t.Fatalf("%s keeps %+v", org.Name, left)
		}
	}
	// Claimed once: a second sign-in finds nothing more.
	got, err = s.ClaimEmailInvitations(ctx, carol.ID, "new.person@example.com")
	mustNil(t, err)
	if len(got) != 0 {
		t.Fatalf("claimed twice: %+v", got)
	}
}
