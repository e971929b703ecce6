package card_test

import (
	"fmt"
	"testing"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/card"
)

const gatedReadme = `---
license: other
extra_gated_heading: Ask for it
extra_gated_prompt: Agree first.
extra_gated_button_content: Send
extra_gated_fields:
  Name: text
  Country: country
  Use:
    type: select
    options:
      - Research
      - label: Business use
        value: business
  Birthday: date_picker
  I agree: checkbox
---
# Model
`

func TestGateForm(t *testing.T) {
	c, err := card.Parse([]byte(gatedReadme))
	if err != nil {
		t.Fatal(err)
	}
	f := card.ParseGateForm(c.Data)
	f.OrderFields([]byte(gatedReadme))
	var labels []string
	for _, fl := range f.Fields {
		labels = append(labels, fl.Label+":"+fl.Type)
	}
	want := "[Name:text Country:country Use:select Birthday:date_picker I agree:checkbox]"
	if got := fmt.Sprint(labels); got != want || f.Heading != "Ask for it" || f.Button != "Send" || f.Prompt != "Agree first." {
		t.Fatalf("form = %s %+v", got, f)
	}
	if opts := f.Fields[2].Options; len(opts) != 2 || opts[1] != (card.GateOption{Label: "Business use", Value: "business"}) {
		t.Fatalf("options = %+v", opts)
	}

	good := map[string]any{"Name": " Ada ", "Country": "fr", "Use": "business", "Birthday": "1990-01-02", "I agree": "on", "Extra": "x"}
	tests := []struct {
		name   string
		change map[string]any
		ok     bool
	}{
		{"all answered", nil, true},
		{"checkbox as JSON", map[string]any{"I agree": true}, true},
		{"missing text", map[string]any{"Name": ""}, false},
		{"unchecked", map[string]any{"I agree": false}, false},
		{"unknown option", map[string]any{"Use": "Business use"}, false},
		{"bad country", map[string]any{"Country": "France"}, false},
		{"bad date", map[string]any{"Birthday": "02/01/1990"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := map[string]any{}
			for k, v := range good {
				in[k] = v
			}
			for k, v := range tt.change {
				in[k] = v
			}
			got, err := f.Answers(func(l string) (any, bool) { v, ok := in[l]; return v, ok })
			if !tt.ok {
				if !haven.IsCode(err, haven.EInvalid) {
					t.Fatalf("err = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got["Name"] != "Ada" || got["Country"] != "FR" || got["I agree"] != true || got["Extra"] != nil {
				t.Fatalf("answers = %v", got)
			}
		})
	}
}
