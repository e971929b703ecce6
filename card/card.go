// Package card reads repository cards: it splits a README into its YAML
// metadata and Markdown body, derives the tags the hub indexes, and checks the
// metadata the way the Hub's validate-yaml endpoint does.
package card

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/havenhub/haven"
)

// MaxMetadataSize bounds the front matter Parse decodes.
const MaxMetadataSize = 1 << 20

// Card is a parsed README.
type Card struct {
	// Data is the front matter as JSON-compatible values: map[string]any,
	// []any, string, float64, int, bool and nil. It is nil when the README
	// has no front matter.
	Data map[string]any
	// Body is the Markdown after the front matter.
	Body []byte
}

// Parse splits a README into front matter and body. Front matter is a YAML
// mapping between a "---" line at the start (after blank lines, if any, as
// the clients allow) and the next "---" line.
// Invalid YAML, a top level that is not a mapping, or front matter over
// MaxMetadataSize give an EInvalid *haven.Error.
func Parse(readme []byte) (*Card, error) {
	front, body, lead, found, err := split(readme)
	if err != nil {
		return nil, err
	}
	if !found {
		return &Card{Body: readme}, nil
	}
	data, err := decode(front, lead)
	if err != nil {
		return nil, err
	}
	return &Card{Data: data, Body: body}, nil
}

// Body returns the Markdown of a card without its front matter block, even
// when the block does not parse, so that broken metadata is never rendered
// as text.
func Body(readme []byte) []byte {
	if _, body, _, found, err := split(readme); err == nil && found {
		return body
	}
	return readme
}

// split finds the front matter block, looking no further than
// MaxMetadataSize; lead is the number of lines before its opening "---".
func split(readme []byte) (front, body []byte, lead int, found bool, err error) {
	start := bytes.TrimLeft(readme, " \t\r\n")
	lead = bytes.Count(readme[:len(readme)-len(start)], []byte("\n"))
	var rest []byte
	switch {
	case bytes.HasPrefix(start, []byte("---\n")):
		rest = start[4:]
	case bytes.HasPrefix(start, []byte("---\r\n")):
		rest = start[5:]
	default:
		return nil, readme, 0, false, nil
	}
	for pos := 0; pos <= len(rest); {
		if pos > MaxMetadataSize {
			return nil, nil, 0, false, haven.Errorf(haven.EInvalid, "Invalid card metadata: larger than %d bytes", MaxMetadataSize)
		}
		end := bytes.IndexByte(rest[pos:], '\n')
		next := len(rest) + 1
		if end < 0 {
			end = len(rest)
		} else {
			end += pos
			next = end + 1
		}
		if string(bytes.TrimRight(rest[pos:end], " \t\r")) == "---" {
			return rest[:pos], rest[min(next, len(rest)):], lead, true, nil
		}
		pos = next
	}
	return nil, readme, 0, false, nil // an unclosed block is ordinary Markdown
}

// yamlLine finds the line numbers in yaml error messages, which count from
// the first line of the front matter.
var yamlLine = regexp.MustCompile(`line (\d+)`)

func decode(front []byte, lead int) (data map[string]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, haven.Errorf(haven.EInvalid, "Invalid YAML in card metadata: %v", r)
		}
	}()
	var v any
	// yaml refuses documents whose aliases expand far beyond their size,
	// which stops billion-laughs expansion.
	if err := yaml.Unmarshal(front, &v); err != nil {
		msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
			n, _ := strconv.Atoi(m[len("line "):])
			return "line " + strconv.Itoa(n+1+lead) // the opening "---" is line lead+1
		})
		return nil, haven.Errorf(haven.EInvalid, "Invalid YAML in card metadata: %s", msg)
	}
	switch top := jsonValue(v).(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return top, nil
	default:
		return nil, haven.Errorf(haven.EInvalid, "Invalid card metadata: expected a YAML mapping, got %s", kind(top))
	}
}

// jsonValue converts what yaml decodes into values encoding/json accepts.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[scalarString(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return scalarString(v) // JSON has no NaN or infinity
		}
		return v
	case int64:
		return int(v)
	case uint64:
		return float64(v)
	case time.Time:
		return scalarString(v)
	case nil, string, bool, int:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// scalarString spells a YAML scalar as text, for map keys and values JSON
// cannot carry.
func scalarString(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case float64:
		switch {
		case math.IsNaN(v):
			return ".nan"
		case math.IsInf(v, 1):
			return ".inf"
		case math.IsInf(v, -1):
			return "-.inf"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case time.Time:
		if v.Equal(time.Date(v.Year(), v.Month(), v.Day(), 0, 0, 0, 0, time.UTC)) {
			return v.Format(time.DateOnly)
		}
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// kind names the JSON type of v for messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
