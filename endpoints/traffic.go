package endpoints

import (
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
)

// trafficEntry is one line of PUT …/traffic: a revision ("r2", "2" or a
// commit sha, or a prefix of one) and its percentage.
type trafficEntry struct {
	Revision string `json:"revision"`
	Commit   string `json:"commit"`
	Percent  int    `json:"percent"`
}

// revRef is what validation needs to know of a revision.
type revRef struct {
	Number int
	Commit string
	State  string
}

// revName is how the API names revision n.
func revName(n int) string { return "r" + strconv.Itoa(n) }

// findRevision resolves a reference to a revision number.
func findRevision(revs []revRef, ref string) (int, bool) {
	ref = strings.TrimSpace(ref)
	if n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(ref), "r")); err == nil {
		for _, r := range revs {
			if r.Number == n {
				return n, true
			}
		}
	}
	if len(ref) >= 7 {
		for i := len(revs) - 1; i >= 0; i-- { // the newest revision at that commit
			if strings.HasPrefix(revs[i].Commit, strings.ToLower(ref)) {
				return revs[i].Number, true
			}
		}
	}
	return 0, false
}

// validateTraffic turns a requested split into shares: each percentage in
// 0–100, their sum 100, each revision known, not failed and named once.
// Revisions at 0 % are left out.
func validateTraffic(entries []trafficEntry, revs []revRef) ([]meta.TrafficShare, error) {
	if len(entries) == 0 {
		return nil, haven.Errorf(haven.EInvalid, "The traffic split is empty")
	}
	var out []meta.TrafficShare
	seen := map[int]bool{}
	sum := 0
	for _, t := range entries {
		ref := t.Revision
		if ref == "" {
			ref = t.Commit
		}
		n, ok := findRevision(revs, ref)
		if !ok {
			return nil, haven.Errorf(haven.EInvalid, "Unknown revision %q", ref)
		}
		if seen[n] {
			return nil, haven.Errorf(haven.EInvalid, "Revision %s is named twice", revName(n))
		}
		seen[n] = true
		if t.Percent < 0 || t.Percent > 100 {
			return nil, haven.Errorf(haven.EInvalid, "A percentage must be between 0 and 100, not %d", t.Percent)
		}
		for _, r := range revs {
			if r.Number == n && r.State != revReady && t.Percent > 0 {
				return nil, haven.Errorf(haven.EInvalid, "Revision %s is not ready (%s): only revisions that started healthy take traffic", revName(n), r.State)
			}
		}
		sum += t.Percent
		if t.Percent > 0 {
			out = append(out, meta.TrafficShare{Revision: n, Percent: t.Percent})
		}
	}
	if sum != 100 {
		return nil, haven.Errorf(haven.EInvalid, "The percentages add up to %d, not 100", sum)
	}
	return out, nil
}

// pickRevision chooses the revision a request goes to: by the hash of key
// (the caller's token or session) so that a caller stays on one arm, or at
// random without one.
func pickRevision(split []meta.TrafficShare, key string) int {
	if len(split) == 0 {
		return 0
	}
	var point int
	if key != "" {
		h := fnv.New32a()
		h.Write([]byte(key))
		point = int(h.Sum32() % 100)
	} else {
		point = rand.IntN(100)
	}
	acc := 0
	for _, t := range split {
		acc += t.Percent
		if point < acc {
			return t.Revision
		}
	}
	return split[len(split)-1].Revision
}
