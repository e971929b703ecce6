package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogWriter(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out, 20*time.Millisecond)
	w.Write([]byte("one\n"))
	if out.String() != "" {
		t.Fatal("written at once; want it gathered")
	}
	deadline := time.Now().Add(2 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed on its interval: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	w2 := newLogWriter(&out, time.Hour)
	w2.Write([]byte("two\n"))
	w2.Close()
	if !strings.HasSuffix(out.String(), "two\n") {
		t.Fatalf("Close did not write the rest: %q", out.String())
	}
	w.Close()
}
