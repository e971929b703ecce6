package casapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/havenhub/haven"
)

// TokenTTL is how long a CAS token lasts; clients refresh it through the
// token endpoint shortly before it expires.
const TokenTTL = time.Hour

// Claims is what a CAS token grants: write or read access, for one
// repository or one bucket.
type Claims struct {
	Repo   int64 `json:"r"`
	Bucket int64 `json:"b,omitempty"`
	Write  bool  `json:"w"`
	Exp    int64 `json:"e"`
}

// Token returns the CAS token for c, signed under secret, the server's
// secret: the Hub API and the buckets hand these out, the CAS checks them.
func Token(secret []byte, c Claims) string {
	return "xet_" + signClaims(secret, "xet-token", c)
}

// signClaims encodes v as base64url JSON followed by "." and its HMAC
// under secret for purpose, which keeps one kind of signed value from
// passing for another.
func signClaims(secret []byte, purpose string, v any) string {
	js, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(js)
	return payload + "." + claimsMAC(secret, purpose, payload)
}

// readClaims checks a value made by signClaims for purpose and decodes it
// into v; it reports false for a bad signature or encoding.
func readClaims(secret []byte, purpose, signed string, v any) bool {
	payload, sig, ok := strings.Cut(signed, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(claimsMAC(secret, purpose, payload))) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	return err == nil && json.Unmarshal(raw, v) == nil
}

func claimsMAC(secret []byte, purpose, payload string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose + "\n" + payload))
	return hex.EncodeToString(m.Sum(nil))
}

// actor checks the CAS token of a request; write requires a write token.
func (s *Server) actor(r *http.Request, write bool) (*Claims, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, haven.Errorf(haven.EUnauthorized, "A Xet access token is required: get one from the xet-read-token or xet-write-token endpoint")
	}
	tok, ok = strings.CutPrefix(strings.TrimSpace(tok), "xet_")
	var c Claims
	if !ok || !readClaims(s.secret, "xet-token", tok, &c) {
		return nil, haven.Errorf(haven.EUnauthorized, "Invalid Xet access token")
	}
	if time.Now().Unix() > c.Exp {
		return nil, haven.Errorf(haven.EUnauthorized, "Xet access token expired; refresh it")
	}
	if write && !c.Write {
		return nil, haven.Errorf(haven.EForbidden, "This Xet token is read-only; request one from xet-write-token")
	}
	return &c, nil
}
