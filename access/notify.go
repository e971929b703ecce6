package access

import (
	"fmt"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
)

// owners are who manage the requests of repo: its user, or the admins of
// its organisation.
func (s *Service) owners(r *http.Request, repo *haven.Repo) ([]*haven.User, error) {
	owner, err := s.cfg.Meta.UserByName(r.Context(), repo.Namespace)
	if err != nil || !owner.IsOrg {
		return []*haven.User{owner}, err
	}
	members, roles, err := s.cfg.Meta.Members(r.Context(), owner.ID)
	var admins []*haven.User
	for i := range members {
		if roles[i] == "admin" {
			admins = append(admins, &members[i])
		}
	}
	return admins, err
}

// notifyOwners tells the owners of repo that requester asked for access
// (or was let in by the repository's "auto" rule).
func (s *Service) notifyOwners(r *http.Request, repo *haven.Repo, requester *haven.User, st haven.AccessStatus) {
	if s.cfg.Notify == nil {
		return
	}
	owners, err := s.owners(r, repo)
	if err != nil {
		s.log.ErrorContext(r.Context(), "access: finding whom to notify", "repo", repo.FullName(), "err", err)
		return
	}
	n := haven.Notification{Kind: haven.NotifyAccessRequest, Actor: requester.Name,
		Subject: fmt.Sprintf("%s asks for access to %s", requester.Name, repo.FullName()),
		Body:    fmt.Sprintf("%s asks for access to the files of the %s %s.", requester.Name, repo.Type, repo.FullName()),
		URL:     s.RepoURL(repo) + "/access-requests"}
	if st == haven.AccessAccepted {
		n.Subject = fmt.Sprintf("%s was given access to %s", requester.Name, repo.FullName())
		n.Body = fmt.Sprintf("%s was given access to the files of the %s %s: its requests are accepted automatically.",
			requester.Name, repo.Type, repo.FullName())
	}
	for _, u := range owners {
		if u.ID != requester.ID {
			haven.Notify(r.Context(), s.cfg.Notify, u, n)
		}
	}
}

// notifyRequester tells user of a decision about their access to repo.
func (s *Service) notifyRequester(r *http.Request, repo *haven.Repo, user *haven.User, status, reason string) {
	by := hubhttp.Actor(r).Name()
	n := haven.Notification{Kind: haven.NotifyAccessDecision, Actor: by, URL: s.RepoURL(repo)}
	switch status {
	case string(haven.AccessAccepted), "granted":
		n.Subject = fmt.Sprintf("You have access to %s", repo.FullName())
		n.Body = fmt.Sprintf("%s gave you access to the files of the %s %s.", by, repo.Type, repo.FullName())
	case string(haven.AccessRejected):
		n.Subject = fmt.Sprintf("Your request for access to %s was rejected", repo.FullName())
		n.Body = fmt.Sprintf("%s rejected your request for access to the %s %s.", by, repo.Type, repo.FullName())
		if reason != "" {
			n.Body += "\n\nReason: " + reason
		}
	default:
		n.Subject = fmt.Sprintf("Your request for access to %s is pending again", repo.FullName())
		n.Body = fmt.Sprintf("%s moved your request for access to the %s %s back to pending.", by, repo.Type, repo.FullName())
	}
	haven.Notify(r.Context(), s.cfg.Notify, user, n)
}
