package endpoints

import (
	"math"
	"time"
)

// Autoscaler windows (§5.1 of the design: a stable 20 s window, a 6 s panic
// window that scales up at once at twice the capacity).
const (
	stableWindow = 20 * time.Second
	panicWindow  = 6 * time.Second
)

type sample struct {
	at       time.Time
	inflight float64
}

// scaler decides a revision's replica count from the requests in flight
// at Haven's proxy: up as soon as the load asks for it, down only after
// the load stayed low for the stabilization time, and never by more than
// half at once.
type scaler struct {
	samples    []sample
	lowSince   time.Time // since when fewer replicas would do; zero if not
	stabilized time.Duration
}

// observe adds a sample of the requests in flight.
func (s *scaler) observe(now time.Time, inflight float64) {
	s.samples = append(s.samples, sample{now, inflight})
	i := 0
	for i < len(s.samples) && now.Sub(s.samples[i].at) > stableWindow {
		i++
	}
	s.samples = s.samples[i:]
}

func (s *scaler) average(now time.Time, window time.Duration) float64 {
	var sum float64
	n := 0
	for _, x := range s.samples {
		if now.Sub(x.at) <= window {
			sum += x.inflight
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// decide returns the replicas wanted now, given the current count, the
// bounds and the in-flight threshold per replica.
func (s *scaler) decide(now time.Time, current, lo, hi int, threshold float64) int {
	lo = max(lo, 1)
	hi = max(hi, lo)
	stable := s.average(now, stableWindow)
	want := int(math.Ceil(stable / threshold))
	if p := s.average(now, panicWindow); p >= 2*float64(max(current, 1))*threshold {
		want = max(want, int(math.Ceil(p/threshold)))
	}
	want = min(max(want, lo), hi)
	switch {
	case current < lo:
		s.lowSince = time.Time{}
		return lo
	case current > hi:
		s.lowSince = time.Time{}
		return hi
	case want >= current:
		s.lowSince = time.Time{}
		return min(max(want, current), hi)
	}
	if s.lowSince.IsZero() {
		s.lowSince = now
	}
	if now.Sub(s.lowSince) < s.stabilized {
		return current
	}
	s.lowSince = time.Time{}
	return max(want, (current+1)/2)
}
