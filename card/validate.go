package card

import (
	"fmt"
	"strings"

	"github.com/havenhub/haven"
)

// Issue is one error or warning about a card, as validate-yaml reports it.
type Issue struct {
	Message string `json:"message"`
}

// MissingMetadataWarning is the warning for a card without metadata.
const MissingMetadataWarning = "empty or missing yaml metadata in repo card"

// SpaceSDKs are the values a Space card's "sdk" may take.
var SpaceSDKs = []string{"gradio", "streamlit", "docker", "static"}

// Validate checks a README as POST /api/validate-yaml does. Errors make the
// Hub refuse the card; warnings are shown to the user. Both are non-nil.
func Validate(readme []byte, t haven.RepoType) (errors, warnings []Issue) {
	errors, warnings = []Issue{}, []Issue{}
	c, err := Parse(readme)
	if err != nil {
		return append(errors, Issue{haven.ErrorMessage(err)}), warnings
	}
	if len(c.Data) == 0 {
		return errors, append(warnings, Issue{MissingMetadataWarning})
	}
	fail := func(format string, args ...any) {
		errors = append(errors, Issue{fmt.Sprintf(format, args...)})
	}
	if v, ok := c.Data["license"]; ok {
		if !isStringOrStrings(v, true) {
			fail(`"license" must be a string or a list of strings`)
		} else {
			for _, l := range stringList(v) {
				if !Licenses[strings.ToLower(l)] {
					fail(`"license" %q is not a known license identifier: use one of the Hub's identifiers, or "other" with license_name and license_link`, l)
				}
			}
		}
	}
	for _, key := range []string{"tags", "datasets", "language"} {
		if v, ok := c.Data[key]; ok && !isStringOrStrings(v, false) {
			fail("%q must be a string or a list of strings", key)
		}
	}
	for _, key := range []string{"pipeline_tag", "library_name"} {
		if v, ok := c.Data[key]; ok {
			if _, isString := v.(string); !isString {
				fail("%q must be a string", key)
			}
		}
	}
	if v, ok := c.Data["model-index"]; ok {
		for _, msg := range checkModelIndex(v) {
			fail("%s", msg)
		}
	}
	if t == haven.Space {
		if v, ok := c.Data["sdk"]; ok && !contains(SpaceSDKs, v) {
			fail(`"sdk" must be one of gradio, streamlit, docker, static`)
		}
	}
	return errors, warnings
}

// isStringOrStrings accepts a string or a list of scalars; strict demands
// that every list item be a string.
func isStringOrStrings(v any, strict bool) bool {
	switch v := v.(type) {
	case string:
		return true
	case []any:
		for _, e := range v {
			if _, isString := e.(string); strict && !isString {
				return false
			}
			if _, isScalar := scalar(e); !isScalar {
				return false
			}
		}
		return true
	}
	return false
}

// checkModelIndex validates the evaluation results block: a list of objects,
// each with a "name" and a list of "results".
func checkModelIndex(v any) []string {
	list, ok := v.([]any)
	if !ok {
		return []string{fmt.Sprintf(`"model-index" must be a list, got %s`, kind(v))}
	}
	var msgs []string
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			msgs = append(msgs, fmt.Sprintf(`"model-index[%d]" must be an object, got %s`, i, kind(e)))
			continue
		}
		if name, ok := entry["name"].(string); !ok || name == "" {
			msgs = append(msgs, fmt.Sprintf(`"model-index[%d].name" must be a non-empty string`, i))
		}
		results, ok := entry["results"].([]any)
		if !ok {
			msgs = append(msgs, fmt.Sprintf(`"model-index[%d].results" must be a list`, i))
			continue
		}
		for j, r := range results {
			if _, ok := r.(map[string]any); !ok {
				msgs = append(msgs, fmt.Sprintf(`"model-index[%d].results[%d]" must be an object`, i, j))
			}
		}
	}
	return msgs
}

func contains(list []string, v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
