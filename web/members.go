package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

type memberRow struct {
	User haven.User
	Role string
	Self bool
}

type membersData struct {
	Org       *haven.User
	Members   []memberRow
	Roles     []string
	CanManage bool
	Done      string
	Error     string
	Username  string // the add form's values, kept after an error
	Role      string
	// DefaultPrivate is whether new repositories of the organisation are
	// private when their creator does not say.
	DefaultPrivate bool
	// Invitations are those nobody has answered yet, for administrators.
	Invitations []*haven.Invitation
}

// memberRoles are the roles offered, most powerful first.
var memberRoles = []string{meta.RoleAdmin, meta.RoleWrite, meta.RoleContributor, meta.RoleRead}

// membersURL is the path of an organisation's members page.
func membersURL(org string) string { return "/organizations/" + url.PathEscape(org) + "/members" }

// members answers GET and POST /organizations/{org}/members: members see
// everyone's role; the organisation's administrators (and the hub's) add
// and remove members and change roles, through forms, since memberships
// have no JSON API. Roles are read from the database on every request,
// not from the cached identity, so a demoted administrator loses the
// forms at once.
func (h *Handler) members(w http.ResponseWriter, r *http.Request, name string) {
	a := actorOf(r)
	if a.Anonymous() {
		h.fail(w, r, haven.Errorf(haven.EUnauthorized, "Sign in to see the members of an organisation."))
		return
	}
	org, err := h.meta.UserByName(r.Context(), name)
	if err != nil || !org.IsOrg {
		h.notFound(w, r)
		return
	}
	d := membersData{Org: org, Roles: memberRoles, Role: meta.RoleRead}
	myRole, err := h.loadMembers(r, &d)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if myRole == "" && !a.User.IsAdmin {
		h.fail(w, r, haven.Errorf(haven.EForbidden, "Only members of %s can see its members and their roles.", org.Name))
		return
	}
	d.CanManage = myRole == meta.RoleAdmin || a.User.IsAdmin
	if d.CanManage {
		if d.Invitations, err = h.meta.InvitationsOfOrg(r.Context(), org.ID); err != nil {
			h.fail(w, r, err)
			return
		}
		byEmail, err := h.meta.EmailInvitationsOfOrg(r.Context(), org)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Invitations = append(d.Invitations, byEmail...)
	}
	if d.DefaultPrivate, err = h.meta.OrgDefaultPrivate(r.Context(), org.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	if r.Method == http.MethodPost {
		if !d.CanManage {
			h.fail(w, r, haven.Errorf(haven.EForbidden, "Only administrators of %s can change its members.", org.Name))
			return
		}
		done, msg := h.changeMember(r, &d)
		if msg == "" {
			// The changed roles must apply to cached identities at once.
			h.sessions.Clear()
			if h.TokensChanged != nil {
				h.TokensChanged()
			}
			http.Redirect(w, r, membersURL(org.Name)+"?"+url.Values{"done": {done}}.Encode(), http.StatusSeeOther)
			return
		}
		d.Error = msg
		h.render(w, r, http.StatusBadRequest, "members", "Members of "+org.Name, d)
		return
	}
	// Only fixed messages come from the URL, so a link cannot put words on
	// the page.
	d.Done = doneMessages[r.URL.Query().Get("done")]
	h.render(w, r, http.StatusOK, "members", "Members of "+org.Name, d)
}

// loadMembers fills d.Members and returns the visitor's role ("" when not
// a member).
func (h *Handler) loadMembers(r *http.Request, d *membersData) (string, error) {
	users, roles, err := h.meta.Members(r.Context(), d.Org.ID)
	if err != nil {
		return "", err
	}
	me, myRole := actorOf(r).User, ""
	d.Members = d.Members[:0]
	for i, u := range users {
		row := memberRow{User: u, Role: roles[i], Self: u.ID == me.ID}
		if row.Self {
			myRole = row.Role
		}
		d.Members = append(d.Members, row)
	}
	return myRole, nil
}

// doneMessages are what the page says after each kind of change.
var doneMessages = map[string]string{
	"added":     "The member was added.",
	"changed":   "The role was changed.",
	"removed":   "The member was removed.",
	"settings":  "The settings were saved.",
	"invited":   "The invitation was sent.",
	"cancelled": "The invitation was withdrawn.",
}

// changeMember carries out the posted change. It returns the key of
// doneMessages to show after the redirect, or a message saying why nothing
// was done.
func (h *Handler) changeMember(r *http.Request, d *membersData) (done, problem string) {
	action := r.PostFormValue("action")
	if action == "invite" || action == "cancel-invite" {
		return h.inviteMember(r, d)
	}
	if action == "settings" {
		v := r.PostFormValue("default_visibility")
		if v != "private" && v != "public" {
			return "", "Choose private or public."
		}
		if err := h.meta.SetOrgDefaultPrivate(r.Context(), d.Org.ID, v == "private"); err != nil {
			return "", haven.ErrorMessage(err)
		}
		h.record(r, actorOf(r), haven.AuditEntry{Action: haven.AuditOrgSettings, Namespace: d.Org.Name, TargetType: haven.AuditTargetUser,
			Target: d.Org.Name, Details: map[string]any{"defaultVisibility": v}})
		return "settings", ""
	}
	d.Username = strings.TrimSpace(r.PostFormValue("username"))
	role := r.PostFormValue("role")
	if action == "add" {
		d.Role = role
	}
	if d.Username == "" {
		return "", "Name the user."
	}
	user, err := h.meta.UserByName(r.Context(), d.Username)
	if haven.IsCode(err, haven.ENotFound) || err == nil && user.IsOrg {
		return "", "There is no user named " + d.Username + "."
	}
	if err != nil {
		return "", "The user could not be looked up; try again."
	}
	current, admins := "", 0
	for _, m := range d.Members {
		if m.User.ID == user.ID {
			current = m.Role
		}
		if m.Role == meta.RoleAdmin {
			admins++
		}
	}
	// An organisation keeps at least one administrator, or nobody could
	// manage it from the pages again.
	lastAdmin := current == meta.RoleAdmin && admins == 1
	switch action {
	case "add", "role":
		if action == "add" && current != "" {
			return "", user.Name + " is already a member; change their role in the list."
		}
		if action == "role" && current == "" {
			return "", user.Name + " is not a member."
		}
		if !validRole(role) {
			return "", "Choose admin, write, contributor or read."
		}
		if lastAdmin && role != meta.RoleAdmin {
			return "", user.Name + " is the only administrator; make someone else one first."
		}
		act := haven.AuditOrgChangeRole
		if action == "add" {
			act = haven.AuditOrgAddUser
		}
		ctx := h.audited(r, actorOf(r), func() haven.AuditEntry {
			return haven.AuditEntry{Action: act, Namespace: d.Org.Name, TargetType: haven.AuditTargetUser,
				Target: user.Name, Details: map[string]any{"role": role, "previousRole": current}}
		})
		if err := h.meta.AddMember(ctx, d.Org.ID, user.ID, role); err != nil {
			return "", haven.ErrorMessage(err)
		}
		if action == "add" {
			return "added", ""
		}
		return "changed", ""
	case "remove":
		if current == "" {
			return "", user.Name + " is not a member."
		}
		if lastAdmin {
			return "", user.Name + " is the only administrator; make someone else one first."
		}
		ctx := h.audited(r, actorOf(r), func() haven.AuditEntry {
			return haven.AuditEntry{Action: haven.AuditOrgRemoveUser, Namespace: d.Org.Name, TargetType: haven.AuditTargetUser,
				Target: user.Name, Details: map[string]any{"previousRole": current}}
		})
		if err := h.meta.RemoveMember(ctx, d.Org.ID, user.ID); err != nil {
			return "", haven.ErrorMessage(err)
		}
		return "removed", ""
	}
	return "", "Unknown change."
}

func validRole(role string) bool {
	for _, r := range memberRoles {
		if r == role {
			return true
		}
	}
	return false
}
