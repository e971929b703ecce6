package meta_test

import (
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestAuditSQLite(t *testing.T)   { testAudit(t, openSQLite(t)) }
func TestAuditPostgres(t *testing.T) { testAudit(t, postgresOpener(t)(t)) }

func testAudit(t *testing.T, s *meta.Store) {
	base := time.Date(2026, 6, 20, 9, 0, 0, 0, time.UTC)
	add := []haven.AuditEntry{
		{Action: haven.AuditSignIn, ActorID: 1, ActorName: "alice", Namespace: "alice", IP: "203.0.113.7"},
		{Action: haven.AuditRepoCreate, ActorID: 1, ActorName: "alice", TokenID: 9, Namespace: "Acme", TargetType: "repo",
			Target: "Acme/bert", Details: map[string]any{"type": "model", "private": true}},
		{Action: haven.AuditRepoSettings, ActorID: 1, ActorName: "alice", Namespace: "Acme", TargetType: "repo", Target: "Acme/bert"},
		{Action: haven.AuditOrgChangeRole, ActorType: haven.AuditActorTypeSystem, Namespace: "acme", TargetType: "user", Target: "bob"},
		{Action: haven.AuditRepoCreate, ActorID: 2, ActorName: "bob", Namespace: "bob", TargetType: "repo", Target: "bob/x"},
	}
	ids := map[string]string{}
	for i := range add {
		add[i].Time = base.Add(time.Duration(i) * time.Minute)
		mustNil(t, s.AddAuditEntry(ctx, &add[i]))
		if len(add[i].ID) != 24 {
			t.Fatalf("id %q", add[i].ID)
		}
		ids[add[i].Action+add[i].Target] = add[i].ID
	}
	tests := []struct {
		name string
		f    haven.AuditFilter
		want []string // targets, newest first
	}{
		{"namespace any case", haven.AuditFilter{Namespace: "ACME"}, []string{"bob", "Acme/bert", "Acme/bert"}},
		{"action", haven.AuditFilter{Namespace: "acme", Action: haven.AuditRepoCreate}, []string{"Acme/bert"}},
		{"scope", haven.AuditFilter{Namespace: "acme", Action: "repo"}, []string{"Acme/bert", "Acme/bert"}},
		{"scope is not a prefix of words", haven.AuditFilter{Namespace: "acme", Action: "rep"}, nil},
		{"from", haven.AuditFilter{Namespace: "acme", From: base.Add(2 * time.Minute)}, []string{"bob", "Acme/bert"}},
		{"to", haven.AuditFilter{Namespace: "acme", To: base.Add(time.Minute)}, []string{"Acme/bert"}},
		{"limit", haven.AuditFilter{Namespace: "acme", Limit: 1}, []string{"bob"}},
		{"cursor", haven.AuditFilter{Namespace: "acme", Before: ids[haven.AuditOrgChangeRole+"bob"], Limit: 1}, []string{"Acme/bert"}},
		{"actor", haven.AuditFilter{ActorID: 1}, []string{"Acme/bert", "Acme/bert", ""}},
		{"actor in namespace", haven.AuditFilter{ActorID: 2, Namespace: "acme"}, nil},
		{"no namespace nor actor", haven.AuditFilter{}, nil},
		{"exclude", haven.AuditFilter{Namespace: "acme", Exclude: []string{haven.AuditOrgChangeRole, haven.AuditRepoSettings}},
			[]string{"Acme/bert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.AuditEntries(ctx, tt.f)
			mustNil(t, err)
			var targets []string
			for _, e := range got {
				targets = append(targets, e.Target)
			}
			if len(targets) != len(tt.want) {
				t.Fatalf("got %q, want %q", targets, tt.want)
			}
			for i := range targets {
				if targets[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", targets, tt.want)
				}
			}
		})
	}
	got, err := s.AuditEntries(ctx, haven.AuditFilter{Namespace: "acme", Action: haven.AuditRepoCreate})
	mustNil(t, err)
	e := got[0]
	isUTC(t, "Time", e.Time)
	if !e.Time.Equal(base.Add(time.Minute)) || e.ActorName != "alice" || e.ActorType != "user" || e.TokenID != 9 ||
		e.Namespace != "Acme" || e.TargetType != "repo" || e.Details["private"] != true || e.Details["type"] != "model" {
		t.Fatalf("entry %+v", e)
	}
	sys, err := s.AuditEntries(ctx, haven.AuditFilter{Namespace: "acme", Action: haven.AuditOrgChangeRole})
	mustNil(t, err)
	if sys[0].ActorType != haven.AuditActorTypeSystem || sys[0].Details != nil {
		t.Fatalf("system entry %+v", sys[0])
	}
}
