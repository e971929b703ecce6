package web

import (
	"bytes"
	"html/template"
)

// RenderComment turns the Markdown of a discussion comment into HTML with the
// cards' sanitiser, so that a comment can neither run script nor break the
// page around it.
func RenderComment(text string) string {
	var md bytes.Buffer
	if err := markdown.Convert([]byte(text), &md); err != nil {
		return "<p>" + template.HTMLEscapeString(text) + "</p>"
	}
	return rebalance(cardPolicy.SanitizeBytes(md.Bytes()), "", "")
}
