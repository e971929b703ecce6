package spaces

import (
	"net/http"
	"reflect"
	"testing"
)

func TestWithoutCookie(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"only the session", []string{"haven_session=abc"}, nil},
		{"the app's own kept", []string{"a=1; haven_session=abc; b=2"}, []string{"a=1; b=2"}},
		{"several lines", []string{"haven_session=abc", "c=3"}, []string{"c=3"}},
		{"a name that merely starts alike", []string{"haven_session_x=1"}, []string{"haven_session_x=1"}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.in {
				h.Add("Cookie", v)
			}
			withoutCookie(h, "haven_session")
			if got := h.Values("Cookie"); !reflect.DeepEqual(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
