package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
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

// writeJSON answers 200 with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
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
