package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logWriter gathers the server's log lines in memory and writes them out
// every interval (and on Close), so that a busy server makes one write
// call per interval instead of one per request: a line per request cost a
// quarter of repo-info throughput when each was its own write.
type logWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogWriter(w io.Writer, interval time.Duration) *logWriter {
	l := &logWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.Flush()
			case <-l.stop:
				l.Flush()
				return
			}
		}
	}()
	return l
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Flush writes out what was gathered.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Flush()
}

// Close writes out the rest and stops the flushing.
func (l *logWriter) Close() error {
	close(l.stop)
	<-l.done
	return nil
}
