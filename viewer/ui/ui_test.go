package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		path, wantType, wantBody, location string
		status                             int
	}{
		{"/ui/?dataset=a/b", "text/html", "viewer.js", "", 200},
		{"/ui/viewer.js", "javascript", "new URL(\"..\", location.href)", "", 200},
		{"/ui/viewer.css", "text/css", ".hist", "", 200},
		{"/ui?dataset=a/b", "", "", "ui/?dataset=a/b", 302},
		{"/ui/missing.js", "", "", "", 404},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		if !strings.Contains(rec.Header().Get("Content-Type"), tc.wantType) || !strings.Contains(rec.Body.String(), tc.wantBody) {
			t.Errorf("%s: %s %q", tc.path, rec.Header().Get("Content-Type"), rec.Body.String()[:min(80, rec.Body.Len())])
		}
		if rec.Header().Get("Location") != tc.location {
			t.Errorf("%s: Location %q, want %q", tc.path, rec.Header().Get("Location"), tc.location)
		}
	}
}
