package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/havenhub/haven"
)

// haven runs the command line on a data folder and returns what it printed.
func havenCLI(t *testing.T, data, stdin string, args ...string) (string, error) {
	t.Helper()
	root := rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--data", data}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAdminUsersAndTokens(t *testing.T) {
	data := t.TempDir()
	steps := []struct {
		stdin string
		args  []string
		want  string // in the output, or in the error when fails
		fails bool
	}{
		{"", []string{"user", "list"}, "no users yet: create one with `haven user create NAME --password …`", false},
		{"", []string{"user", "create", "alice"}, "created user alice", false},
		{"", []string{"user", "create", "Alice"}, "Alice already exists: set a password with `haven user passwd Alice`, make a token with `haven token create Alice`", true},
		{"", []string{"user", "create", "bob", "--admin", "--password", "pw"}, "created user bob", false},
		{"", []string{"org", "create", "acme", "--owner", "bob"}, "created organisation acme owned by bob", false},
		{"", []string{"user", "create", "ACME"}, "acme is taken by an organisation: choose another name", true},
		{"", []string{"user", "list"}, "alice  no     no        0", false},
		{"", []string{"user", "list"}, "bob    yes    yes       0", false},
		{"s3cret\n", []string{"user", "passwd", "alice"}, "password of alice set", false},
		{"", []string{"user", "passwd", "carol", "--password", "x"}, "create it with `haven user create carol --password …`", true},
		{"", []string{"user", "passwd", "alice"}, "empty password", true},
		{"", []string{"token", "list", "alice"}, "alice has no tokens", false},
		{"", []string{"token", "create", "alice", "--role", "write", "--name", "laptop"}, "created write token \"laptop\" for alice", false},
		{"", []string{"token", "list", "alice"}, "1   laptop  write", false},
		{"", []string{"token", "list", "alice"}, "never      never", false},
		{"", []string{"user", "list"}, "alice  no     yes       1", false},
		{"", []string{"token", "revoke", "x"}, "token id \"x\": a number", true},
		{"", []string{"token", "revoke", "7"}, "token 7: Token not found", true},
		{"", []string{"token", "revoke", "1"}, "revoked token 1 (\"laptop\") of alice", false},
		{"", []string{"token", "list", "alice"}, "alice has no tokens", false},
	}
	for _, s := range steps {
		out, err := havenCLI(t, data, s.stdin, s.args...)
		got := out
		if s.fails {
			if err == nil {
				t.Fatalf("%v: no error (%s)", s.args, out)
			}
			got = err.Error()
		} else if err != nil {
			t.Fatalf("%v: %v (%s)", s.args, err, out)
		}
		if !strings.Contains(got, s.want) {
			t.Fatalf("%v: got\n%s\nwant %q", s.args, got, s.want)
		}
	}
	m, err := openMeta(context.Background(), &options{data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	u, _ := m.UserByName(context.Background(), "alice")
	hash, _ := m.PasswordHash(context.Background(), u.ID)
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")) != nil {
		t.Error("the password read from standard input is not alice's password")
	}
}

// TestUserCreateClaimsInvitations checks that a user made by an
// administrator with an address gets the invitations organisations sent to
// that address before the account existed.
func TestUserCreateClaimsInvitations(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	for _, args := range [][]string{{"user", "create", "root"}, {"org", "create", "acme", "--owner", "root"}} {
		if out, err := havenCLI(t, data, "", args...); err != nil {
			t.Fatalf("%v: %v (%s)", args, err, out)
		}
	}
	m, err := openMeta(ctx, &options{data: data})
	if err != nil {
		t.Fatal(err)
	}
	acme, _ := m.UserByName(ctx, "acme")
	if err := m.InviteEmail(ctx, &haven.Invitation{Org: *acme, Email: "Dana@Example.org", Role: "write", Inviter: "root"}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	out, err := havenCLI(t, data, "", "user", "create", "dana", "--email", "dana@example.org")
	if err != nil || !strings.Contains(out, "dana has an invitation to acme (write) sent to dana@example.org") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	m, err = openMeta(ctx, &options{data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if left, err := m.EmailInvitationsOfOrg(ctx, acme); err != nil || len(left) != 0 {
		t.Errorf("invitations to addresses left: %v %v", left, err)
	}
	dana, _ := m.UserByName(ctx, "dana")
	invs, err := m.InvitationsOfUser(ctx, dana.ID)
	if err != nil || len(invs) != 1 || invs[0].Org.Name != "acme" || invs[0].Role != "write" {
		t.Errorf("dana's invitations: %v %v", invs, err)
	}
}
