// Package exporter is a small pluggable Prometheus exporter: named collectors
// are enabled by flags and run concurrently on every scrape, each bounded by
// the scrape deadline, so one slow or broken source never costs the others.
package exporter

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector reads one source. It is the one contract every collector
// implements, as node_exporter's Update is, with two differences: the
// scrape's ctx, and metrics appended to a slice rather than sent on a
// channel, which saves the Exporter a goroutine and a channel operation per
// metric and lets it reuse the slice between scrapes.
type Collector interface {
	// Update appends this scrape's metrics to ms and returns the result.
	// It must return soon after ctx is done: the Exporter stops waiting at
	// the deadline and drops whatever an abandoned Update appended. An
	// error marks the collector failed for this scrape (ErrNoData: nothing
	// to report); the metrics returned with it are still exported, so a
	// collector reports its own *_up 0.
	Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error)
	// Describe sends every Desc Update may use, so registries check each
	// scrape against them.
	Describe(ch chan<- *prometheus.Desc)
}

// ErrNoData is returned by a collector that had nothing to report this
// scrape. It is logged at debug level only, because it is an expected state
// (for example a source that does not exist on this host), not a failure.
var ErrNoData = errors.New("collector returned no data")

// Spec describes a collector the Exporter can build by name.
type Spec struct {
	// Name is the collector's name in flags (--collector.NAME) and in the
	// collector label of the scrape meta-metrics.
	Name string
	// Help is the flag's help text.
	Help string
	// DefaultEnabled says whether the collector runs unless disabled.
	DefaultEnabled bool
	// New builds the collector. It is called after the flags are parsed, so
	// it may read option values bound at flag registration time.
	New func(logger *slog.Logger) (Collector, error)
}
