package jvb

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
)

// Name is the collector's name in flags and meta-metrics.
const Name = "jvb"

// Config configures the JVB collector.
type Config struct {
	// URL is the bridge's private REST base URL.
	URL string
	// Timeout bounds one request (the scrape deadline may cut it shorter).
	Timeout time.Duration
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config {
	return Config{URL: "http://127.0.0.1:8080", Timeout: 2 * time.Second}
}

// AddFlags binds --collector.jvb.* to cfg, validated at parse time.
func AddFlags(app *kingpin.Application, cfg *Config) {
	d := DefaultConfig()
	exporter.HTTPURLVar(exporter.Option(app, Name, "url", "Base URL of the bridge's private REST API.").
		Default(d.URL), &cfg.URL)
	exporter.PositiveDurationVar(exporter.Option(app, Name, "timeout", "Timeout of one request to the bridge.").
		Default(d.Timeout.String()), &cfg.Timeout)
}

// Collector exports a bridge's /colibri/stats and /about/health.
type Collector struct {
	client  *Client
	timeout time.Duration
	logger  *slog.Logger
	// restDisabledLogged keeps the "REST disabled" advice to one line
	// until the bridge answers again.
	restDisabledLogged atomic.Bool

	up, healthy, info *exporter.Desc
	numbers           []*exporter.Desc // parallel to fields
	bools             []*exporter.Desc // parallel to boolFields
	// numberIdx and boolIdx locate fields and boolFields in Stats.
	numberIdx, boolIdx []int
}

var _ exporter.Collector = (*Collector)(nil)

// New returns a Collector reading client, each request bounded by timeout.
func New(client *Client, timeout time.Duration, logger *slog.Logger) *Collector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := func(name, help string, labels ...string) *exporter.Desc {
		return exporter.NewDesc("ensemble_jvb_"+name, help, labels)
	}
	c := &Collector{
		client:  client,
		timeout: timeout,
		logger:  logger,
		up:      d("up", "Whether /colibri/stats could be read and parsed (1) or not (0)."),
		healthy: d("healthy", "Whether /about/health reports the bridge healthy (1) or unhealthy (0)."),
		info:    d("info", "The bridge's version; the value is always 1.", "version"),
	}
	for _, f := range fields {
		c.numbers = append(c.numbers, d(f.name, f.help))
		c.numberIdx = append(c.numberIdx, knownIndex[f.key])
	}
	for _, f := range boolFields {
		c.bools = append(c.bools, d(f.name, f.help))
		c.boolIdx = append(c.boolIdx, knownIndex[f.key])
	}
	return c
}

// Describe sends every Desc the Collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up.Prometheus()
	ch <- c.healthy.Prometheus()
	ch <- c.info.Prometheus()
	for _, d := range c.numbers {
		ch <- d.Prometheus()
	}
	for _, d := range c.bools {
		ch <- d.Prometheus()
	}
}

// Append reads stats and health concurrently. A stats failure appends only
// ensemble_jvb_up 0 (plus healthy, which has its own source) and returns the
// error; a field the bridge did not send is left out rather than zeroed.
func (c *Collector) Append(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	healthErr := make(chan error, 1)
	go func() { healthErr <- c.client.Health(ctx) }()
	stats, err := c.client.Stats(ctx)
	herr := <-healthErr

	var unhealthy *UnhealthyError
	switch {
	case herr == nil:
		ms = append(ms, exporter.NewMetric(c.healthy, prometheus.GaugeValue, 1))
	case errors.As(herr, &unhealthy):
		ms = append(ms, exporter.NewMetric(c.healthy, prometheus.GaugeValue, 0))
	default:
		// Unknown health is not "unhealthy": leave the metric out.
		c.logger.Debug("health check failed", "err", herr)
	}

	if err != nil {
		ms = append(ms, exporter.NewMetric(c.up, prometheus.GaugeValue, 0))
		if errors.Is(err, ErrRESTDisabled) {
			if !c.restDisabledLogged.Swap(true) {
				c.logger.Warn("JVB REST stats are disabled (404 from /colibri/stats); set videobridge.apis.rest.enabled=true in jvb.conf to enable them",
					"url", c.client.URL()+"/colibri/stats")
			}
			return ms, exporter.ErrNoData
		}
		return ms, err
	}
	c.restDisabledLogged.Store(false)
	ms = append(ms, exporter.NewMetric(c.up, prometheus.GaugeValue, 1))
	for i, f := range fields {
		v, ok := stats.value(c.numberIdx[i])
		if !ok {
			continue
		}
		if f.scale != 0 {
			v *= f.scale
		}
		t := prometheus.GaugeValue
		if f.counter {
			t = prometheus.CounterValue
		}
		ms = append(ms, exporter.NewMetric(c.numbers[i], t, v))
	}
	for i := range boolFields {
		if v, ok := stats.value(c.boolIdx[i]); ok {
			ms = append(ms, exporter.NewMetric(c.bools[i], prometheus.GaugeValue, v))
		}
	}
	if v, ok := stats.Text("version"); ok {
		ms = append(ms, exporter.NewMetric(c.info, prometheus.GaugeValue, 1, v))
	}
	return ms, nil
}

// Update sends what Append appends.
func (c *Collector) Update(ctx context.Context, ch chan<- prometheus.Metric) error {
	return exporter.SendAppended(ctx, c, ch)
}
