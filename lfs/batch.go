package lfs

// BatchRequest is the body of POST …/info/lfs/objects/batch.
type BatchRequest struct {
	Operation string       `json:"operation"` // "upload" or "download"
	Transfers []string     `json:"transfers,omitempty"`
	Ref       *Ref         `json:"ref,omitempty"`
	Objects   []ObjectSpec `json:"objects"`
	// HashAlgo is "sha256", or "sha_256" as the JS client spells it.
	HashAlgo string `json:"hash_algo,omitempty"`
}

// Ref names the revision a batch request is for.
type Ref struct {
	Name string `json:"name"`
}

// ObjectSpec identifies an object in a batch request.
type ObjectSpec struct {
	OID  string `json:"oid"`
	Size int64  `json:"size"`
}

// BatchResponse answers a batch request.
type BatchResponse struct {
	Transfer string         `json:"transfer"`
	Objects  []ObjectResult `json:"objects"`
	HashAlgo string         `json:"hash_algo,omitempty"`
}

// ObjectResult is the answer for one object. Without Actions and Error the
// client treats the object as already stored.
type ObjectResult struct {
	OID           string             `json:"oid"`
	Size          int64              `json:"size"`
	Authenticated bool               `json:"authenticated,omitempty"`
	Actions       map[string]*Action `json:"actions,omitempty"`
	Error         *ObjectError       `json:"error,omitempty"`
}

// Action tells the client where to upload, download or verify an object.
// Header is omitted when empty: the Python client breaks on "header": null.
type Action struct {
	Href      string            `json:"href"`
	Header    map[string]string `json:"header,omitempty"`
	ExpiresIn int               `json:"expires_in,omitempty"`
}

// ObjectError is a per-object failure; any of them aborts the client's upload.
type ObjectError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}
