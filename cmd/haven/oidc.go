package main

import (
	"errors"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/oidc"
	"github.com/havenhub/haven/web"
)

// oidcOptions are the flags of sign-in through an OpenID Connect provider.
type oidcOptions struct {
	issuer, clientID, clientSecret, name, groupsClaim string
	groupRoles                                        []string
}

func addOIDCFlags(cmd *cobra.Command, o *oidcOptions) {
	f := cmd.Flags()
	f.StringVar(&o.issuer, "oidc-issuer", os.Getenv("HAVEN_OIDC_ISSUER"), "sign people in through this OpenID Connect provider (its issuer URL)")
	f.StringVar(&o.clientID, "oidc-client-id", os.Getenv("HAVEN_OIDC_CLIENT_ID"), "the hub's client id at the OpenID Connect provider")
	f.StringVar(&o.clientSecret, "oidc-client-secret", os.Getenv("HAVEN_OIDC_CLIENT_SECRET"), "the hub's client secret at the OpenID Connect provider")
	f.StringVar(&o.name, "oidc-name", os.Getenv("HAVEN_OIDC_NAME"), `the provider's name on the sign-in page, "Sign in with NAME" (default: the issuer's host)`)
	f.StringVar(&o.groupsClaim, "oidc-groups-claim", envOr("HAVEN_OIDC_GROUPS_CLAIM", "groups"), "the claim that lists a person's groups")
	var roles []string
	// Several mappings are separated by ';' or new lines: group names
	// (LDAP DNs) may hold commas and spaces.
	for _, s := range strings.FieldsFunc(os.Getenv("HAVEN_OIDC_GROUP_ROLES"), func(r rune) bool { return r == ';' || r == '\n' }) {
		if s = strings.TrimSpace(s); s != "" {
			roles = append(roles, s)
		}
	}
	f.StringArrayVar(&o.groupRoles, "oidc-group-role", roles, "GROUP=ORG:ROLE: members of the provider's GROUP get ROLE (read, write or admin) in the organisation ORG; repeatable")
}

// newOIDC returns the sign-in through the flags' provider, or nil when
// none is set.
func newOIDC(o *oidcOptions, m *meta.Store, publicURL string, log *slog.Logger) (web.ExternalSignIn, error) {
	if o.issuer == "" {
		if o.clientID != "" || o.clientSecret != "" || len(o.groupRoles) > 0 {
			return nil, errors.New("--oidc-issuer is required with the other --oidc flags")
		}
		return nil, nil
	}
	var roles []oidc.GroupRole
	for _, s := range o.groupRoles {
		gr, err := oidc.ParseGroupRole(s)
		if err != nil {
			return nil, err
		}
		roles = append(roles, gr)
	}
	return oidc.New(oidc.Config{
		Issuer:       o.issuer,
		ClientID:     o.clientID,
		ClientSecret: o.clientSecret,
		RedirectURL:  strings.TrimRight(publicURL, "/") + web.SignInCallbackPath,
		Name:         o.name,
		GroupsClaim:  o.groupsClaim,
		GroupRoles:   roles,
		ValidName:    validUserName,
		Meta:         m,
		Logger:       log,
	})
}
