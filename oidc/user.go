package oidc

import (
	"context"
	"fmt"
	"strings"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// identity is what the hub takes from a person's claims.
type identity struct {
	subject, username, name, email string
	// emailVerified: the provider says the person proved the address.
	emailVerified bool
	groups        []string
	hasGroups     bool
}

// fill takes the claims of an ID token or of the userinfo answer into id,
// keeping what is already there.
func (id *identity) fill(all map[string]any, groupsClaim string) {
	str := func(k string) string { s, _ := all[k].(string); return s }
	for _, f := range []struct {
		dst *string
		key string
	}{{&id.username, "preferred_username"}, {&id.name, "name"}, {&id.email, "email"}} {
		if *f.dst == "" {
			*f.dst = strings.TrimSpace(str(f.key))
		}
	}
	switch v := all["email_verified"].(type) {
	case bool:
		id.emailVerified = id.emailVerified || v
	case string:
		// Some providers send the boolean as a string.
		id.emailVerified = id.emailVerified || v == "true"
	}
	if id.hasGroups {
		return
	}
	switch g := all[groupsClaim].(type) {
	case []any:
		id.hasGroups = true
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.groups = append(id.groups, s)
			}
		}
	case string:
		// Some providers send a single group as a string.
		id.hasGroups = true
		id.groups = []string{g}
	}
}

// claims reads the identity from the verified ID token and, where the
// provider leaves profile claims or groups out of it (many do when an
// access token comes with it), from the userinfo endpoint.
func (p *Provider) claims(ctx context.Context, prov *gooidc.Provider, idt *gooidc.IDToken, ts oauth2.TokenSource) (*identity, error) {
	id := &identity{subject: idt.Subject}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, err
	}
	id.fill(all, p.cfg.GroupsClaim)
	wantGroups := len(p.cfg.GroupRoles) > 0 && !id.hasGroups
	if (id.username != "" && id.email != "" && !wantGroups) || prov.UserInfoEndpoint() == "" {
		return id, nil
	}
	info, err := prov.UserInfo(ctx, ts)
	if err != nil {
		p.log.Warn("oidc: userinfo failed", "err", err)
		return id, nil
	}
	// The userinfo answer must describe the same person (OpenID Connect
	// Core 5.3.2), or it is ignored.
	if info.Subject != idt.Subject {
		p.log.Warn("oidc: userinfo names another subject; ignored")
		return id, nil
	}
	all = nil
	if err := info.Claims(&all); err == nil {
		id.fill(all, p.cfg.GroupsClaim)
	}
	return id, nil
}

// user returns the user linked to the person, creating and linking one on
// the first sign-in.
func (p *Provider) user(ctx context.Context, id *identity) (*haven.User, error) {
	if id.subject == "" {
		return nil, haven.Errorf(haven.EForbidden, "Sign-in refused: the ID token names no subject")
	}
	u, err := p.cfg.Meta.UserByIdentity(ctx, p.cfg.Issuer, id.subject)
	if err == nil || !haven.IsCode(err, haven.ENotFound) {
		return u, err
	}
	base := userName(id.username, id.email)
	for i := 1; i <= 101; i++ {
		name := base
		switch {
		case i == 101:
			name = base + "-" + strings.ToLower(random()[:8])
		case i > 1:
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if !p.cfg.ValidName(name) {
			continue
		}
		u := &haven.User{Name: name, FullName: id.name, Email: id.email}
		err := p.cfg.Meta.CreateIdentityUser(ctx, u, p.cfg.Issuer, id.subject)
		if err == nil {
			p.log.Info("oidc: user created on first sign-in", "user", name, "issuer", p.cfg.Issuer)
			return u, nil
		}
		if !haven.IsCode(err, haven.EConflict) {
			return nil, err
		}
		// Either the name is taken, or a sign-in of the same person at the
		// same moment linked the account first.
		if u, err := p.cfg.Meta.UserByIdentity(ctx, p.cfg.Issuer, id.subject); err == nil {
			return u, nil
		}
	}
	return nil, haven.Errorf(haven.EInternal, "No free user name for %q", base)
}

// maxNameLen leaves room for a "-N" suffix within the 96 characters of a
// name.
const maxNameLen = 80

// userName makes a valid user name from the provider's preferred user
// name, or the email's local part: letters, digits, '_', '.' and '-',
// other characters becoming '-', without "--", "..", a leading or
// trailing '-' or '.', or a ".git" ending. An email-like user name keeps
// its local part.
func userName(preferred, email string) string {
	s := preferred
	if s == "" {
		s = email
	}
	if at := strings.IndexByte(s, '@'); at > 0 {
		s = s[:at]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s = b.String()
	for strings.Contains(s, "--") || strings.Contains(s, "..") || strings.Contains(s, ".-") || strings.Contains(s, "-.") {
		s = strings.NewReplacer("--", "-", "..", ".", ".-", "-", "-.", "-").Replace(s)
	}
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	s = strings.TrimSuffix(strings.Trim(s, "-."), ".git")
	s = strings.Trim(s, "-.")
	if s == "" {
		return "user"
	}
	return s
}

// grant gives the user the roles their groups map to. Only organisations
// named in a mapping are touched: a membership given by hand elsewhere
// stays, and one given by a mapping is kept when the person leaves the
// group (an admin removes it), so that a provider that sends no groups on
// some sign-in cannot strip an organisation of its members.
func (p *Provider) grant(ctx context.Context, u *haven.User, groups []string) error {
	in := map[string]bool{}
	for _, g := range groups {
		in[g] = true
	}
	best := map[string]string{} // org → strongest role given by the groups
	rank := map[string]int{meta.RoleRead: 1, meta.RoleWrite: 2, meta.RoleAdmin: 3}
	for _, gr := range p.cfg.GroupRoles {
		if in[gr.Group] && rank[gr.Role] > rank[best[gr.Org]] {
			best[gr.Org] = gr.Role
		}
	}
	if len(best) == 0 {
		return nil
	}
	have, err := p.cfg.Meta.Memberships(ctx, u.ID)
	if err != nil {
		return err
	}
	current := map[string]string{}
	for _, m := range have {
		current[strings.ToLower(m.Org.Name)] = m.Role
	}
	for org, role := range best {
		if rank[current[strings.ToLower(org)]] >= rank[role] {
			continue // never lower a role given otherwise
		}
		o, err := p.cfg.Meta.UserByName(ctx, org)
		if err != nil || !o.IsOrg {
			p.log.Warn("oidc: group mapping names no organisation", "org", org)
			continue
		}
		if err := p.cfg.Meta.AddMember(ctx, o.ID, u.ID, role); err != nil {
			return err
		}
		p.log.Info("oidc: role given by group", "user", u.Name, "org", o.Name, "role", role)
	}
	return nil
}

// claimInvitations gives the user the invitations kept for their address,
// when the provider says they proved it: an address no account had when
// an organisation invited it.
func (p *Provider) claimInvitations(ctx context.Context, u *haven.User, id *identity) error {
	if !id.emailVerified || id.email == "" {
		return nil
	}
	invs, err := p.cfg.Meta.ClaimEmailInvitations(ctx, u.ID, id.email)
	if err != nil {
		return err
	}
	for _, inv := range invs {
		p.log.Info("oidc: invitation to the address given to its user", "user", u.Name, "org", inv.Org.Name, "role", inv.Role)
	}
	return nil
}
