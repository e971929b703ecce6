package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/blob"
	"github.com/havenhub/haven/internal/storetest"
	"github.com/havenhub/haven/lfs"
)

func TestParseRemote(t *testing.T) {
	tests := []struct {
		raw     string
		typ     haven.RepoType
		want    RemoteRef
		wantErr string
	}{
		{raw: "https://huggingface.co/openai-community/gpt2",
			want: RemoteRef{Base: "https://huggingface.co", Type: haven.Model, ID: haven.RepoID{Namespace: "openai-community", Name: "gpt2"}}},
		{raw: "https://huggingface.co/datasets/stanfordnlp/imdb.git",
			want: RemoteRef{Base: "https://huggingface.co", Type: haven.Dataset, ID: haven.RepoID{Namespace: "stanfordnlp", Name: "imdb"}}},
		{raw: "http://127.0.0.1:8080/spaces/team/app/",
			want: RemoteRef{Base: "http://127.0.0.1:8080", Type: haven.Space, ID: haven.RepoID{Namespace: "team", Name: "app"}}},
		{raw: "https://hub.example/mirror/api-root/models/ns/name",
			want: RemoteRef{Base: "https://hub.example/mirror/api-root", Type: haven.Model, ID: haven.RepoID{Namespace: "ns", Name: "name"}}},
		{raw: "https://hub.example/ns/name", typ: haven.Dataset,
			want: RemoteRef{Base: "https://hub.example", Type: haven.Dataset, ID: haven.RepoID{Namespace: "ns", Name: "name"}}},
		{raw: "https://hub.example/datasets/ns/name", typ: haven.Space, wantErr: "names a dataset"},
		{raw: "ftp://hub.example/ns/name", wantErr: "expected https://"},
		{raw: "https://hub.example/name", wantErr: "namespace/name"},
		{raw: "https://hub.example/ns/na..me", wantErr: "Invalid remote repository id"},
		{raw: "https://hub.example/ns/name?x=1", wantErr: "expected https://"},
	}
	for _, tt := range tests {
		got, err := ParseRemote(tt.raw, tt.typ)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRemote(%q) error = %v, want one mentioning %q", tt.raw, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRemote(%q) = %+v, %v; want %+v", tt.raw, got, err, tt.want)
		}
	}
}

func TestNextLink(t *testing.T) {
	tests := map[string]string{
		"": "",
		`<https://hub/api/models/a/b/tree/main?cursor=x>; rel="next"`:        "https://hub/api/models/a/b/tree/main?cursor=x",
		`<https://hub/prev>; rel="prev", <https://hub/next?c=2>; rel="next"`: "https://hub/next?c=2",
		`<https://hub/only-prev>; rel="prev"`:                                "",
	}
	for in, want := range tests {
		if got := nextLink(in); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRemoteChecks(t *testing.T) {
	s, err := New(Config{Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, base := range []string{"http://127.0.0.1:8080", "http://localhost", "http://10.1.2.3", "http://[::1]:9"} {
		if err := s.checkRemote(ctx, base); err == nil || !strings.Contains(err.Error(), "--mirror-allow-private") {
			t.Errorf("checkRemote(%s) = %v; want a refusal naming the flag", base, err)
		}
	}
	if err := s.checkRemote(ctx, "https://203.0.113.9"); err != nil {
		t.Errorf("a public address refused: %v", err)
	}
	// The HTTP client refuses private addresses at dial time too (a name
	// that resolves differently later).
	h := newHub("http://127.0.0.1:1", "", false)
	if _, err := h.repoInfo(ctx, haven.Model, haven.RepoID{Namespace: "a", Name: "b"}); err == nil || !strings.Contains(err.Error(), "refusing to connect") {
		t.Errorf("dial to loopback = %v; want a refusal", err)
	}
	for _, d := range []time.Duration{time.Second, MinInterval - time.Nanosecond} {
		if _, err := checkInterval(d); err == nil {
			t.Errorf("interval %s accepted", d)
		}
	}
	if d, err := checkInterval(0); err != nil || d != DefaultInterval {
		t.Errorf("checkInterval(0) = %s, %v", d, err)
	}
}

func TestTokenScope(t *testing.T) {
	s, err := New(Config{Secret: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	a := &haven.Mirror{RepoID: 1, Direction: haven.MirrorPull, Remote: "https://hub", RemoteID: haven.RepoID{Namespace: "a", Name: "b"}}
	b := *a
	b.RepoID = 2
	sealed := s.box.Seal(tokenScope(a), "hf_secret")
	if got, err := s.box.Open(tokenScope(a), sealed); err != nil || got != "hf_secret" {
		t.Fatalf("open own token = %q, %v", got, err)
	}
	// A sealed token copied to another mirror's row does not open there.
	if _, err := s.box.Open(tokenScope(&b), sealed); err == nil {
		t.Fatal("a token sealed for one mirror opened for another")
	}
}

// TestCorruptDownloadNotStored serves large files whose bytes do not match
// their SHA-256 (a source that corrupts them on the way): the sync fails
// naming the file and stores nothing; served right, the same file is
// stored.
func TestCorruptDownloadNotStored(t *testing.T) {
	st := storetest.Open(t)
	data := []byte(strings.Repeat("weights ", 4096))
	sum := sha256.Sum256(data)
	oid := hex.EncodeToString(sum[:])
	corrupt := true
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/info/lfs/objects/batch"):
			json.NewEncoder(w).Encode(lfs.BatchResponse{Transfer: "basic", Objects: []lfs.ObjectResult{{OID: oid, Size: int64(len(data)),
				Actions: map[string]*lfs.Action{"download": {Href: srv.URL + "/objects/" + oid}}}}})
		case r.URL.Path == "/objects/"+oid:
			b := append([]byte(nil), data...)
			if corrupt {
				b[100] ^= 1
			}
			w.Write(b)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s, err := New(Config{Meta: st.Meta, Git: st.Git, Blobs: st.Blobs, Secret: []byte(strings.Repeat("k", 32)),
		Has: func(ctx context.Context, o string) (bool, error) {
			_, err := st.Blobs.Stat(ctx, blob.LFSKey(o))
			return err == nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	m := &haven.Mirror{Remote: srv.URL, RemoteType: haven.Model, RemoteID: haven.RepoID{Namespace: "a", Name: "b"}}
	h := newHub(srv.URL, "", true)
	ptrs := []lfs.Pointer{{OID: oid, Size: int64(len(data))}}
	ctx := context.Background()
	if _, err := s.storeObjects(ctx, m, h, ptrs, quiet{}); err == nil || !strings.Contains(err.Error(), oid) {
		t.Fatalf("corrupt download: err = %v; want one naming the object", err)
	}
	if _, err := st.Blobs.Stat(ctx, blob.LFSKey(oid)); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a corrupt object was stored (stat: %v)", err)
	}
	corrupt = false
	if n, err := s.storeObjects(ctx, m, h, ptrs, quiet{}); err != nil || n != 1 {
		t.Fatalf("good download: %d, %v", n, err)
	}
	f, _, err := st.Blobs.Open(ctx, blob.LFSKey(oid))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != string(data) {
		t.Fatal("stored bytes differ")
	}
}
