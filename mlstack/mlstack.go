// Package mlstack is the Python machine-learning stack that Haven's own
// workloads run on — fine-tunes and inference engines — pinned exactly, so
// that every workload that needs it shares one environment, built once per
// machine.
package mlstack

import (
	_ "embed"
	"strings"
)

//go:embed requirements.txt
var requirements string

// File is the pinned requirements file itself.
func File() []byte { return []byte(requirements) }

// Requirements are the pins, one requirement per entry.
func Requirements() []string {
	var out []string
	for _, l := range strings.Split(requirements, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
