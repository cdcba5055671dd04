// Package cpu collects CPU time, the logical CPU count and load averages:
// from /proc on Linux, through gopsutil elsewhere (a developer's laptop).
package cpu

import (
	"context"
	"strconv"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
)

// Name is the collector's name in flags and meta-metrics.
const Name = "cpu"

// Config configures the cpu collector.
type Config struct {
	// ProcPath is the procfs mount point (Linux only); tests point it at
	// a fixture directory.
	ProcPath string
	// PerCPU adds a cpu label with one series per logical CPU instead of
	// the sum over all of them.
	PerCPU bool
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config { return Config{ProcPath: "/proc"} }

// AddFlags binds --collector.cpu.* to cfg. ProcPath is shared by several
// collectors, so its flag belongs to the caller.
func AddFlags(app *kingpin.Application, cfg *Config) {
	exporter.Option(app, Name, "per-cpu", "Export one series per logical CPU (label cpu) instead of the sum.").
		Default("false").BoolVar(&cfg.PerCPU)
}

// Times are cumulative CPU seconds by mode. Guest time is not a mode of its
// own: the kernel already counts it in user and nice.
type Times struct {
	User, Nice, System, Idle, Iowait, IRQ, SoftIRQ, Steal float64
}

// Sample is one reading of the CPU state.
type Sample struct {
	Total Times
	// PerCPU is filled only when asked for, keyed by CPU number.
	PerCPU      map[int64]Times
	LogicalCPUs int
	Load1       float64
	Load5       float64
	Load15      float64
}

// Source reads a Sample; the platform decides how.
type Source interface {
	Read(ctx context.Context, perCPU bool) (Sample, error)
}

// Collector exports a Source's samples as ensemble_cpu_* metrics.
type Collector struct {
	src                        Source
	perCPU                     bool
	seconds, cpus, l1, l5, l15 *exporter.Desc
}

var _ exporter.Collector = (*Collector)(nil)

// New returns a Collector reading the platform's Source for cfg.
func New(cfg Config) (*Collector, error) {
	src, err := NewSource(cfg.ProcPath)
	if err != nil {
		return nil, err
	}
	return NewWithSource(src, cfg.PerCPU), nil
}

// NewWithSource returns a Collector reading src.
func NewWithSource(src Source, perCPU bool) *Collector {
	labels := []string{"mode"}
	if perCPU {
		labels = []string{"cpu", "mode"}
	}
	return &Collector{
		src:     src,
		perCPU:  perCPU,
		seconds: exporter.NewDesc("ensemble_cpu_seconds_total", "CPU time spent in each mode, summed over logical CPUs unless per-CPU is on.", labels),
		cpus:    exporter.NewDesc("ensemble_cpu_logical_cpus", "Logical CPUs (hardware threads) online.", nil),
		l1:      exporter.NewDesc("ensemble_cpu_load1", "1-minute load average.", nil),
		l5:      exporter.NewDesc("ensemble_cpu_load5", "5-minute load average.", nil),
		l15:     exporter.NewDesc("ensemble_cpu_load15", "15-minute load average.", nil),
	}
}

// Describe sends every Desc the Collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*exporter.Desc{c.seconds, c.cpus, c.l1, c.l5, c.l15} {
		ch <- d.Prometheus()
	}
}

// Update reads one Sample.
func (c *Collector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	s, err := c.src.Read(ctx, c.perCPU)
	if err != nil {
		return ms, err
	}
	if c.perCPU {
		for n, t := range s.PerCPU {
			ms = c.appendTimes(ms, t, strconv.FormatInt(n, 10))
		}
	} else {
		ms = c.appendTimes(ms, s.Total, "")
	}
	ms = append(ms, exporter.NewMetric(c.cpus, prometheus.GaugeValue, float64(s.LogicalCPUs)))
	ms = append(ms, exporter.NewMetric(c.l1, prometheus.GaugeValue, s.Load1))
	ms = append(ms, exporter.NewMetric(c.l5, prometheus.GaugeValue, s.Load5))
	ms = append(ms, exporter.NewMetric(c.l15, prometheus.GaugeValue, s.Load15))
	return ms, nil
}

func (c *Collector) appendTimes(ms []prometheus.Metric, t Times, cpu string) []prometheus.Metric {
	modes := [...]struct {
		name string
		v    float64
	}{
		{"user", t.User}, {"nice", t.Nice}, {"system", t.System}, {"idle", t.Idle},
		{"iowait", t.Iowait}, {"irq", t.IRQ}, {"softirq", t.SoftIRQ}, {"steal", t.Steal},
	}
	for _, m := range modes {
		if c.perCPU {
			ms = append(ms, exporter.NewMetric(c.seconds, prometheus.CounterValue, m.v, cpu, m.name))
		} else {
			ms = append(ms, exporter.NewMetric(c.seconds, prometheus.CounterValue, m.v, m.name))
		}
	}
	return ms
}
