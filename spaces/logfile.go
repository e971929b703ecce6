package spaces

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

// logFile is the log of one build or run attempt: lines with their times,
// appended to a file (JSON Lines) so that every reader replays the same
// history from the start and then follows new lines until the log closes.
// Registered secret values never reach the file.
type logFile struct {
	mu      sync.Mutex
	f       *os.File
	path    string
	partial []byte   // an unfinished line
	lines   int      // lines written
	masks   []string // secret values to hide
	closed  bool
	grew    chan struct{} // closed and replaced when lines are added or the log closes
}

type logLine struct {
	Time time.Time `json:"t"`
	Text string    `json:"l"`
}

// createLog starts a new, empty log at path.
func createLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &logFile{f: f, path: path, grew: make(chan struct{})}, nil
}

// openLog opens a finished log, such as one a previous run of Haven left.
func openLog(path string) (*logFile, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	l := &logFile{path: path, closed: true, grew: make(chan struct{})}
	close(l.grew)
	return l, nil
}

// mask hides v in every line written after the call.
func (l *logFile) mask(v string) {
	if v == "" {
		return
	}
	l.mu.Lock()
	l.masks = append(l.masks, v)
	l.mu.Unlock()
}

// Write takes raw output and records it line by line.
func (l *logFile) Write(p []byte) (int, error) {
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

func (l *logFile) appendLine(buf *bytes.Buffer, t time.Time, text string) {
	for _, m := range l.masks {
		text = strings.ReplaceAll(text, m, "***")
	}
	b, _ := json.Marshal(logLine{t, text})
	buf.Write(b)
	buf.WriteByte('\n')
	l.lines++
}

func (l *logFile) flush(buf *bytes.Buffer) error {
	if buf.Len() == 0 {
		return nil
	}
	_, err := l.f.Write(buf.Bytes())
	close(l.grew)
	l.grew = make(chan struct{})
	return err
}

// Close writes an unfinished last line and ends the log; followers stop.
func (l *logFile) Close() error {
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

// follow calls fn for every line from the first; with wait it then waits
// for new lines until the log closes or ctx ends, calling idle whenever
// nothing came for a while (keep-alives).
func (l *logFile) follow(ctx context.Context, wait bool, idle func() error, fn func(logLine) error) error {
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
			var ln logLine
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

// tail returns the last n lines of the log.
func (l *logFile) tail(n int) []string {
	var out []string
	l.follow(context.Background(), false, nil, func(ln logLine) error {
		out = append(out, ln.Text)
		if len(out) > n {
			out = out[1:]
		}
		return nil
	})
	return out
}
