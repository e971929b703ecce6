package web

import (
	"strings"
	"testing"
)

// apply rebuilds both sides from a diff, which must give back a and b.
func apply(lines []diffLine) (a, b []string) {
	for _, l := range lines {
		if l.Kind != '+' {
			a = append(a, l.Text)
		}
		if l.Kind != '-' {
			b = append(b, l.Text)
		}
	}
	return a, b
}

func TestLineDiff(t *testing.T) {
	tests := []struct {
		name          string
		a, b          string
		adds, removes int
	}{
		{"empty", "", "", 0, 0},
		{"added file", "", "x\ny\n", 2, 0},
		{"removed file", "x\ny\n", "", 0, 2},
		{"same", "a\nb\nc\n", "a\nb\nc\n", 0, 0},
		{"change in middle", "a\nb\nc\n", "a\nB\nc\n", 1, 1},
		{"insert at start", "b\nc\n", "a\nb\nc\n", 1, 0},
		{"append", "a\n", "a\nb\n", 1, 0},
		{"swap", "a\nb\n", "b\na\n", 1, 1},
		{"classic", "a\nb\nc\na\nb\nb\na\n", "c\nb\na\nb\na\nc\n", 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := splitLines(tc.a), splitLines(tc.b)
			d := lineDiff(a, b)
			gotA, gotB := apply(d)
			if strings.Join(gotA, "\n") != strings.Join(a, "\n") || strings.Join(gotB, "\n") != strings.Join(b, "\n") {
				t.Fatalf("diff does not rebuild its inputs: %+v", d)
			}
			adds, removes := 0, 0
			for _, l := range d {
				switch l.Kind {
				case '+':
					adds++
				case '-':
					removes++
				}
			}
			if adds != tc.adds || removes != tc.removes {
				t.Errorf("+%d -%d, want +%d -%d (the shortest edit)", adds, removes, tc.adds, tc.removes)
			}
		})
	}
}

func TestHunks(t *testing.T) {
	var a, b []string
	for i := range 40 {
		line := strings.Repeat("x", i%7) + string(rune('a'+i%26))
		a = append(a, line)
		b = append(b, line)
	}
	b[5] = "changed 5"
	b[8] = "changed 8"   // within 2×context of line 5: same hunk
	b[30] = "changed 30" // far away: its own hunk
	hs := hunks(lineDiff(a, b))
	if len(hs) != 2 {
		t.Fatalf("%d hunks, want 2: %+v", len(hs), hs)
	}
	if h := hs[0]; h.OldStart != 3 || h.NewStart != 3 || h.OldLines != 10 || h.NewLines != 10 {
		t.Errorf("first hunk @@ -%d,%d +%d,%d @@, want -3,10 +3,10", h.OldStart, h.OldLines, h.NewStart, h.NewLines)
	}
	if h := hs[1]; h.OldStart != 28 || h.OldLines != 7 {
		t.Errorf("second hunk @@ -%d,%d, want -28,7", h.OldStart, h.OldLines)
	}
}
