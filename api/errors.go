package api

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
)

// hubCodes are the error codes that travel to clients in X-Error-Code; the
// official clients turn them into typed exceptions.
var hubCodes = map[string]bool{
	haven.ERepoNotFound:     true,
	haven.ERevisionNotFound: true,
	haven.EEntryNotFound:    true,
	haven.EGatedRepo:        true,
}

var statusOf = map[string]int{
	haven.ERepoNotFound:     http.StatusNotFound,
	haven.ERevisionNotFound: http.StatusNotFound,
	haven.EEntryNotFound:    http.StatusNotFound,
	haven.EGatedRepo:        http.StatusForbidden,
	haven.EInvalid:          http.StatusBadRequest,
	haven.EUnauthorized:     http.StatusUnauthorized,
	haven.EForbidden:        http.StatusForbidden,
	haven.ENotFound:         http.StatusNotFound,
	haven.EConflict:         http.StatusConflict,
	haven.EPrecondition:     http.StatusPreconditionFailed,
	haven.ETooLarge:         http.StatusRequestEntityTooLarge,
	haven.ERange:            http.StatusRequestedRangeNotSatisfiable,
	haven.EUnprocessable:    http.StatusUnprocessableEntity,
	haven.EInternal:         http.StatusInternalServerError,
	haven.EUnavailable:      http.StatusServiceUnavailable,
}

// writeError answers with the Hub's error shape: status, X-Error-Code (for
// Hub codes), X-Error-Message and a JSON body {"error": message}. Hidden and
// missing repositories answer 401 to anonymous callers and 404 to others, as
// the Hub does.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := haven.ErrorCode(err)
	msg := haven.ErrorMessage(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == haven.EInternal {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", w.Header().Get("X-Request-Id"))
	}
	if (code == haven.ERepoNotFound || code == haven.EGatedRepo) && actorOf(r).Anonymous() {
		status = http.StatusUnauthorized
	}
	h := w.Header()
	if hubCodes[code] {
		h.Set("X-Error-Code", code)
	}
	// Header values cannot carry newlines.
	h.Set("X-Error-Message", strings.ReplaceAll(msg, "\n", " "))
	h.Del("Content-Length")
	h.Del("ETag")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
}

// writeJSON answers with v as JSON, in one write with a Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"Internal Error - could not encode the response"}`)
		return
	}
	writeJSONBytes(w, status, b)
}

// writeJSONBytes answers with an already encoded JSON body.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// marshalJSON encodes v without HTML escaping, newline-terminated.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

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
