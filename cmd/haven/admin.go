package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
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
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created user %s\n", u.Name)
			return nil
		},
	}
	create.Flags().BoolVar(&admin, "admin", false, "make the user a site administrator")
	create.Flags().StringVar(&fullname, "fullname", "", "full name shown on pages")
	create.Flags().StringVar(&email, "email", "", "e-mail address")
	create.Flags().StringVar(&password, "password", "", "password for signing in to the web pages")
	cmd.AddCommand(create)
	return cmd
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
	create := &cobra.Command{
		Use:   "create USER",
		Short: "Create an access token for USER; prints the token on the last line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := haven.ParseRole(role)
			if err != nil {
				return err
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
			plain, hash := auth.NewToken()
			t := &haven.Token{UserID: u.ID, DisplayName: display, Role: r}
			if err := m.CreateToken(cmd.Context(), t, hash); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s token %q for %s (shown once, keep it safe):\n%s\n", r, display, u.Name, plain)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "read", "token role: read or write")
	create.Flags().StringVar(&display, "name", "haven-cli", "display name of the token")
	cmd.AddCommand(create)
	return cmd
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
			fmt.Fprintf(cmd.OutOrStdout(), "created organisation %s owned by %s\n", org.Name, u.Name)
			return nil
		},
	}
	create.Flags().StringVar(&owner, "owner", "", "user who administers the organisation")
	create.Flags().StringVar(&fullname, "fullname", "", "full name shown on pages")
	cmd.AddCommand(create)
	return cmd
}
