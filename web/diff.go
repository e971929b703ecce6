package web

import (
	"strings"
)

// diffLine is one line of a unified diff.
type diffLine struct {
	Kind     byte // ' ' context, '+' added, '-' removed
	Old, New int  // line numbers, 0 where the line does not exist
	Text     string
}

// hunk is a run of changes with the context around them.
type hunk struct {
	OldStart, OldLines, NewStart, NewLines int
	Lines                                  []diffLine
}

// maxDiffLines bounds the work of one file's diff: beyond it the commit
// page says that the file changed without showing how.
const maxDiffLines = 20000

// diffContext is how many unchanged lines surround each change.
const diffContext = 3

// splitLines splits text into lines without their newlines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

// lineDiff returns the edit script from a to b as diff lines, using the
// Myers algorithm (shortest edit script, O((N+M)·D) time).
func lineDiff(a, b []string) []diffLine {
	n, m := len(a), len(b)
	max := n + m
	if max == 0 {
		return nil
	}
	// v[k+off] is the furthest x reached on diagonal k; trace[d] is v as
	// it was before step d, which the walk back reads.
	off := max + 1
	v := make([]int, 2*max+3)
	var trace [][]int
found:
	for d := 0; d <= max; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[k-1+off] < v[k+1+off]) {
				x = v[k+1+off] // down: an insertion
			} else {
				x = v[k-1+off] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[k+off] = x
			if x >= n && y >= m {
				break found
			}
		}
	}
	// Walk back from (n, m) to (0, 0), collecting lines last first.
	var rev []diffLine
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		pv := trace[d]
		k := x - y
		pk := k - 1
		if k == -d || (k != d && pv[k-1+off] < pv[k+1+off]) {
			pk = k + 1
		}
		px := pv[pk+off]
		py := px - pk
		for x > px && y > py {
			x, y = x-1, y-1
			rev = append(rev, diffLine{Kind: ' ', Old: x + 1, New: y + 1, Text: a[x]})
		}
		if d == 0 {
			break
		}
		if x == px {
			rev = append(rev, diffLine{Kind: '+', New: py + 1, Text: b[py]})
		} else {
			rev = append(rev, diffLine{Kind: '-', Old: px + 1, Text: a[px]})
		}
		x, y = px, py
	}
	out := make([]diffLine, len(rev))
	for i, l := range rev {
		out[len(rev)-1-i] = l
	}
	return out
}

// hunks groups diff lines into hunks with diffContext lines of context.
func hunks(lines []diffLine) []hunk {
	var out []hunk
	i := 0
	for i < len(lines) {
		// Find the next change.
		for i < len(lines) && lines[i].Kind == ' ' {
			i++
		}
		if i == len(lines) {
			break
		}
		start := max(i-diffContext, 0)
		end := i
		// Extend while changes are closer than twice the context.
		for end < len(lines) {
			if lines[end].Kind != ' ' {
				end++
				continue
			}
			j := end
			for j < len(lines) && lines[j].Kind == ' ' {
				j++
			}
			if j == len(lines) || j-end > 2*diffContext {
				end = min(end+diffContext, len(lines))
				break
			}
			end = j
		}
		h := hunk{Lines: lines[start:end]}
		for _, l := range h.Lines {
			if l.Kind != '+' {
				if h.OldStart == 0 {
					h.OldStart = l.Old
				}
				h.OldLines++
			}
			if l.Kind != '-' {
				if h.NewStart == 0 {
					h.NewStart = l.New
				}
				h.NewLines++
			}
		}
		out = append(out, h)
		i = end
	}
	return out
}
