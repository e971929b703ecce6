package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/viewer"
)

func pngBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func opaque(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	return img
}

func translucent(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.NRGBA{R: 10, A: 100})
	return img
}

func TestMediaCellsBecomeAssetURLs(t *testing.T) {
	s := &Server{cfg: Config{PublicURL: "https://hub.example/"}, assetKey: []byte("k")}
	wav := append([]byte("RIFF\x00\x00\x00\x00WAVEfmt "), make([]byte, 32)...)
	cell := func(b []byte) any {
		return map[string]any{"bytes": base64.StdEncoding.EncodeToString(b), "path": "x"}
	}
	feats := viewer.Features{
		{Name: "image", Type: json.RawMessage(`{"_type":"Image"}`)},
		{Name: "audio", Type: json.RawMessage(`{"sampling_rate":16000,"_type":"Audio"}`)},
		{Name: "text", Type: json.RawMessage(`{"dtype":"string","_type":"Value"}`)},
	}
	items := []rowItem{
		{RowIdx: 3, Row: viewer.Obj("image", cell(pngBytes(t, opaque(4, 2))), "audio", cell(wav), "text", "hi")},
		{RowIdx: 4, Row: viewer.Obj("image", cell(pngBytes(t, translucent(1, 5))), "audio", nil, "text", "x")},
		{RowIdx: 5, Row: viewer.Obj("image", cell([]byte("not an image")), "audio", cell([]byte("????")), "text", nil)},
	}
	req := &request{dataset: "ns/my set", repo: &haven.Repo{}, st: &viewer.State{SHA: "abc"}}
	c := &viewer.Config{Name: "default", Features: feats}
	s.mediaCells(req, c, &viewer.Split{Name: "train"}, items, "cached-assets")
	got, _ := json.Marshal(items)
	want := `[{"row_idx":3,"row":{"image":{"src":"https://hub.example/datasets-server/cached-assets/ns/my%20set/--/abc/--/default/train/3/image/image.jpg","height":2,"width":4},` +
		`"audio":[{"src":"https://hub.example/datasets-server/cached-assets/ns/my%20set/--/abc/--/default/train/3/audio/audio.wav","type":"audio/wav"}],"text":"hi"},"truncated_cells":null},` +
		`{"row_idx":4,"row":{"image":{"src":"https://hub.example/datasets-server/cached-assets/ns/my%20set/--/abc/--/default/train/4/image/image.png","height":5,"width":1},"audio":null,"text":"x"},"truncated_cells":null},` +
		`{"row_idx":5,"row":{"image":null,"audio":null,"text":null},"truncated_cells":null}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// A private dataset's URLs carry a signature that the asset handler
	// accepts for that path only, until it expires.
	req.repo.Private = true
	items = items[:1]
	items[0].Row[0].Value = cell(pngBytes(t, opaque(4, 2)))
	s.mediaCells(req, c, &viewer.Split{Name: "train"}, items, "assets")
	src := items[0].Row[0].Value.(viewer.Object)[0].Value.(string)
	u, err := url.Parse(src)
	if err != nil || u.Query().Get("signature") == "" {
		t.Fatalf("private asset URL %q is not signed", src)
	}
	path := strings.TrimPrefix(u.EscapedPath(), "/datasets-server")
	r := httptest.NewRequest("GET", path+"?"+u.RawQuery, nil)
	if !s.validSignature(r, path) {
		t.Error("the signature of a fresh URL is refused")
	}
	other := strings.Replace(path, "/3/", "/4/", 1)
	if s.validSignature(httptest.NewRequest("GET", other+"?"+u.RawQuery, nil), other) {
		t.Error("a signature is accepted for another row")
	}
	expired := httptest.NewRequest("GET", path+"?expires=1&signature="+u.Query().Get("signature"), nil)
	if s.validSignature(expired, path) {
		t.Error("an expired signature is accepted")
	}
}

func TestAssetPathRoundTrip(t *testing.T) {
	a := assetRef{"assets", "ns/name", "0123", "my config", "train/x", 12, "col umn", "image.jpg"}
	got, ok := parseAsset(a.path())
	if !ok || got != a {
		t.Fatalf("parseAsset(%q) = %+v, %v", a.path(), got, ok)
	}
	for _, bad := range []string{"/assets/ns/name/abc/--/c/s/1/col/image.jpg", "/assets/ns/name/--/abc/--/c/s/-1/col/image.jpg",
		"/assets/ns/name/--/abc/--/c/s/1/col", "/assets/ns/name/--/abc/--/c/s/1/col/x/image.jpg"} {
		if _, ok := parseAsset(bad); ok {
			t.Errorf("parseAsset(%q) accepted", bad)
		}
	}
}

func TestEncodeImage(t *testing.T) {
	src := pngBytes(t, opaque(3, 3))
	b, typ, err := encodeImage(src, "image.jpg")
	if err != nil || typ != "image/jpeg" {
		t.Fatalf("opaque PNG as JPEG: %s %v", typ, err)
	}
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil || format != "jpeg" || img.Bounds().Dx() != 3 {
		t.Fatalf("re-encoded image: %v %s", err, format)
	}
	if _, _, err := encodeImage(src, "image.png"); err == nil {
		t.Error("an opaque image is served under the PNG name")
	}
	alpha := pngBytes(t, translucent(2, 2))
	b, typ, err = encodeImage(alpha, "image.png")
	if err != nil || typ != "image/png" || !bytes.Equal(b, alpha) {
		t.Errorf("a PNG with transparency is not served as stored: %s %v", typ, err)
	}
}

func TestTruncateKeepsMediaCells(t *testing.T) {
	long := strings.Repeat("x", 500)
	var items []rowItem
	for i := range 12 {
		items = append(items, rowItem{RowIdx: int64(i), Row: viewer.Obj("image", viewer.Obj("src", long), "text", long), TruncatedCells: []string{}})
	}
	out, cut := truncateRows(items, 8000, map[string]bool{"image": true})
	if !cut {
		t.Fatal("nothing cut")
	}
	for _, it := range out {
		for _, c := range it.TruncatedCells {
			if c == "image" {
				t.Fatalf("row %d: media cell cut", it.RowIdx)
			}
		}
		if _, ok := it.Row[0].Value.(viewer.Object); !ok {
			t.Fatalf("row %d: media cell replaced by %v", it.RowIdx, it.Row[0].Value)
		}
	}
}
