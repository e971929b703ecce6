package profiles

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func TestIdenticon(t *testing.T) {
	a, b := Identicon("alice"), Identicon("alice")
	if !bytes.Equal(a, b) || !bytes.Equal(a, Identicon("ALICE")) {
		t.Error("the identicon of a name changes")
	}
	if bytes.Equal(a, Identicon("bob")) {
		t.Error("alice and bob have the same identicon")
	}
	s := string(a)
	if !strings.HasPrefix(s, "<svg") || strings.Contains(s, "script") || strings.Contains(s, "href") {
		t.Errorf("identicon: %s", s)
	}
}

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckAvatar(t *testing.T) {
	if mt, err := checkAvatar(encodePNG(t, 8, 8)); err != nil || mt != "image/png" {
		t.Errorf("a PNG: %q, %v", mt, err)
	}
	refused := map[string][]byte{
		"svg":       []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
		"html":      []byte(`<html><body>hi</body></html>`),
		"truncated": encodePNG(t, 8, 8)[:30],
		"huge":      encodePNG(t, MaxAvatarSide+1, 1),
		"too large": append(encodePNG(t, 1, 1), make([]byte, MaxAvatarSize)...),
	}
	for name, b := range refused {
		if _, err := checkAvatar(b); !haven.IsCode(err, haven.EInvalid) {
			t.Errorf("%s: %v, want EInvalid", name, err)
		}
	}
}

func TestCheckWebsite(t *testing.T) {
	for in, want := range map[string]string{"": "", " https://a.example/x ": "https://a.example/x", "http://b.example": "http://b.example"} {
		if got, err := CheckWebsite(in); err != nil || got != want {
			t.Errorf("CheckWebsite(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"javascript:alert(1)", "data:text/html,x", "//a.example", "a.example", "https://user:pw@a.example", "ftp://a.example"} {
		if _, err := CheckWebsite(in); err == nil {
			t.Errorf("CheckWebsite(%q) accepted", in)
		}
	}
}
