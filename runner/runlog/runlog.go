// Package runlog records a workload's output (a Space's build, a job's run)
// as timestamped lines in a file, and streams them back as the Hub's log
// events: every reader replays the whole history, then follows.
package runlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"time"
)

// File is the log of one build or run attempt: lines with their times,
// appended to a file (JSON Lines) so that every reader replays the same
// history from the start and then follows new lines until the log closes.
// Registered secret values never reach the file.
type File struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	partial []byte   // an unfinished line
	lines   int      // lines written
	masks   []string // secret values to hide
	closed  bool
	grew    chan struct{} // closed and replaced when lines are added or the log closes
}

// Line is one line of a log and when it was written.
type Line struct {
	Time time.Time `json:"t"`
	Text string    `json:"l"`
}

// Create starts a new, empty log at path.
func Create(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &File{f: f, path: path, grew: make(chan struct{})}, nil
}

// Append continues the log at path, or starts it when there is none (a
// job that resumes after a restart keeps what it logged before).
func Append(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &File{f: f, path: path, grew: make(chan struct{})}, nil
}

// Open opens a finished log, such as one a previous run of Haven left.
func Open(path string) (*File, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	l := &File{path: path, closed: true, grew: make(chan struct{})}
	close(l.grew)
	return l, nil
}

// Mask hides v in every line written after the call.
func (l *File) Mask(v string) {
	if v == "" {
		return
	}
	l.mu.Lock()
	l.masks = append(l.masks, v)
	l.mu.Unlock()
}

// Write takes raw output and records it line by line.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return len(p), nil
	}
	l.partial = append(l.partial, p...)
	now := time.Now().UTC()
	var buf bytes.Buffer
	for {
		i := bytes.IndexAny(l.partial, "\n\r")
		if i < 0 {
			break
		}
		l.appendLine(&buf, now, string(l.partial[:i]))
		if l.partial[i] == '\r' && i+1 < len(l.partial) && l.partial[i+1] == '\n' {
			i++
		}
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a line that never ends is cut
		l.appendLine(&buf, now, string(l.partial))
		l.partial = l.partial[:0]
	}
	return len(p), l.flush(&buf)
}

func (l *File) appendLine(buf *bytes.Buffer, t time.Time, text string) {
	for _, m := range l.masks {
		text = strings.ReplaceAll(text, m, "***")
	}
	b, _ := json.Marshal(Line{t, text})
	buf.Write(b)
	buf.WriteByte('\n')
	l.lines++
}

func (l *File) flush(buf *bytes.Buffer) error {
	if buf.Len() == 0 {
		return nil
	}
	_, err := l.f.Write(buf.Bytes())
	close(l.grew)
	l.grew = make(chan struct{})
	return err
}

// Close writes an unfinished last line and ends the log; followers stop.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	var buf bytes.Buffer
	if len(l.partial) > 0 {
		l.appendLine(&buf, time.Now().UTC(), string(l.partial))
		l.partial = nil
	}
	err := l.flush(&buf)
	l.closed = true
	close(l.grew)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Follow calls fn for every line from the first; with wait it then waits
// for new lines until the log closes or ctx ends, calling idle whenever
// nothing came for a while (keep-alives).
func (l *File) Follow(ctx context.Context, wait bool, idle func() error, fn func(Line) error) error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var pending []byte
	for {
		l.mu.Lock()
		grew, closed := l.grew, l.closed
		l.mu.Unlock()
		for {
			chunk, err := r.ReadBytes('\n')
			pending = append(pending, chunk...)
			if err != nil {
				break // a line still being written stays pending
			}
			var ln Line
			if json.Unmarshal(pending, &ln) == nil {
				if err := fn(ln); err != nil {
					return err
				}
			}
			pending = pending[:0]
		}
		if closed || !wait {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-grew:
		case <-time.After(15 * time.Second):
			if idle != nil {
				if err := idle(); err != nil {
					return err
				}
			}
		}
	}
}

// Tail returns the last n lines of the log.
func (l *File) Tail(n int) []string {
	var out []string
	l.Follow(context.Background(), false, nil, func(ln Line) error {
		out = append(out, ln.Text)
		if len(out) > n {
			out = out[1:]
		}
		return nil
	})
	return out
}
