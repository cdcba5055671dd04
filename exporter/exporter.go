package exporter

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultTimeout bounds a scrape whose caller gave no deadline.
const DefaultTimeout = 10 * time.Second

// Options configure an Exporter.
type Options struct {
	// Logger receives collector failures; nil discards them.
	Logger *slog.Logger
	// Timeout bounds Collect, which has no context of its own. Scrapes
	// through Handler use the Prometheus scrape timeout instead.
	// Zero means DefaultTimeout.
	Timeout time.Duration
}

// Exporter is a prometheus.Collector that runs its collectors concurrently
// on every scrape and reports, per collector, how long it took and whether
// it succeeded.
type Exporter struct {
	collectors []namedCollector
	timeout    time.Duration
	duration   *Desc
	success    *Desc
	workers    workers
	bufs       sync.Pool // *[]prometheus.Metric, one per collector run
}

type namedCollector struct {
	name   string
	c      Collector
	logger *slog.Logger
}

var _ prometheus.Collector = (*Exporter)(nil)

// New returns an Exporter running collectors, keyed by name.
func New(collectors map[string]Collector, opts Options) *Exporter {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Exporter{
		timeout: opts.Timeout,
		workers: newWorkers(),
		bufs:    sync.Pool{New: func() any { return new([]prometheus.Metric) }},
		duration: NewDesc("ensemble_scrape_collector_duration_seconds",
			"Time a collector took during the last scrape.", []string{"collector"}),
		success: NewDesc("ensemble_scrape_collector_success",
			"Whether a collector succeeded during the last scrape (1) or failed, timed out or had no data (0).",
			[]string{"collector"}),
	}
	if e.timeout <= 0 {
		e.timeout = DefaultTimeout
	}
	for name, c := range collectors {
		e.collectors = append(e.collectors, namedCollector{name: name, c: c, logger: logger.With("collector", name)})
	}
	sort.Slice(e.collectors, func(i, j int) bool { return e.collectors[i].name < e.collectors[j].name })
	return e
}

// Describe sends every descriptor of every collector, so registries can
// check scrapes against them.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	ch <- e.duration.Prometheus()
	ch <- e.success.Prometheus()
	for _, nc := range e.collectors {
		nc.c.Describe(ch)
	}
}

// Collect runs one scrape bounded by Options.Timeout.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	e.CollectContext(ctx, ch)
}

type result struct {
	idx     int
	metrics []prometheus.Metric
	// buf, if set, holds metrics' array, to be pooled after the report.
	buf      *[]prometheus.Metric
	err      error
	duration time.Duration
	// abandoned: still running at the deadline; it has no metrics.
	abandoned bool
}

// CollectContext runs every collector concurrently and sends their metrics
// on ch. A collector still running when ctx is done is abandoned: it counts
// as failed, its partial output is dropped (so a scrape never mixes a
// half-read source into the result), and its ctx is cancelled so it can
// return. CollectContext itself returns at the deadline at the latest.
func (e *Exporter) CollectContext(ctx context.Context, ch chan<- prometheus.Metric) {
	e.collect(ctx, func(m prometheus.Metric) { ch <- m })
}

// collect is CollectContext handing each metric to emit, which runs on the
// caller's goroutine.
func (e *Exporter) collect(ctx context.Context, emit func(prometheus.Metric)) {
	ctx, cancel := context.WithCancel(ctx)
	// Cancelling on return tells abandoned collectors to stop.
	defer cancel()
	start := time.Now()
	// Buffered so late collectors can always deliver and exit.
	results := make(chan result, len(e.collectors))
	for i := range e.collectors {
		e.workers.run(func() { e.run(ctx, i, results) })
	}
	done := make([]bool, len(e.collectors))
	for pending := len(e.collectors); pending > 0; pending-- {
		select {
		case r := <-results:
			done[r.idx] = true
			e.report(emit, e.collectors[r.idx], r)
			if r.buf != nil {
				clear(r.metrics)
				*r.buf = r.metrics[:0]
				e.bufs.Put(r.buf)
			}
		case <-ctx.Done():
			elapsed := time.Since(start)
			for i, nc := range e.collectors {
				if !done[i] {
					e.report(emit, nc, result{idx: i, err: context.Cause(ctx), duration: elapsed, abandoned: true})
				}
			}
			return
		}
	}
}

func (e *Exporter) run(ctx context.Context, idx int, results chan<- result) {
	begin := time.Now()
	// No channel: an abandoned collector's late metrics stay in its slice,
	// which then never returns to the pool.
	buf := e.bufs.Get().(*[]prometheus.Metric)
	ms, err := e.collectors[idx].c.Update(ctx, *buf)
	results <- result{idx: idx, metrics: ms, buf: buf, err: err, duration: time.Since(begin)}
}

func (e *Exporter) report(emit func(prometheus.Metric), nc namedCollector, r result) {
	success := 1.0
	switch {
	case r.err == nil:
	case errors.Is(r.err, ErrNoData):
		success = 0
		nc.logger.Debug("collector returned no data", "err", r.err)
	case r.abandoned:
		success = 0
		nc.logger.Warn("collector abandoned at the scrape deadline", "duration_seconds", r.duration.Seconds(), "err", r.err)
	default:
		success = 0
		nc.logger.Warn("collector failed", "duration_seconds", r.duration.Seconds(), "err", r.err)
	}
	for _, m := range r.metrics {
		emit(m)
	}
	emit(NewMetric(e.duration, prometheus.GaugeValue, r.duration.Seconds(), nc.name))
	emit(NewMetric(e.success, prometheus.GaugeValue, success, nc.name))
}
