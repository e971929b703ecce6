// Package hubhttp writes answers in the Hub's HTTP shape (errors with
// X-Error-Code and X-Error-Message, JSON bodies) and carries the caller of a
// request in its context, for every package that serves part of the API.
package hubhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

type actorKey struct{}

// WithActor returns ctx carrying the caller's identity.
func WithActor(ctx context.Context, a *auth.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// requestState is what the context of a request being served carries from
// its first middleware on: its id, and the caller once it is known. One
// value for both spares a copy of the request when the caller is found.
type requestState struct {
	id    string
	actor *auth.Actor
}

type requestKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves, the
// X-Request-Id of its answer, so that what is logged while serving it can
// name it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestKey{}, &requestState{id: id})
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	if st, ok := ctx.Value(requestKey{}).(*requestState); ok {
		return st.id
	}
	return ""
}

// SetActor makes a the caller of r. When r's context came from
// WithRequestID the caller is recorded there, in place, and r is returned
// as is; otherwise r is copied with a context from WithActor.
func SetActor(r *http.Request, a *auth.Actor) *http.Request {
	if st, ok := r.Context().Value(requestKey{}).(*requestState); ok {
		st.actor = a
		return r
	}
	return r.WithContext(WithActor(r.Context(), a))
}

// HeaderValue is h.Get(key) for a key already in canonical form, without
// canonicalising it again: for the headers read on every request.
func HeaderValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Actor returns the caller stored in the request's context; it is never nil
// (anonymous when none was stored). One given by WithActor wins over the
// request's own from SetActor.
func Actor(r *http.Request) *auth.Actor {
	ctx := r.Context()
	if a, ok := ctx.Value(actorKey{}).(*auth.Actor); ok {
		return a
	}
	if st, ok := ctx.Value(requestKey{}).(*requestState); ok && st.actor != nil {
		return st.actor
	}
	return &auth.Actor{}
}

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
	haven.EUnsupported:      http.StatusNotImplemented,
}

// Status is the HTTP status the Hub gives for err.
func Status(err error) int {
	if s, ok := statusOf[haven.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// WriteError answers with the Hub's error shape: status, X-Error-Code (for
// Hub codes), X-Error-Message and a JSON body {"error": message}. Hidden and
// missing repositories answer 401 to anonymous callers and 404 to others, as
// the Hub does. Internal errors are logged to log (slog.Default when nil)
// and their details never reach the caller.
func WriteError(log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	code := haven.ErrorCode(err)
	msg := haven.ErrorMessage(err)
	status := Status(err)
	if code == haven.EInternal {
		if log == nil {
			log = slog.Default()
		}
		// The logger adds the request id from the context (cmd/haven's
		// handler); a request served without one names its answer's.
		args := []any{"method", r.Method, "path", r.URL.Path, "err", err}
		if RequestID(r.Context()) == "" {
			args = append(args, "request_id", w.Header().Get("X-Request-Id"))
		}
		log.ErrorContext(r.Context(), "internal error", args...)
	}
	if (code == haven.ERepoNotFound || code == haven.EGatedRepo) && Actor(r).Anonymous() {
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

// WriteJSON answers with v as JSON, in one write with a Content-Length.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := MarshalJSON(v)
	if err != nil {
		WriteUnencodable(w)
		return
	}
	WriteJSONBytes(w, status, b)
}

// WriteUnencodable answers that the response could not be encoded, as
// WriteJSON does for a value that encoding/json refuses (a NaN in a card).
func WriteUnencodable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	io.WriteString(w, `{"error":"Internal Error - could not encode the response"}`)
}

// WriteJSONBytes answers with an already encoded JSON body.
func WriteJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// jsonContentType is the Content-Type of JSON answers, one slice for all:
// header values are replaced or appended to, never written in place.
var jsonContentType = []string{"application/json; charset=utf-8"}

// MarshalJSON encodes v without HTML escaping, newline-terminated.
func MarshalJSON(v any) ([]byte, error) {
	b, err := appendJSON(make([]byte, 0, 512), v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// MaxJSONBody bounds the JSON bodies DecodeJSON reads.
const MaxJSONBody = 16 << 20

// DecodeJSON reads the request body as JSON into v, refusing bodies over
// MaxJSONBody; errors are the Hub's 400.
func DecodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return haven.Errorf(haven.EInvalid, "Missing JSON body")
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxJSONBody))
	if err := dec.Decode(v); err != nil {
		return haven.Errorf(haven.EInvalid, "Invalid JSON body: %v", err)
	}
	return nil
}

// Segments unescapes the segments of the request's path after the first
// skip ones (2 for /api/{first}/…). A segment may hold an escaped "/".
func Segments(r *http.Request, skip int) ([]string, error) {
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(parts) <= skip {
		return nil, nil
	}
	out := make([]string, 0, len(parts)-skip)
	for _, p := range parts[skip:] {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, haven.Errorf(haven.EInvalid, "Invalid URL path")
		}
		out = append(out, u)
	}
	return out, nil
}

// ServeContent answers GET and HEAD with Range support. An empty file
// answers a "bytes=0-0" probe with 200 and "Content-Range: bytes */0" so that
// the JS client can still read the size.
func ServeContent(w http.ResponseWriter, r *http.Request, content io.ReadSeeker, size int64) {
	if size == 0 && r.Header.Get("Range") != "" {
		w.Header().Set("Content-Range", "bytes */0")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Method == http.MethodHead && r.Header.Get("Range") == "" {
		// ServeContent omits nothing on HEAD, but set it explicitly: the
		// Python client requires Content-Length on the metadata HEAD.
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, content)
}
