package api

import "github.com/havenhub/haven/internal/cachestat"

// The read caches' hit and miss counters, exported at /metrics as
// haven_cache_lookups_total{cache=…}.
var (
	repoStats    = cachestat.New("repo")
	revStats     = cachestat.New("revision")
	treeStats    = cachestat.New("tree")
	renderStats  = cachestat.New("rendered")
	listingStats = cachestat.New("listing")
	tokenStats   = cachestat.New("token")
)

// count counts a lookup of a cache and hands its result on.
func count(c *cachestat.Counter, ok bool) bool {
	if ok {
		c.Hit()
	} else {
		c.Miss()
	}
	return ok
}
