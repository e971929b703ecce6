package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/api"
	"github.com/havenhub/haven/audit"
	"github.com/havenhub/haven/auth"
	"github.com/havenhub/haven/meta"
)

func userCmd(opts *options) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users"}
	var admin bool
	var fullname, email, password string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !validUserName(name) {
				return fmt.Errorf("invalid user name %q: use letters, digits, '-', '_' and '.'", name)
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			hash := ""
			if password != "" {
				b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
				if err != nil {
					return err
				}
				hash = string(b)
			}
			u := &haven.User{Name: name, FullName: fullname, Email: email, IsAdmin: admin}
			if err := m.CreateUser(cmd.Context(), u, hash); err != nil {
				if haven.IsCode(err, haven.EConflict) {
					if other, e := m.UserByName(cmd.Context(), name); e == nil && other.IsOrg {
						return fmt.Errorf("%s is taken by an organisation: choose another name", other.Name)
					}
					return fmt.Errorf("%s already exists: set a password with `haven user passwd %s`, make a token with `haven token create %s`", name, name, name)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s\n", u.Name)
			// The administrator vouches for the address: what organisations
			// sent to it before the account existed is now the user's.
			invs, err := m.ClaimEmailInvitations(cmd.Context(), u.ID, email)
			if err != nil {
				return err
			}
			for _, inv := range invs {
				fmt.Fprintf(cmd.OutOrStdout(), "%s has an invitation to %s (%s) sent to %s\n", u.Name, inv.Org.Name, inv.Role, email)
			}
			return nil
		},
	}
	create.Flags().BoolVar(&admin, "admin", false, "make the user a site administrator")
	create.Flags().StringVar(&fullname, "fullname", "", "full name shown on pages")
	create.Flags().StringVar(&email, "email", "", "e-mail address")
	create.Flags().StringVar(&password, "password", "", "password for signing in to the web pages")
	cmd.AddCommand(create, userPasswdCmd(opts), userListCmd(opts))
	return cmd
}

func userPasswdCmd(opts *options) *cobra.Command {
	var password string
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Set the password NAME signs in to the web pages with; signs out their browser sessions",
		Long: "Set the password NAME signs in to the web pages with. Without --password it is read from\n" +
			"the terminal (not echoed), or as the first line of the standard input. Their browser sessions end.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			u, err := m.UserByName(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("user %q: %w (create it with `haven user create %s --password …`)", args[0], err, args[0])
			}
			if u.IsOrg {
				return fmt.Errorf("%s is an organisation; its members sign in", u.Name)
			}
			if password == "" {
				if password, err = readPassword(cmd); err != nil {
					return err
				}
			}
			if password == "" {
				return fmt.Errorf("empty password")
			}
			hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
			if err != nil {
				return err
			}
			if err := m.SetPasswordHash(cmd.Context(), u.ID, string(hash)); err != nil {
				return err
			}
			if err := m.DeleteUserSessions(cmd.Context(), u.ID); err != nil {
				return err
			}
			adminAudit(cmd, m, haven.AuditEntry{Action: haven.AuditUserPassword, Namespace: u.Name, TargetType: haven.AuditTargetUser, Target: u.Name})
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s set\n", u.Name)
			return nil
		},
	}
	passwd.Flags().StringVar(&password, "password", "", "the new password (visible in the process list; prefer the prompt or standard input)")
	return passwd
}

// readPassword reads a password from the terminal without echoing it, or
// the first line of a piped standard input.
func readPassword(cmd *cobra.Command) (string, error) {
	in, ok := cmd.InOrStdin().(*os.File)
	terminal := false
	if ok {
		if fi, err := in.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			terminal = true
		}
	}
	if terminal {
		fmt.Fprint(cmd.ErrOrStderr(), "New password: ")
		// The standard library cannot turn echo off; stty can.
		if stty(in, "-echo") == nil {
			defer func() {
				stty(in, "echo")
				fmt.Fprintln(cmd.ErrOrStderr())
			}()
		}
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func stty(tty *os.File, arg string) error {
	c := exec.Command("stty", arg)
	c.Stdin = tty
	return c.Run()
}

func userListCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the users: name, administrator, password, tokens, created",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			users, passwords, err := m.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tADMIN\tPASSWORD\tTOKENS\tCREATED\tEMAIL")
			for i, u := range users {
				tokens, err := m.ListTokens(cmd.Context(), u.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", u.Name, yesNo(u.IsAdmin), yesNo(passwords[i]), len(tokens),
					u.CreatedAt.Format(time.DateOnly), u.Email)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(users) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no users yet: create one with `haven user create NAME --password …`")
			}
			return nil
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// validUserName accepts Hub user names, including ones with leading or
// trailing underscores.
func validUserName(name string) bool {
	return haven.ValidName(name) && !reservedNames[name]
}

// reservedNames would collide with top-level URL paths.
var reservedNames = map[string]bool{
	"api": true, "datasets": true, "spaces": true, "models": true, "lfs": true, "settings": true,
	"login": true, "logout": true, "new": true, "organizations": true, "static": true, "docs": true,
}

