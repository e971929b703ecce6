package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// decodeSettings decodes a repository's settings and refuses fields it
// does not know, naming them: an ignored setting would look applied.
func decodeSettings(r *http.Request, v any) error {
	var raw map[string]json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		return err
	}
	known := map[string]bool{"private": true, "visibility": true, "gated": true, "discussionsDisabled": true, "xetEnabled": true}
	var unknown []string
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return errInvalid("Unsupported repository settings: %s (supported: private, visibility, gated, discussionsDisabled, xetEnabled)", strings.Join(unknown, ", "))
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, v); err != nil {
		return errInvalid("Invalid JSON body: %v", err)
	}
	return nil
}

// validLicenseID accepts the Hub's licence identifiers (mit, apache-2.0,
// cc-by-nc-sa-4.0, other, …), which go into a card's YAML unquoted.
func validLicenseID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '+') {
			return false
		}
	}
	return true
}
