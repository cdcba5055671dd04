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

// Collector reads one source and sends its metrics on ch. It must return
// soon after ctx is done: the Exporter stops waiting for it at the deadline.
type Collector interface {
	Update(ctx context.Context, ch chan<- prometheus.Metric) error
}

// Appender is a Collector that can also add its metrics to a slice, which
// saves the Exporter a goroutine and a channel operation per metric on
// every scrape. The built-in collectors are Appenders; their Update is
// SendAppended.
type Appender interface {
	Collector
	// Append appends this scrape's metrics to ms and returns the result,
	// with the same meaning of errors as Update.
	Append(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error)
}

// SendAppended implements Update for an Appender: it sends on ch what
// a.Append adds.
func SendAppended(ctx context.Context, a Appender, ch chan<- prometheus.Metric) error {
	ms, err := a.Append(ctx, nil)
	for _, m := range ms {
		ch <- m
	}
	return err
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