func tokenCmd(opts *options) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Manage access tokens"}
	var role, display string
	var repos, namespaces, global []string
	var expires time.Duration
	var gated bool
	create := &cobra.Command{
		Use:   "create USER",
		Short: "Create an access token for USER; prints the token on the last line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "fine-grained" {
				role = string(haven.RoleFineGrained)
			}
			r, err := haven.ParseRole(role)
			if err != nil {
				return err
			}
			scoped := len(repos)+len(namespaces)+len(global) > 0 || gated
			if scoped && r != haven.RoleFineGrained {
				return fmt.Errorf("--repo, --namespace, --global and --gated are for --role fine-grained")
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			u, err := m.UserByName(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("user %q: %w", args[0], err)
			}
			if u.IsOrg {
				return fmt.Errorf("%s is an organisation; tokens belong to users", u.Name)
			}
			t := &haven.Token{UserID: u.ID, DisplayName: display, Role: r}
			if expires > 0 {
				t.ExpiresAt = time.Now().Add(expires)
			}
			if r == haven.RoleFineGrained {
				fg := &haven.FineGrained{CanReadGatedRepos: gated, Global: global}
				for _, s := range repos {
					sc, err := haven.ParseRepoScope(s)
					if err != nil {
						return err
					}
					fg.Scoped = append(fg.Scoped, sc)
				}
				for _, s := range namespaces {
					ns, level, _ := strings.Cut(s, ":")
					perms, err := haven.ScopePermissions(level)
					if err != nil {
						return fmt.Errorf("--namespace %s: %w", s, err)
					}
					owner, err := m.UserByName(cmd.Context(), ns)
					if err != nil {
						return fmt.Errorf("namespace %q: %w", ns, err)
					}
					typ := "user"
					if owner.IsOrg {
						typ = "org"
					}
					fg.Scoped = append(fg.Scoped, haven.TokenScope{Entity: haven.TokenEntity{Type: typ, Name: owner.Name}, Permissions: perms})
				}
				t.FineGrained = fg
			}
			plain, hash := auth.NewToken()
			if err := m.CreateToken(cmd.Context(), t, hash); err != nil {
				return err
			}
			adminAudit(cmd, m, haven.AuditEntry{Action: haven.AuditTokenCreate, Namespace: u.Name, TargetType: haven.AuditTargetToken,
				Target: strconv.FormatInt(t.ID, 10), Details: audit.TokenDetails(t)})
			fmt.Fprintf(cmd.OutOrStdout(), "created %s token %q for %s (shown once, keep it safe):\n%s\n", r, display, u.Name, plain)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "read", "token role: read, write or fine-grained")
	create.Flags().StringVar(&display, "name", "haven-cli", "display name of the token")
	create.Flags().StringArrayVar(&repos, "repo", nil, "fine-grained: NS/NAME:read|write (datasets/NS/NAME, spaces/NS/NAME for those types); repeatable")
	create.Flags().StringArrayVar(&namespaces, "namespace", nil, "fine-grained: NS:read|write for every repository of a user or organisation; repeatable")
	create.Flags().StringArrayVar(&global, "global", nil, "fine-grained: a global permission (discussion.write, post.write); repeatable")
	create.Flags().BoolVar(&gated, "gated", false, "fine-grained: read public gated repositories the user was let into")
	create.Flags().DurationVar(&expires, "expires", 0, "the token expires after this long (0: never)")
	cmd.AddCommand(create, tokenListCmd(opts), tokenRevokeCmd(opts))
	return cmd
}

func tokenListCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "list USER",
		Short: "List USER's tokens: id, name, role, created, last used, expiry (never the secrets)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			u, err := m.UserByName(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("user %q: %w", args[0], err)
			}
			tokens, err := m.ListTokens(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			when := func(t time.Time, zero string) string {
				if t.IsZero() {
					return zero
				}
				return t.UTC().Format("2006-01-02 15:04")
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tROLE\tCREATED\tLAST USED\tEXPIRES")
			for _, t := range tokens {
				expires := when(t.ExpiresAt, "never")
				if t.Expired(time.Now()) {
					expires += " (expired)"
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.DisplayName, t.Role, when(t.CreatedAt, "-"), when(t.LastUsedAt, "never"), expires)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if len(tokens) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s has no tokens: create one with `haven token create %s --role write`\n", u.Name, u.Name)
			}
			return nil
		},
	}
}

func tokenRevokeCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token by its id (see `haven token list USER`)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("token id %q: a number from `haven token list USER`", args[0])
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			t, err := m.TokenByID(cmd.Context(), id)
			if err != nil {
				return fmt.Errorf("token %d: %w", id, err)
			}
			u, err := m.UserByID(cmd.Context(), t.UserID)
			if err != nil {
				return err
			}
			if err := m.DeleteToken(cmd.Context(), t.UserID, t.ID); err != nil {
				return err
			}
			// Servers sharing a PostgreSQL database drop cached identities at
			// once; a single server's cache forgets the token within seconds.
			if err := m.Publish(cmd.Context(), api.PeerChannel, "identities"); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: servers not told at once (they forget the token within seconds): %v\n", err)
			}
			adminAudit(cmd, m, haven.AuditEntry{Action: haven.AuditTokenRevoke, Namespace: u.Name, TargetType: haven.AuditTargetToken, Target: args[0]})
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %d (%q) of %s\n", t.ID, t.DisplayName, u.Name)
			return nil
		},
	}
}

func orgCmd(opts *options) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organisations"}
	var owner, fullname string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an organisation owned (administered) by an existing user",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validUserName(args[0]) {
				return fmt.Errorf("invalid organisation name %q", args[0])
			}
			if owner == "" {
				return fmt.Errorf("--owner is required")
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			u, err := m.UserByName(cmd.Context(), owner)
			if err != nil {
				return fmt.Errorf("owner %q: %w", owner, err)
			}
			org := &haven.User{Name: args[0], FullName: fullname, IsOrg: true}
			if err := m.CreateUser(cmd.Context(), org, ""); err != nil {
				return err
			}
			if err := m.AddMember(cmd.Context(), org.ID, u.ID, "admin"); err != nil {
				return err
			}
			adminAudit(cmd, m, haven.AuditEntry{Action: haven.AuditOrgAddUser, Namespace: org.Name, TargetType: haven.AuditTargetUser,
				Target: u.Name, Details: map[string]any{"role": "admin"}})
			fmt.Fprintf(cmd.OutOrStdout(), "created organisation %s owned by %s\n", org.Name, u.Name)
			return nil
		},
	}
	create.Flags().StringVar(&owner, "owner", "", "user who administers the organisation")
	create.Flags().StringVar(&fullname, "fullname", "", "full name shown on pages")
	cmd.AddCommand(create, orgMemberCmd(opts), orgSetCmd(opts))
	return cmd
}

func orgMemberCmd(opts *options) *cobra.Command {
	var role string
	member := &cobra.Command{
		Use:   "member ORG USER",
		Short: "Add USER to ORG, or change their role: admin, write, contributor or read",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			org, err := m.UserByName(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("organisation %q: %w", args[0], err)
			}
			u, err := m.UserByName(cmd.Context(), args[1])
			if err != nil {
				return fmt.Errorf("user %q: %w", args[1], err)
			}
			previous := ""
			if ms, err := m.Memberships(cmd.Context(), u.ID); err == nil {
				for _, ms := range ms {
					if ms.Org.ID == org.ID {
						previous = ms.Role
					}
				}
			}
			if err := m.AddMember(cmd.Context(), org.ID, u.ID, role); err != nil {
				return err
			}
			action := haven.AuditOrgChangeRole
			if previous == "" {
				action = haven.AuditOrgAddUser
			}
			adminAudit(cmd, m, haven.AuditEntry{Action: action, Namespace: org.Name, TargetType: haven.AuditTargetUser,
				Target: u.Name, Details: map[string]any{"role": role, "previousRole": previous}})
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s in %s\n", u.Name, role, org.Name)
			return nil
		},
	}
	member.Flags().StringVar(&role, "role", "read", "role in the organisation: admin, write, contributor or read")
	return member
}

func orgSetCmd(opts *options) *cobra.Command {
	var visibility string
	set := &cobra.Command{
		Use:   "set ORG",
		Short: "Change an organisation's settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if visibility != "private" && visibility != "public" {
				return fmt.Errorf("--default-visibility must be private or public")
			}
			m, err := openMeta(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer m.Close()
			org, err := m.UserByName(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("organisation %q: %w", args[0], err)
			}
			if err := m.SetOrgDefaultPrivate(cmd.Context(), org.ID, visibility == "private"); err != nil {
				return err
			}
			adminAudit(cmd, m, haven.AuditEntry{Action: haven.AuditOrgSettings, Namespace: org.Name, TargetType: haven.AuditTargetUser,
				Target: org.Name, Details: map[string]any{"defaultVisibility": visibility}})
			fmt.Fprintf(cmd.OutOrStdout(), "new repositories of %s are %s unless their creator says otherwise\n", org.Name, visibility)
			return nil
		},
	}
	set.Flags().StringVar(&visibility, "default-visibility", "", "visibility of new repositories when the request does not say: private or public")
	return set
}

// adminAudit records an admin command's change in the audit log, as done
// by the system: whoever runs the command has the server's files, not an
// account. A failure to record is reported but does not undo the change.
func adminAudit(cmd *cobra.Command, m *meta.Store, e haven.AuditEntry) {
	e.ActorType = haven.AuditActorTypeSystem
	e.UserAgent = "haven " + cmd.CommandPath()
	if err := m.AddAuditEntry(cmd.Context(), &e); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: not recorded in the audit log: %v\n", err)
	}
}
