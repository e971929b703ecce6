package discussions

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// maxMentions bounds the users one comment notifies, so that a comment
// cannot mail the whole hub.
const maxMentions = 20

// mentionRE finds @name where it starts a word: not inside an email
// address or a path.
var mentionRE = regexp.MustCompile(`(?:^|[^\w@./-])@([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// Mentions lists the distinct names a text mentions with @name, in order,
// at most maxMentions of them.
func Mentions(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
		name := strings.TrimRight(m[1], ".-")
		key := strings.ToLower(name)
		if name == "" || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, name)
		if len(out) == maxMentions {
			break
		}
	}
	return out
}

// notifyMentions tells the users body mentions, other than its author,
// that they were named in discussion d, if they may read repo: a mention
// must not show a private repository to someone outside it.
func (s *Service) notifyMentions(ctx context.Context, repo *haven.Repo, author *auth.Actor, d *haven.Discussion, body string) {
	if s.cfg.Notify == nil {
		return
	}
	kind := "discussion"
	if d.IsPullRequest {
		kind = "pull request"
	}
	for _, name := range Mentions(body) {
		if strings.EqualFold(name, author.Name()) {
			continue
		}
		u, err := s.cfg.Meta.UserByName(ctx, name)
		if err != nil || u.IsOrg {
			continue
		}
		a, err := auth.ForUser(ctx, s.cfg.Meta, u, nil)
		if err != nil {
			s.log.Error("discussions: checking a mentioned user", "user", name, "err", err)
			continue
		}
		if auth.Can(a, auth.Read, repo) != nil {
			continue
		}
		haven.Notify(ctx, s.cfg.Notify, u, haven.Notification{Kind: haven.NotifyMention, Actor: author.Name(),
			Subject: fmt.Sprintf("%s mentioned you in %s#%d", author.Name(), repo.FullName(), d.Num),
			Body:    fmt.Sprintf("%s mentioned you in the %s %q of %s:\n\n%s", author.Name(), kind, d.Title, repo.FullName(), excerpt(body)),
			URL:     s.URL(repo, d.Num)})
	}
}

// excerpt is the start of a comment, for a notification.
func excerpt(body string) string {
	const max = 500
	body = strings.TrimSpace(body)
	if r := []rune(body); len(r) > max {
		return string(r[:max]) + "…"
	}
	return body
}
