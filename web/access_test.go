package web_test

import (
	"net/url"
	"strings"
	"testing"
)

const gatedCard = `---
extra_gated_heading: Ask for the weights
extra_gated_prompt: Research use only.
extra_gated_button_content: Send my request
extra_gated_fields:
  Company: text
  Country: country
  Purpose:
    type: select
    options:
      - Research
      - label: Business use
        value: business
  Birthday: date_picker
  I agree: checkbox
---
# Gated
`

func TestGateForm(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "gated", false)
	s.commit("alice", "alice/gated", "add", map[string]string{"README.md": gatedCard, "a.txt": "secret\n"})
	if p := s.apiDo("PUT", "/api/models/alice/gated/settings", s.tokens["alice"], "application/json", []byte(`{"gated":"manual"}`)); p.status != 200 {
		t.Fatalf("gating: %d %s", p.status, p.body)
	}
	alice, bob, anon := s.browser(), s.browser(), s.browser()
	alice.signIn("alice")
	bob.signIn("bob")

	// Who sees what on the card page before any request.
	pages := []struct {
		name   string
		b      *browser
		want   []string
		absent []string
	}{
		{"owner", alice, nil, []string{"data-gate"}},
		{"anonymous", anon, []string{"Sign in to ask for access"}, []string{"data-gate-form"}},
		{"signed in", bob, []string{"Ask for the weights", "Research use only.", "Send my request", `name="Company"`,
			`type="date"`, `type="checkbox"`, `<option value="business">Business use</option>`, `action="/api/models/alice/gated/ask-access"`}, nil},
	}
	for _, pg := range pages {
		p := pg.b.get("/alice/gated")
		if p.status != 200 {
			t.Fatalf("%s: status %d", pg.name, p.status)
		}
		for _, w := range pg.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("%s: page lacks %q", pg.name, w)
			}
		}
		for _, w := range pg.absent {
			if strings.Contains(p.body, w) {
				t.Errorf("%s: page has %q", pg.name, w)
			}
		}
	}
	// The fields come in the card's order.
	body := bob.get("/alice/gated").body
	if i, j := strings.Index(body, `name="Company"`), strings.Index(body, `name="I agree"`); i < 0 || j < i {
		t.Errorf("fields out of order: Company at %d, I agree at %d", i, j)
	}

	// The form posts to the API with the session and comes back to the page.
	p := bob.form("/api/models/alice/gated/ask-access", url.Values{"Company": {"ACME"}, "Country": {"fr"},
		"Purpose": {"business"}, "Birthday": {"1990-01-02"}, "I agree": {"on"}})
	if p.status != 303 || !strings.HasSuffix(p.header.Get("Location"), "/alice/gated") {
		t.Fatalf("ask: %d %s %s", p.status, p.header.Get("Location"), p.body)
	}
	if p := bob.get("/alice/gated"); !strings.Contains(p.body, `data-gate-status="pending"`) {
		t.Errorf("after asking, no pending status")
	}
	if p := bob.get("/alice/gated/blob/main/a.txt"); p.status != 403 {
		t.Errorf("pending: blob = %d", p.status)
	}

	// The owners' page lists the request with its answers; others get none.
	if p := bob.get("/alice/gated/access-requests"); p.status == 200 {
		t.Errorf("bob sees the requests page")
	}
	if p := alice.get("/alice/gated/settings"); !strings.Contains(p.body, `href="/alice/gated/access-requests"`) {
		t.Errorf("settings lack the link to access requests")
	}
	p = alice.get("/alice/gated/access-requests")
	for _, w := range []string{`data-request="bob"`, "ACME", "FR", "business", `data-access-handle="accepted"`, `data-access-handle="rejected"`} {
		if !strings.Contains(p.body, w) {
			t.Errorf("requests page lacks %q", w)
		}
	}
	// Decisions go through the API with the session, as the page's buttons do.
	if p := alice.do("POST", "/api/models/alice/gated/user-access-request/handle", "application/json",
		[]byte(`{"user":"bob","status":"rejected","rejectionReason":"Not now"}`)); p.status != 200 {
		t.Fatalf("reject: %d %s", p.status, p.body)
	}
	if p := bob.get("/alice/gated"); !strings.Contains(p.body, `data-gate-status="rejected"`) || !strings.Contains(p.body, "Not now") {
		t.Errorf("after rejection, no rejected status with its reason")
	}
	if p := alice.get("/alice/gated/access-requests?status=rejected"); !strings.Contains(p.body, `data-request="bob"`) {
		t.Errorf("rejected list lacks bob")
	}
	if p := alice.do("POST", "/api/models/alice/gated/user-access-request/handle", "application/json",
		[]byte(`{"user":"bob","status":"accepted"}`)); p.status != 200 {
		t.Fatalf("accept: %d %s", p.status, p.body)
	}
	if p := bob.get("/alice/gated"); strings.Contains(p.body, "data-gate") {
		t.Errorf("accepted user still sees the gate")
	}
	if p := bob.get("/alice/gated/blob/main/a.txt"); p.status != 200 || !strings.Contains(p.body, "secret") {
		t.Errorf("accepted: blob = %d", p.status)
	}
}
