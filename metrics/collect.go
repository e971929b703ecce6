package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/havenhub/haven/internal/cachestat"
	"github.com/havenhub/haven/meta"
)

var (
	queueJobsDesc = prometheus.NewDesc("haven_queue_jobs",
		"Jobs in the durable work queue by kind and state (queued, leased, done, failed); done and failed jobs are kept.",
		[]string{"kind", "state"}, nil)
	queueAgeDesc = prometheus.NewDesc("haven_queue_oldest_age_seconds",
		"Age of the oldest queued or leased job of each kind, since it was enqueued (0 when none waits).",
		[]string{"kind"}, nil)
	viewerDesc = prometheus.NewDesc("haven_viewer_conversions",
		"Dataset viewer conversions in the queue by state: done and failed ones so far, queued and leased ones waiting or running.",
		[]string{"state"}, nil)
	jobRunsDesc = prometheus.NewDesc("haven_job_runs",
		"Hub jobs by stage.", []string{"stage"}, nil)
	spacesDesc = prometheus.NewDesc("haven_spaces",
		"Spaces that ran at least once, by stage.", []string{"stage"}, nil)
	scrapeErrDesc = prometheus.NewDesc("haven_metadata_scrape_errors",
		"1 when the metadata store could not be read for this scrape's queue, job or Space metrics.",
		[]string{"source"}, nil)
)

// storeCollector reads the queue, jobs and Spaces from the metadata store
// at each scrape.
type storeCollector struct {
	store      Store
	viewerKind string
	log        *slog.Logger
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{queueJobsDesc, queueAgeDesc, viewerDesc, jobRunsDesc, spacesDesc, scrapeErrDesc} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := func(source string, err error) {
		v := 0.0
		if err != nil {
			v = 1
			c.log.Warn("metrics: reading the metadata store", "source", source, "err", err)
		}
		ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, v, source)
	}

	stats, err := c.store.QueueStats(ctx)
	failed("queue", err)
	if err == nil {
		c.collectQueue(ch, stats, time.Now())
	}
	stages, err := c.store.JobRunStages(ctx)
	failed("jobs", err)
	for s, n := range stages {
		ch <- prometheus.MustNewConstMetric(jobRunsDesc, prometheus.GaugeValue, float64(n), s)
	}
	spaces, err := c.store.SpaceStages(ctx)
	failed("spaces", err)
	for s, n := range spaces {
		if s == "" {
			s = "none"
		}
		ch <- prometheus.MustNewConstMetric(spacesDesc, prometheus.GaugeValue, float64(n), s)
	}
}

func (c *storeCollector) collectQueue(ch chan<- prometheus.Metric, stats []meta.QueueStat, now time.Time) {
	oldest := map[string]time.Time{}
	for _, q := range stats {
		ch <- prometheus.MustNewConstMetric(queueJobsDesc, prometheus.GaugeValue, float64(q.Count), q.Kind, q.State)
		if c.viewerKind != "" && q.Kind == c.viewerKind {
			ch <- prometheus.MustNewConstMetric(viewerDesc, prometheus.GaugeValue, float64(q.Count), q.State)
		}
		o, seen := oldest[q.Kind]
		if !seen {
			oldest[q.Kind] = time.Time{}
		}
		if !q.Oldest.IsZero() && (o.IsZero() || q.Oldest.Before(o)) {
			oldest[q.Kind] = q.Oldest
		}
	}
	for kind, o := range oldest {
		age := 0.0
		if !o.IsZero() {
			age = max(now.Sub(o).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age, kind)
	}
}

var cacheDesc = prometheus.NewDesc("haven_cache_lookups_total",
	"Lookups in the in-process read caches, by cache and result (hit, miss).", []string{"cache", "result"}, nil)

// cacheCollector reads the caches' hit and miss counters (cachestat) at
// each scrape; counting costs the caches one atomic add per lookup.
type cacheCollector struct{}

func (cacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cacheDesc }

func (cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cachestat.All() {
		ch <- prometheus.MustNewConstMetric(cacheDesc, prometheus.CounterValue, float64(c.Hits()), c.Name(), "hit")
		ch <- prometheus.MustNewConstMetric(cacheDesc, prometheus.CounterValue, float64(c.Misses()), c.Name(), "miss")
	}
}
