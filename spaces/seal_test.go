package spaces

import (
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

func repoNamed(ns, name string) *haven.Repo {
	return &haven.Repo{Type: haven.Space, Namespace: ns, Name: name}
}

func TestSealer(t *testing.T) {
	s, _ := newSealer([]byte("deployment secret"))
	sealed := s.seal(7, "TOKEN", "hunter2")
	if strings.Contains(sealed, "hunter2") {
		t.Fatal("sealed value shows the secret")
	}
	if got, err := s.open(7, "TOKEN", sealed); err != nil || got != "hunter2" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open(8, "TOKEN", sealed); err == nil {
		t.Fatal("a sealed value moved to another Space opened")
	}
	other, _ := newSealer([]byte("another deployment"))
	if _, err := other.open(7, "TOKEN", sealed); err == nil {
		t.Fatal("a sealed value opened with another key")
	}
}
