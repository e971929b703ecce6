package replica

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven/meta"
)

func TestLoadID(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadID(dir)
	if err != nil || id == "" {
		t.Fatalf("LoadID = %q, %v", id, err)
	}
	again, err := LoadID(dir)
	if err != nil || again != id {
		t.Errorf("second LoadID = %q, %v; want %q", again, err, id)
	}
	if other, _ := LoadID(t.TempDir()); other == id {
		t.Errorf("two data folders share the id %q", id)
	}
}

func TestAdvertiseURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"[::1]:9000":     "http://[::1]:9000",
		"10.0.0.7:80":    "http://10.0.0.7:80",
	} {
		if got := AdvertiseURL(addr); got != want {
			t.Errorf("AdvertiseURL(%q) = %q, want %q", addr, got, want)
		}
	}
	if got := AdvertiseURL("0.0.0.0:8080"); strings.Contains(got, "0.0.0.0") || !strings.HasSuffix(got, ":8080") {
		t.Errorf("AdvertiseURL of a wildcard = %q", got)
	}
}

func TestPeerAndForward(t *testing.T) {
	m, err := meta.Open(context.Background(), filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var got *http.Request
	var body string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("X-Answer", "peer")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer peer.Close()

	a := New(Config{Meta: m, ID: "a", URL: peer.URL, Beat: 20 * time.Millisecond, Expiry: 200 * time.Millisecond})
	b := New(Config{Meta: m, ID: "b", URL: "http://b", Beat: 20 * time.Millisecond, Expiry: 200 * time.Millisecond})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	p, err := b.Peer(context.Background(), "a")
	if err != nil || p == nil || p.URL != peer.URL {
		t.Fatalf("Peer(a) = %+v, %v", p, err)
	}
	if p, err := b.Peer(context.Background(), "nobody"); p != nil || err != nil {
		t.Errorf("Peer(nobody) = %+v, %v", p, err)
	}

	req := httptest.NewRequest("POST", "http://hub.example/api/jobs/alice/x/logs?tail=3", strings.NewReader("payload"))
	req.Header.Set("Authorization", "Bearer hf_secret")
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	b.Forward(rec, req, p)
	if rec.Code != http.StatusTeapot || rec.Header().Get("X-Answer") != "peer" {
		t.Errorf("answer %d %v", rec.Code, rec.Header())
	}
	if got == nil || got.Method != "POST" || got.URL.Path != "/api/jobs/alice/x/logs" || got.URL.RawQuery != "tail=3" || got.Host != "hub.example" ||
		got.Header.Get("Authorization") != "Bearer hf_secret" || got.Header.Get(ForwardedHeader) != "b" ||
		got.Header.Get("X-Forwarded-Proto") != "https" || body != "payload" {
		t.Errorf("the peer got %+v (body %q)", got, body)
	}
	if !Forwarded(got) || Forwarded(req) {
		t.Error("Forwarded does not tell a passed request from the client's")
	}

	// A replica that stopped beating is no peer; one that does not answer
	// gets a 503 naming it.
	a.Close()
	time.Sleep(300 * time.Millisecond)
	if p, _ := b.Peer(context.Background(), "a"); p != nil {
		t.Errorf("a stopped, yet Peer(a) = %+v", p)
	}
	peer.Close()
	rec = httptest.NewRecorder()
	b.Forward(rec, httptest.NewRequest("GET", "http://hub.example/x", nil), &meta.Replica{ID: "a", URL: peer.URL})
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "replica a") {
		t.Errorf("unreachable peer: %d %q", rec.Code, rec.Body)
	}
}
