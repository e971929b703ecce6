package api

import "testing"

func TestWithDuplicatedFrom(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"front matter", "---\ntitle: Demo\nsdk: gradio\n---\n# Demo\n", "---\ntitle: Demo\nsdk: gradio\nduplicated_from: alice/demo\n---\n# Demo\n"},
		{"replaces an earlier source", "---\nduplicated_from: carol/first\nsdk: gradio\n---\n", "---\nsdk: gradio\nduplicated_from: alice/demo\n---\n"},
		{"no front matter", "# Demo\n", "---\nduplicated_from: alice/demo\n---\n# Demo\n"},
		{"crlf", "---\r\nsdk: static\r\n---\r\nhi\r\n", "---\r\nsdk: static\r\nduplicated_from: alice/demo\n---\r\nhi\r\n"},
		{"unterminated front matter is left alone", "---\nsdk: gradio\n", "---\nsdk: gradio\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withDuplicatedFrom([]byte(tt.in), "alice/demo")); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
