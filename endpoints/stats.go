package endpoints

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
)

// maxSamples is how many latencies a revision keeps (the most recent) for
// its percentiles and comparisons.
const maxSamples = 4096

// revStats are a revision's request statistics: counts, recent latencies
// and feedback scores. Safe for concurrent use.
type revStats struct {
	mu    sync.Mutex
	s     savedStats
	next  int // where the next latency goes once the sample is full
	dirty bool
}

// savedStats is how statistics are stored.
type savedStats struct {
	Requests    int64     `json:"requests"`
	Errors      int64     `json:"errors"`
	LatencyMs   []float64 `json:"latencyMs"`
	Feedback    int64     `json:"feedback"`
	FeedbackPos int64     `json:"feedbackPositive"`
	FeedbackSum float64   `json:"feedbackSum"`
}

func loadStats(raw string) *revStats {
	st := &revStats{}
	if raw != "" {
		json.Unmarshal([]byte(raw), &st.s)
		if len(st.s.LatencyMs) > maxSamples {
			st.s.LatencyMs = st.s.LatencyMs[len(st.s.LatencyMs)-maxSamples:]
		}
	}
	return st
}

// record counts one answered request.
func (st *revStats) record(ms float64, failed bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Requests++
	if failed {
		st.s.Errors++
	}
	if len(st.s.LatencyMs) < maxSamples {
		st.s.LatencyMs = append(st.s.LatencyMs, ms)
	} else {
		st.s.LatencyMs[st.next] = ms
		st.next = (st.next + 1) % maxSamples
	}
	st.dirty = true
}

// feedback records a score; scores above 0.5 count as positive (a thumbs
// up is 1, a thumbs down 0).
func (st *revStats) feedback(score float64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.s.Feedback++
	st.s.FeedbackSum += score
	if score > 0.5 {
		st.s.FeedbackPos++
	}
	st.dirty = true
}

// snapshot copies the statistics.
func (st *revStats) snapshot() savedStats {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	s.LatencyMs = slices.Clone(st.s.LatencyMs)
	return s
}

// save returns the statistics as JSON if they changed since the last save.
func (st *revStats) save() (string, bool) {
	st.mu.Lock()
	if !st.dirty {
		st.mu.Unlock()
		return "", false
	}
	st.dirty = false
	b, _ := json.Marshal(st.s)
	st.mu.Unlock()
	return string(b), true
}

// quantile returns the q-quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// summary is a revision's statistics as the endpoint object shows them.
func (s savedStats) summary() map[string]any {
	l := slices.Clone(s.LatencyMs)
	sort.Float64s(l)
	m := map[string]any{
		"requests":  s.Requests,
		"errors":    s.Errors,
		"errorRate": rate(s.Errors, s.Requests),
		"latencyMs": map[string]float64{"p50": round(quantile(l, .5)), "p95": round(quantile(l, .95)), "p99": round(quantile(l, .99))},
	}
	if s.Feedback > 0 {
		m["feedback"] = map[string]any{"count": s.Feedback, "positive": s.FeedbackPos, "mean": round(s.FeedbackSum / float64(s.Feedback))}
	}
	return m
}

func rate(x, n int64) float64 {
	if n == 0 {
		return 0
	}
	return round(float64(x) / float64(n))
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// twoProportionZ tests whether x1 of n1 and x2 of n2 are the same
// proportion: the z statistic and its two-sided p-value (1 when there is
// nothing to test).
func twoProportionZ(x1, n1, x2, n2 int64) (z, p float64) {
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 1
	}
	z = (p2 - p1) / se
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// mannWhitney compares two samples: U of b (the number of pairs in which b
// is larger, ties counting half), the z of its normal approximation with
// the tie correction (positive when b tends to be larger), and the
// two-sided p-value.
func mannWhitney(a, b []float64) (u, z, p float64) {
	n1, n2 := len(a), len(b)
	if n1 == 0 || n2 == 0 {
		return 0, 0, 1
	}
	type obs struct {
		v    float64
		ofB  bool
		rank float64
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range a {
		all = append(all, obs{v: v})
	}
	for _, v := range b {
		all = append(all, obs{v: v, ofB: true})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var ties float64 // Σ (t³ - t) over groups of ties
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		r := float64(i+j+1) / 2 // ranks i+1..j, averaged
		for k := i; k < j; k++ {
			all[k].rank = r
		}
		t := float64(j - i)
		ties += t*t*t - t
		i = j
	}
	var rb float64
	for _, o := range all {
		if o.ofB {
			rb += o.rank
		}
	}
	f1, f2 := float64(n1), float64(n2)
	u = rb - f2*(f2+1)/2
	mu := f1 * f2 / 2
	n := f1 + f2
	sigma := math.Sqrt(f1 * f2 / 12 * ((n + 1) - ties/(n*(n-1))))
	if sigma == 0 {
		return u, 0, 1
	}
	z = (u - mu) / sigma
	return u, z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// alpha is the significance level of the comparisons.
const alpha = 0.05

// comparison tests arm b against arm a: latency (Mann–Whitney U), error
// rate and positive feedback rate (two-proportion z-tests).
type comparison struct {
	A, B                    string
	PLatency, PErrors, PFbk float64
	Verdict                 string
}

func compare(aName string, a savedStats, bName string, b savedStats) comparison {
	c := comparison{A: aName, B: bName, PLatency: 1, PErrors: 1, PFbk: 1}
	var found []string
	if len(a.LatencyMs) >= 8 && len(b.LatencyMs) >= 8 {
		_, z, p := mannWhitney(a.LatencyMs, b.LatencyMs)
		c.PLatency = p
		if p < alpha {
			word := "slower"
			if z < 0 {
				word = "faster"
			}
			found = append(found, fmt.Sprintf("%s is %s than %s, p%s", bName, word, aName, pString(p)))
		}
	}
	if a.Requests >= 10 && b.Requests >= 10 {
		z, p := twoProportionZ(a.Errors, a.Requests, b.Errors, b.Requests)
		c.PErrors = p
		if p < alpha {
			word := "more"
			if z < 0 {
				word = "fewer"
			}
			found = append(found, fmt.Sprintf("%s has %s errors than %s (%.1f%% vs %.1f%%), p%s", bName, word, aName,
				100*rate(b.Errors, b.Requests), 100*rate(a.Errors, a.Requests), pString(p)))
		}
	}
	if a.Feedback >= 5 && b.Feedback >= 5 {
		z, p := twoProportionZ(a.FeedbackPos, a.Feedback, b.FeedbackPos, b.Feedback)
		c.PFbk = p
		if p < alpha {
			word := "better"
			if z < 0 {
				word = "worse"
			}
			found = append(found, fmt.Sprintf("%s gets %s feedback than %s, p%s", bName, word, aName, pString(p)))
		}
	}
	c.Verdict = "no significant difference"
	if len(found) > 0 {
		c.Verdict = strings.Join(found, "; ")
	}
	return c
}

func pString(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("=%.3f", p)
}
