package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
)

// A package's plain "Not Found" for a Hub operation it does not route
// becomes 501; its own not-found answers pass through.
func TestUnsupportedWriter(t *testing.T) {
	s := &Server{}
	cases := []struct {
		path, message string
		status        int
	}{
		{"/api/organizations/acme/scim/v2/Users", "Not Found", 501},
		{"/api/organizations/acme/nonsense", "Not Found", 404},
		{"/api/settings/webhooks/123", "Webhook not found", 404},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", c.path, nil)
		rec := httptest.NewRecorder()
		w := &unsupportedWriter{ResponseWriter: rec, s: s, r: r}
		hubhttp.WriteError(nil, w, r, haven.Errorf(haven.ENotFound, "%s", c.message))
		if rec.Code != c.status {
			t.Errorf("%s %q: %d, want %d (%s)", c.path, c.message, rec.Code, c.status, rec.Body)
		}
		if c.status == http.StatusNotImplemented && rec.Body.String() != `{"error":"List SCIM users (GET /api/organizations/{name}/scim/v2/Users) is not supported by this server"}`+"\n" {
			t.Errorf("body %s", rec.Body)
		}
	}
}
