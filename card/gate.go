package card

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/havenhub/haven"
)

// GateForm is the access-request form of a gated repository, read from the
// card's extra_gated_* keys.
type GateForm struct {
	Heading     string // extra_gated_heading
	Prompt      string // extra_gated_prompt (Markdown)
	Description string // extra_gated_description
	Button      string // extra_gated_button_content
	Fields      []GateField
}

// GateField is one field of the form: extra_gated_fields maps a label to a
// type name or to {type, options}.
type GateField struct {
	Label   string
	Type    string // text, checkbox, date_picker, country or select
	Options []GateOption
}

// GateOption is a choice of a select field; a plain string is both label
// and value.
type GateOption struct {
	Label string
	Value string
}

// maxAnswer bounds each answer, so that a request cannot store a book.
const maxAnswer = 1000

// ParseGateForm reads the form from card metadata. Fields come in label
// order; OrderFields restores the card's own order from the README.
func ParseGateForm(data map[string]any) *GateForm {
	f := &GateForm{
		Heading:     stringField(data, "extra_gated_heading"),
		Prompt:      stringField(data, "extra_gated_prompt"),
		Description: stringField(data, "extra_gated_description"),
		Button:      stringField(data, "extra_gated_button_content"),
	}
	fields, _ := data["extra_gated_fields"].(map[string]any)
	for label, v := range fields {
		field := GateField{Label: label, Type: "text"}
		switch v := v.(type) {
		case string:
			field.Type = v
		case map[string]any:
			if t, ok := v["type"].(string); ok {
				field.Type = t
			}
			opts, _ := v["options"].([]any)
			for _, o := range opts {
				switch o := o.(type) {
				case map[string]any:
					label, _ := scalar(o["label"])
					value, _ := scalar(o["value"])
					if value == "" {
						value = label
					}
					if label == "" {
						label = value
					}
					field.Options = append(field.Options, GateOption{Label: label, Value: value})
				default:
					if s, ok := scalar(o); ok {
						field.Options = append(field.Options, GateOption{Label: s, Value: s})
					}
				}
			}
		}
		switch field.Type {
		case "text", "checkbox", "date_picker", "country", "select":
		default:
			field.Type = "text" // an unknown type is asked as text rather than dropped
		}
		f.Fields = append(f.Fields, field)
	}
	sort.Slice(f.Fields, func(i, j int) bool { return f.Fields[i].Label < f.Fields[j].Label })
	return f
}

// OrderFields puts the fields in the order the README's front matter lists
// them, which decoding into a map loses. A README it cannot read leaves the
// order as it was.
func (f *GateForm) OrderFields(readme []byte) {
	front, _, _, found, err := split(readme)
	if err != nil || !found {
		return
	}
	var doc yaml.Node
	if yaml.Unmarshal(front, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	top := doc.Content[0].Content
	pos := map[string]int{}
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value == "extra_gated_fields" && top[i+1].Kind == yaml.MappingNode {
			for j := 0; j < len(top[i+1].Content); j += 2 {
				pos[top[i+1].Content[j].Value] = j
			}
		}
	}
	sort.SliceStable(f.Fields, func(i, j int) bool { return pos[f.Fields[i].Label] < pos[f.Fields[j].Label] })
}

var (
	countryCode = regexp.MustCompile(`^[A-Za-z]{2}$`)
	yes         = map[string]bool{"true": true, "on": true, "yes": true, "1": true, "checked": true}
)

// Answers checks a requester's answers against the form and returns them
// as stored: every field must be answered (a checkbox checked, as the Hub's
// form requires), a select with one of its values, a country as an ISO
// 3166-1 alpha-2 code, a date as YYYY-MM-DD. Answers to questions the form
// does not ask are dropped. get returns the raw answer to a label.
func (f *GateForm) Answers(get func(label string) (any, bool)) (map[string]any, error) {
	out := map[string]any{}
	for _, field := range f.Fields {
		raw, ok := get(field.Label)
		s := ""
		if ok {
			switch v := raw.(type) {
			case string:
				s = strings.TrimSpace(v)
			case bool:
				s = fmt.Sprint(v)
			case float64, int, int64:
				s = fmt.Sprint(v)
			}
		}
		if len(s) > maxAnswer {
			return nil, haven.Errorf(haven.EInvalid, "The answer to %q is too long (at most %d characters)", field.Label, maxAnswer)
		}
		switch field.Type {
		case "checkbox":
			if !yes[strings.ToLower(s)] {
				return nil, haven.Errorf(haven.EInvalid, "%q must be checked", field.Label)
			}
			out[field.Label] = true
			continue
		case "select":
			found := false
			for _, o := range field.Options {
				found = found || o.Value == s
			}
			if !found {
				return nil, haven.Errorf(haven.EInvalid, "%q must be one of the offered options", field.Label)
			}
		case "country":
			if !countryCode.MatchString(s) {
				return nil, haven.Errorf(haven.EInvalid, "%q must be a two-letter country code", field.Label)
			}
			s = strings.ToUpper(s)
		case "date_picker":
			if _, err := time.Parse(time.DateOnly, s); err != nil {
				return nil, haven.Errorf(haven.EInvalid, "%q must be a date (YYYY-MM-DD)", field.Label)
			}
		}
		if s == "" {
			return nil, haven.Errorf(haven.EInvalid, "%q is required", field.Label)
		}
		out[field.Label] = s
	}
	return out, nil
}
