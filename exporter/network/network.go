// Package network collects per-device receive and transmit counters: from
// /proc/net/dev on Linux, through gopsutil elsewhere. A videobridge is often
// bandwidth-bound before it is CPU-bound.
package network

import (
	"context"
	"regexp"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/cli"
)

// Name is the collector's name in flags and meta-metrics.
const Name = "network"

// Config configures the network collector.
type Config struct {
	// ProcPath is the procfs mount point (Linux only).
	ProcPath string
	// DeviceInclude, when set, keeps only devices whose whole name matches.
	DeviceInclude *regexp.Regexp
	// DeviceExclude, when set, drops devices whose whole name matches.
	DeviceExclude *regexp.Regexp
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config {
	return Config{ProcPath: "/proc", DeviceExclude: regexp.MustCompile("^(?:lo)$")}
}

// AddFlags binds --collector.network.* to cfg; the expressions are anchored
// and compiled at parse time.
func AddFlags(app *kingpin.Application, cfg *Config) {
	cli.RegexpVar(exporter.Option(app, Name, "device-include",
		"Regular expression of devices to export (whole name; empty: all)."), &cfg.DeviceInclude)
	cli.RegexpVar(exporter.Option(app, Name, "device-exclude",
		"Regular expression of devices not to export (whole name; empty: none).").Default("lo"), &cfg.DeviceExclude)
}

// Device holds one device's cumulative counters.
type Device struct {
	Name                           string
	ReceiveBytes, ReceivePackets   uint64
	TransmitBytes, TransmitPackets uint64
}

// Source reads every device's counters; the platform decides how.
type Source interface {
	Read(ctx context.Context) ([]Device, error)
}

// Collector exports a Source's devices as ensemble_network_* metrics.
type Collector struct {
	src                              Source
	include, exclude                 *regexp.Regexp
	rxBytes, rxPkts, txBytes, txPkts *exporter.Desc
}

var _ exporter.Collector = (*Collector)(nil)

// New returns a Collector reading the platform's Source for cfg.
func New(cfg Config) (*Collector, error) {
	src, err := NewSource(cfg.ProcPath)
	if err != nil {
		return nil, err
	}
	return NewWithSource(src, cfg.DeviceInclude, cfg.DeviceExclude), nil
}

// NewWithSource returns a Collector reading src, filtering devices by
// include and exclude (either may be nil).
func NewWithSource(src Source, include, exclude *regexp.Regexp) *Collector {
	d := func(name, help string) *exporter.Desc {
		return exporter.NewDesc("ensemble_network_"+name, help, []string{"device"})
	}
	return &Collector{
		src:     src,
		include: include,
		exclude: exclude,
		rxBytes: d("receive_bytes_total", "Bytes received by the device."),
		rxPkts:  d("receive_packets_total", "Packets received by the device."),
		txBytes: d("transmit_bytes_total", "Bytes transmitted by the device."),
		txPkts:  d("transmit_packets_total", "Packets transmitted by the device."),
	}
}

// Describe sends every Desc the Collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*exporter.Desc{c.rxBytes, c.rxPkts, c.txBytes, c.txPkts} {
		ch <- d.Prometheus()
	}
}

// Update reads every device once and appends those the filters keep.
func (c *Collector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	devs, err := c.src.Read(ctx)
	if err != nil {
		return ms, err
	}
	sent := 0
	for _, d := range devs {
		if !c.keep(d.Name) {
			continue
		}
		sent++
		ms = append(ms, exporter.NewMetric(c.rxBytes, prometheus.CounterValue, float64(d.ReceiveBytes), d.Name))
		ms = append(ms, exporter.NewMetric(c.rxPkts, prometheus.CounterValue, float64(d.ReceivePackets), d.Name))
		ms = append(ms, exporter.NewMetric(c.txBytes, prometheus.CounterValue, float64(d.TransmitBytes), d.Name))
		ms = append(ms, exporter.NewMetric(c.txPkts, prometheus.CounterValue, float64(d.TransmitPackets), d.Name))
	}
	if sent == 0 {
		return ms, exporter.ErrNoData
	}
	return ms, nil
}

func (c *Collector) keep(name string) bool {
	if c.include != nil && !c.include.MatchString(name) {
		return false
	}
	return c.exclude == nil || !c.exclude.MatchString(name)
}
