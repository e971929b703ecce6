package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWebhooksRefusePrivate checks that haven serve without
// --webhooks-allow-private refuses webhook URLs on loopback, private and
// link-local addresses (and accepts a public one without probing it).
func TestWebhooksRefusePrivate(t *testing.T) {
	s := startServer(t, serverOpts{})
	f := s.setupAccounts()
	tests := []struct {
		url  string
		want int
	}{
		{"http://127.0.0.1:9/webhooks/x", 400},
		{"http://localhost:8080/", 400},
		{"http://[::1]/", 400},
		{"http://10.0.0.1/", 400},
		{"http://169.254.169.254/latest/meta-data", 400},
		{"https://webhook.site/test", 200},
	}
	for _, tt := range tests {
		body, _ := json.Marshal(map[string]any{"url": tt.url, "domains": []string{"repo"},
			"watched": []map[string]string{{"type": "user", "name": "alice"}}})
		req, _ := http.NewRequest("POST", s.URL+"/api/settings/webhooks", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.Alice)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("create with %s = %d, want %d: %s", tt.url, res.StatusCode, tt.want, data)
		}
		if tt.want == 400 && !strings.Contains(res.Header.Get("X-Error-Message"), "--webhooks-allow-private") {
			t.Errorf("create with %s: message %q does not say how to allow it", tt.url, res.Header.Get("X-Error-Message"))
		}
	}
}
