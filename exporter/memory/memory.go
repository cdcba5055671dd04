// Package memory collects total and available memory: from /proc/meminfo on
// Linux, through gopsutil elsewhere.
package memory

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
)

// Name is the collector's name in flags and meta-metrics.
const Name = "memory"

// Config configures the memory collector.
type Config struct {
	// ProcPath is the procfs mount point (Linux only).
	ProcPath string
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config { return Config{ProcPath: "/proc"} }

// Sample is one reading of memory in bytes.
type Sample struct {
	Total uint64
	// Available is the kernel's estimate of memory usable without swapping.
	Available uint64
}

// Source reads a Sample; the platform decides how.
type Source interface {
	Read(ctx context.Context) (Sample, error)
}

// Collector exports a Source's samples as ensemble_memory_* metrics.
type Collector struct {
	src              Source
	total, available *exporter.Desc
}

var _ exporter.Collector = (*Collector)(nil)

// New returns a Collector reading the platform's Source for cfg.
func New(cfg Config) (*Collector, error) {
	src, err := NewSource(cfg.ProcPath)
	if err != nil {
		return nil, err
	}
	return NewWithSource(src), nil
}

// NewWithSource returns a Collector reading src.
func NewWithSource(src Source) *Collector {
	return &Collector{
		src:       src,
		total:     exporter.NewDesc("ensemble_memory_total_bytes", "Usable physical memory in bytes.", nil),
		available: exporter.NewDesc("ensemble_memory_available_bytes", "Memory available for new work without swapping, in bytes.", nil),
	}
}

// Describe sends every Desc the Collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total.Prometheus()
	ch <- c.available.Prometheus()
}

// Update reads one Sample.
func (c *Collector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	s, err := c.src.Read(ctx)
	if err != nil {
		return ms, err
	}
	ms = append(ms, exporter.NewMetric(c.total, prometheus.GaugeValue, float64(s.Total)))
	ms = append(ms, exporter.NewMetric(c.available, prometheus.GaugeValue, float64(s.Available)))
	return ms, nil
}
