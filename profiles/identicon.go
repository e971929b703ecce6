package profiles

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Identicon draws the avatar of a name without an uploaded one: a 5×5
// grid, mirrored left to right, of cells switched on by the bits of the
// SHA-256 of the lower-cased name, in a colour taken from the same hash.
// The same name always gives the same bytes, so the image caches well and
// needs no storage.
func Identicon(name string) []byte {
	sum := sha256.Sum256([]byte(strings.ToLower(name)))
	hue := (int(sum[29])<<8 | int(sum[30])) % 360
	sat := 45 + int(sum[31])%30
	var b bytes.Buffer
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 5 5" width="120" height="120" shape-rendering="crispEdges">`)
	fmt.Fprintf(&b, `<rect width="5" height="5" fill="hsl(%d,%d%%,94%%)"/>`, hue, sat)
	fmt.Fprintf(&b, `<g fill="hsl(%d,%d%%,48%%)">`, hue, sat)
	for row := 0; row < 5; row++ {
		for col := 0; col < 3; col++ {
			bit := row*3 + col
			if sum[bit/8]>>(bit%8)&1 == 0 {
				continue
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1"/>`, col, row)
			if col < 2 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="1" height="1"/>`, 4-col, row)
			}
		}
	}
	b.WriteString(`</g></svg>`)
	return b.Bytes()
}
