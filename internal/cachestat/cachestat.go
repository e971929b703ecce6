// Package cachestat counts the hits and misses of Haven's in-process read
// caches, for /metrics. Counting is one atomic add per lookup; the metrics
// package reads the counters at scrape time.
package cachestat

import (
	"sort"
	"sync"
	"sync/atomic"
)

// Counter counts the lookups of one cache.
type Counter struct {
	name         string
	hits, misses atomic.Uint64
}

// Hit counts a lookup that found a fresh entry.
func (c *Counter) Hit() { c.hits.Add(1) }

// Miss counts a lookup that had to go to the source.
func (c *Counter) Miss() { c.misses.Add(1) }

// Name is the cache's name, the cache label of the metrics.
func (c *Counter) Name() string { return c.name }

// Hits and Misses are the counts so far.
func (c *Counter) Hits() uint64   { return c.hits.Load() }
func (c *Counter) Misses() uint64 { return c.misses.Load() }

var (
	mu       sync.Mutex
	counters = map[string]*Counter{}
)

// New returns the counter of the cache called name, one per process: a
// package declares its caches' counters once, as package variables.
func New(name string) *Counter {
	mu.Lock()
	defer mu.Unlock()
	if c, ok := counters[name]; ok {
		return c
	}
	c := &Counter{name: name}
	counters[name] = c
	return c
}

// All returns every counter, by name.
func All() []*Counter {
	mu.Lock()
	defer mu.Unlock()
	all := make([]*Counter, 0, len(counters))
	for _, c := range counters {
		all = append(all, c)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	return all
}
