package meta_test

import (
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

func TestEndpointsSQLite(t *testing.T)   { testEndpoints(t, openSQLite(t)) }
func TestEndpointsPostgres(t *testing.T) { testEndpoints(t, postgresOpener(t)(t)) }

func testEndpoints(t *testing.T, s *meta.Store) {
	e := &meta.Endpoint{Namespace: "alice", Name: "ep", Config: `{"a":1}`, State: "pending", CreatedBy: "alice", UpdatedBy: "alice"}
	mustNil(t, s.CreateEndpoint(ctx, e, &meta.EndpointRevision{Number: 1, Commit: "abc", Config: "{}", State: "pending"}))
	wantCode(t, s.CreateEndpoint(ctx, &meta.Endpoint{Namespace: "ALICE", Name: "EP", Config: "{}", State: "pending"},
		&meta.EndpointRevision{Number: 1, Commit: "abc", Config: "{}", State: "pending"}), haven.EConflict)
	got, err := s.EndpointByName(ctx, "alice", "EP")
	mustNil(t, err)
	if got.ID != e.ID || got.Stable != 1 || got.Config != `{"a":1}` || got.CreatedBy != "alice" {
		t.Fatalf("EndpointByName = %+v", got)
	}
	_, err = s.EndpointByName(ctx, "alice", "nope")
	wantCode(t, err, haven.ENotFound)

	mustNil(t, s.AddEndpointRevision(ctx, &meta.EndpointRevision{EndpointID: e.ID, Number: 2, Commit: "def", Config: "{}", State: "pending"}))
	mustNil(t, s.SetRevisionState(ctx, e.ID, 2, "ready", ""))
	mustNil(t, s.SetRevisionStats(ctx, e.ID, 2, `{"requests":3}`))
	revs, err := s.EndpointRevisions(ctx, e.ID)
	mustNil(t, err)
	if len(revs) != 2 || revs[1].Commit != "def" || revs[1].State != "ready" || revs[1].Stats != `{"requests":3}` {
		t.Fatalf("revisions = %+v %+v", revs[0], revs[1])
	}
	tr, err := s.EndpointTraffic(ctx, e.ID)
	mustNil(t, err)
	if len(tr) != 1 || tr[0] != (meta.TrafficShare{Revision: 1, Percent: 100}) {
		t.Fatalf("traffic = %+v", tr)
	}
	mustNil(t, s.SetEndpointTraffic(ctx, e.ID, []meta.TrafficShare{{Revision: 1, Percent: 30}, {Revision: 2, Percent: 70}}))
	tr, _ = s.EndpointTraffic(ctx, e.ID)
	if len(tr) != 2 || tr[1].Percent != 70 {
		t.Fatalf("traffic = %+v", tr)
	}
	got.State, got.Stable, got.UpdatedBy = "running", 2, "bob"
	mustNil(t, s.SaveEndpoint(ctx, got))
	mustNil(t, s.SetEndpointState(ctx, e.ID, "paused", "Paused"))
	list, err := s.Endpoints(ctx, "alice")
	mustNil(t, err)
	if len(list) != 1 || list[0].State != "paused" || list[0].Stable != 2 || list[0].UpdatedBy != "bob" {
		t.Fatalf("Endpoints = %+v", list)
	}
	all, _ := s.Endpoints(ctx, "")
	if len(all) != 1 {
		t.Fatalf("all endpoints = %d", len(all))
	}
	mustNil(t, s.DeleteEndpoint(ctx, e.ID))
	revs, _ = s.EndpointRevisions(ctx, e.ID)
	if len(revs) != 0 {
		t.Fatal("revisions left after delete")
	}
}
