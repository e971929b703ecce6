package runlog

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogFileReplayAndFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run-1.log")
	l, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Mask("hunter2")
	l.Write([]byte("first line\nsecond with hunter2 inside\npart"))

	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Follow(context.Background(), true, nil, func(ln Line) error {
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
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if tail := again.Tail(2); strings.Join(tail, "|") != "windows|unfinished" {
		t.Fatalf("tail = %q", tail)
	}
	var all []string
	again.Follow(context.Background(), true, nil, func(ln Line) error { all = append(all, ln.Text); return nil })
	if strings.Join(all, "|") != strings.Join(want, "|") {
		t.Fatalf("replay after reopen = %q", all)
	}
}

func TestAppendKeepsEarlierLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.log")
	l, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("before\n"))
	l.Close()
	l, err = Append(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("after\n"))
	l.Close()
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(again.Tail(10), "|"); got != "before|after" {
		t.Fatalf("lines = %q", got)
	}
}
