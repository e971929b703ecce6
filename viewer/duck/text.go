package duck

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxTextLine bounds one line of a text file, in bytes: a line is the only
// thing held in memory whole while a text file is prepared.
const MaxTextLine = 32 << 20

// ErrLineTooLong is returned for a text file with a line over MaxTextLine.
var ErrLineTooLong = errors.New("a line of the text file is longer than 32 MiB")

// WriteTextLines rewrites the text file src as JSON Lines at dst, one
// {"text": line} object a line, so that DuckDB reads it as a stream of rows
// instead of loading the whole file as one value. Lines follow the
// `datasets` text builder: "\n" ends a line, a "\r" before it is dropped, and
// a final line break does not start an empty row.
func WriteTextLines(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	err = textLines(in, w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

func textLines(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > MaxTextLine {
			return ErrLineTooLong
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && err != io.EOF {
			return err
		}
		if len(line) > 0 {
			s := line
			if s[len(s)-1] == '\n' {
				s = s[:len(s)-1]
			}
			if len(s) > 0 && s[len(s)-1] == '\r' {
				s = s[:len(s)-1]
			}
			if e := enc.Encode(struct {
				Text string `json:"text"`
			}{string(s)}); e != nil {
				return fmt.Errorf("writing text lines: %w", e)
			}
		}
		if err == io.EOF {
			return nil
		}
		line = line[:0]
	}
}
