package spaces

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/havenhub/haven"
)

func repoNamed(ns, name string) *haven.Repo {
	return &haven.Repo{Type: haven.Space, Namespace: ns, Name: name}
}

func TestLogFileReplayAndFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run-1.log")
	l, err := createLog(path)
	if err != nil {
		t.Fatal(err)
	}
	l.mask("hunter2")
	l.Write([]byte("first line\nsecond with hunter2 inside\npart"))

	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.follow(context.Background(), true, nil, func(ln logLine) error {
			mu.Lock()
			got = append(got, ln.Text)
			mu.Unlock()
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond)
	l.Write([]byte("ial\r\nwindows\r\n"))
	l.Write([]byte("unfinished"))
	l.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when the log closed")
	}
	want := []string{"first line", "second with *** inside", "partial", "windows", "unfinished"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("followed %q, want %q", got, want)
	}
	// A second reader, and a reader of the file after a restart, see the same.
	again, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if tail := again.tail(2); strings.Join(tail, "|") != "windows|unfinished" {
		t.Fatalf("tail = %q", tail)
	}
	var all []string
	again.follow(context.Background(), true, nil, func(ln logLine) error { all = append(all, ln.Text); return nil })
	if strings.Join(all, "|") != strings.Join(want, "|") {
		t.Fatalf("replay after reopen = %q", all)
	}
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
