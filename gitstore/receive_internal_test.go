package gitstore

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestReadCommands(t *testing.T) {
	old := strings.Repeat("a", 40)
	zero := strings.Repeat("0", 40)
	next := strings.Repeat("b", 40)
	tests := []struct {
		name    string
		body    string
		want    []RefUpdate
		wantErr bool
	}{
		{
			name: "two commands with capabilities, then the pack",
			body: pktLine(old+" "+next+" refs/pr/1\x00report-status side-band-64k\n") + pktLine(zero+" "+next+" refs/heads/x\n") + "0000PACK...",
			want: []RefUpdate{{old, next, "refs/pr/1"}, {zero, next, "refs/heads/x"}},
		},
		{name: "shallow lines are skipped", body: pktLine("shallow "+old) + pktLine(old+" "+zero+" refs/pr/2") + "0000", want: []RefUpdate{{old, zero, "refs/pr/2"}}},
		{name: "a probe: just a flush", body: "0000"},
		{name: "no flush", body: pktLine(old + " " + next + " refs/pr/1\n"), wantErr: true},
		{name: "bad length", body: "zz12hello", wantErr: true},
		{name: "not a command", body: pktLine("hello\n") + "0000", wantErr: true},
		{name: "length under 4", body: "0002", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.NewReader(tt.body)
			got, read, err := readCommands(body)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("readCommands = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("readCommands = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("update %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
			// git must still get the whole request, byte for byte.
			rest, _ := io.ReadAll(io.MultiReader(bytes.NewReader(read), body))
			if string(rest) != tt.body {
				t.Errorf("replayed body = %q, want %q", rest, tt.body)
			}
		})
	}
	if u := (RefUpdate{Old: zero, New: next}); !u.Creates() || u.Deletes() {
		t.Errorf("%v: Creates %v Deletes %v", u, u.Creates(), u.Deletes())
	}
	if u := (RefUpdate{Old: old, New: zero}); u.Creates() || !u.Deletes() {
		t.Errorf("%v: Creates %v Deletes %v", u, u.Creates(), u.Deletes())
	}
}
