package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
)

// Cursors are opaque to clients; today they carry an offset.
func cursorOffset(c string) int {
	if c == "" {
		return 0
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset)))
}

// setNextLink points to the next page: the same URL on the public base with
// every original query parameter and the new cursor, as both clients expect.
func (s *Server) setNextLink(w http.ResponseWriter, r *http.Request, offset int) {
	q := r.URL.Query()
	q.Set("cursor", encodeCursor(offset))
	u := s.publicURL(r.URL.EscapedPath()) + "?" + q.Encode()
	w.Header().Set("Link", "<"+u+`>; rel="next"`)
}
