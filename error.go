package haven

import (
	"errors"
	"fmt"
)

// Error codes. The ones named after Hub error codes travel to clients in the
// X-Error-Code header; the generic ones only choose the HTTP status.
const (
	ERepoNotFound     = "RepoNotFound"
	ERevisionNotFound = "RevisionNotFound"
	EEntryNotFound    = "EntryNotFound"
	EGatedRepo        = "GatedRepo"

	EInvalid       = "invalid"       // 400
	EUnauthorized  = "unauthorized"  // 401
	EForbidden     = "forbidden"     // 403
	ENotFound      = "not_found"     // 404
	EConflict      = "conflict"      // 409
	EPrecondition  = "precondition"  // 412
	ETooLarge      = "too_large"     // 413
	EUnprocessable = "unprocessable" // 422
	ERange         = "range"         // 416
	EInternal      = "internal"      // 500
	EUnavailable   = "unavailable"   // 503
	EUnsupported   = "unsupported"   // 501: a Hub feature this server does not offer
)

// Error is the application error: a code that decides the HTTP status and
// the X-Error-Code header, and a message safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EInternal
}

// ErrorMessage returns the message of err if it is an *Error; anything else
// is an internal error whose details must not leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal Error - We're working hard to fix this as soon as possible!"
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
