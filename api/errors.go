package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/hubhttp"
)

// writeError answers with the Hub's error shape (hubhttp.WriteError).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	hubhttp.WriteError(s.log, w, r, err)
}

// writeJSON answers with v as JSON, in one write with a Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) { hubhttp.WriteJSON(w, status, v) }

// writeJSONBytes answers with an already encoded JSON body.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	hubhttp.WriteJSONBytes(w, status, b)
}

// marshalJSON encodes v without HTML escaping, newline-terminated.
func marshalJSON(v any) ([]byte, error) { return hubhttp.MarshalJSON(v) }

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func errInvalid(format string, args ...any) error {
	return haven.Errorf(haven.EInvalid, format, args...)
}

func errNotFound(format string, args ...any) error {
	return haven.Errorf(haven.ENotFound, format, args...)
}
