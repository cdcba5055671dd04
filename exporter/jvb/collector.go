package jvb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/cli"
)

// Name is the collector's name in flags and meta-metrics.
const Name = "jvb"

// Sources of the bridge's statistics (--collector.jvb.source).
const (
	// SourceColibri reads /colibri/stats, which every release has but
	// which needs videobridge.apis.rest.enabled=true.
	SourceColibri = "colibri"
	// SourceMetrics reads the bridge's own Prometheus text at /metrics,
	// on by default in bridges since 2024 (partial since mid-2022).
	SourceMetrics = "metrics"
	// SourceAuto reads whichever answers, preferring the last that did
	// and colibri at first, since it has every field on every release.
	SourceAuto = "auto"
)

// Sources lists the valid Config.Source values.
var Sources = []string{SourceColibri, SourceMetrics, SourceAuto}

// Config configures the JVB collector.
type Config struct {
	// URL is the bridge's private REST base URL.
	URL string
	// Timeout bounds one request (the scrape deadline may cut it shorter).
	Timeout time.Duration
	// Source is one of Sources.
	Source string
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config {
	return Config{URL: "http://127.0.0.1:8080", Timeout: 2 * time.Second, Source: SourceColibri}
}

// AddFlags binds --collector.jvb.* to cfg, validated at parse time.
func AddFlags(app *kingpin.Application, cfg *Config) {
	d := DefaultConfig()
	cli.HTTPURLVar(exporter.Option(app, Name, "url", "Base URL of the bridge's private REST API.").
		Default(d.URL), &cfg.URL)
	cli.PositiveDurationVar(exporter.Option(app, Name, "timeout", "Timeout of one request to the bridge.").
		Default(d.Timeout.String()), &cfg.Timeout)
	exporter.Option(app, Name, "source",
		"Where to read the bridge's statistics: colibri (/colibri/stats, needs the REST API on), metrics (the bridge's own Prometheus /metrics) or auto (whichever answers).").
		Default(d.Source).EnumVar(&cfg.Source, Sources...)
}

// maxLabelValue bounds a label value taken from the bridge (its version):
// a broken or hostile bridge must not turn a scrape into megabytes.
const maxLabelValue = 128

// Collector exports a bridge's statistics and /about/health.
type Collector struct {
	client  *Client
	timeout time.Duration
	source  string
	logger  *slog.Logger
	// preferMetrics is auto's memory of which source answered last.
	preferMetrics atomic.Bool
	// restDisabledLogged and jicofoLogged keep advice to one line until
	// the situation changes.
	restDisabledLogged, jicofoLogged atomic.Bool

	up, healthy, info *exporter.Desc
	numbers           []*exporter.Desc // parallel to fields
	bools             []*exporter.Desc // parallel to boolFields
	dists             []*exporter.Desc // parallel to distFields
	// numberIdx, boolIdx and distIdx locate the fields in Stats.
	numberIdx, boolIdx, distIdx []int
	participantsIdx, octoIdx    int
}

var _ exporter.Collector = (*Collector)(nil)

// New returns a Collector reading client, each request bounded by timeout,
// from source (one of Sources; empty means SourceColibri).
func New(client *Client, timeout time.Duration, source string, logger *slog.Logger) (*Collector, error) {
	switch source {
	case "":
		source = SourceColibri
	case SourceColibri, SourceMetrics, SourceAuto:
	default:
		return nil, fmt.Errorf("jvb collector: unknown source %q, want one of %q", source, Sources)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := func(name, help string, labels ...string) *exporter.Desc {
		return exporter.NewDesc("ensemble_jvb_"+name, help, labels)
	}
	c := &Collector{
		client:          client,
		timeout:         timeout,
		source:          source,
		logger:          logger,
		up:              d("up", "Whether the bridge's statistics could be read and parsed and hold only possible values (1) or not (0)."),
		healthy:         d("healthy", "Whether /about/health reports the bridge healthy (1) or unhealthy (0)."),
		info:            d("info", "The bridge's version (at most 128 bytes); the value is always 1.", "version"),
		participantsIdx: knownIndex["participants"],
		octoIdx:         knownIndex["octo_endpoints"],
	}
	for _, f := range fields {
		c.numbers = append(c.numbers, d(f.name, f.help))
		c.numberIdx = append(c.numberIdx, knownIndex[f.key])
	}
	for _, f := range boolFields {
		c.bools = append(c.bools, d(f.name, f.help))
		c.boolIdx = append(c.boolIdx, knownIndex[f.key])
	}
	for _, f := range distFields {
		c.dists = append(c.dists, d(f.name, f.help, f.label))
		c.distIdx = append(c.distIdx, knownIndex[f.key])
	}
	return c, nil
}

// Describe sends every Desc the Collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up.Prometheus()
	ch <- c.healthy.Prometheus()
	ch <- c.info.Prometheus()
	for _, ds := range [][]*exporter.Desc{c.numbers, c.bools, c.dists} {
		for _, d := range ds {
			ch <- d.Prometheus()
		}
	}
}

// Update reads stats and health concurrently. A stats failure (including
// a value the bridge cannot have sent, see check) appends only
// ensemble_jvb_up 0 (plus healthy, which has its own source) and returns
// the error; a field the bridge did not send is left out rather than
// zeroed.
func (c *Collector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	healthErr := make(chan error, 1)
	go func() { healthErr <- c.client.Health(ctx) }()
	stats, err := c.read(ctx)
	if err == nil {
		err = c.check(stats)
	}
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
				c.logger.Warn("JVB REST stats are disabled (404 from /colibri/stats); set videobridge.apis.rest.enabled=true in jvb.conf, or use --collector.jvb.source=metrics",
					"url", c.client.URL()+"/colibri/stats")
			}
			return ms, exporter.ErrNoData
		}
		return ms, err
	}
	c.restDisabledLogged.Store(false)
	if stats.present[knownIndex["bridge_selector"]] && !c.jicofoLogged.Swap(true) {
		c.logger.Warn("the stats have Jicofo's bridge_selector: --collector.jvb.url probably points at Jicofo, whose numbers cover all its bridges",
			"url", c.client.URL())
	}
	ms = append(ms, exporter.NewMetric(c.up, prometheus.GaugeValue, 1))
	for i, f := range fields {
		v, ok := c.number(stats, i)
		if !ok {
			continue
		}
		if f.scale != 0 {
			v *= f.scale
		}
		t := prometheus.GaugeValue
		if f.class == counter {
			t = prometheus.CounterValue
		}
		ms = append(ms, exporter.NewMetric(c.numbers[i], t, v))
	}
	for i := range boolFields {
		if v, ok := stats.value(c.boolIdx[i]); ok {
			ms = append(ms, exporter.NewMetric(c.bools[i], prometheus.GaugeValue, v))
		}
	}
	for i, f := range distFields {
		counts, ok := stats.Dist(f.key)
		if !ok {
			continue
		}
		for b, n := range counts {
			ms = append(ms, exporter.NewMetric(c.dists[i], prometheus.GaugeValue, n, bucketLabels[b]))
		}
	}
	if v, ok := stats.Text("version"); ok {
		ms = append(ms, exporter.NewMetric(c.info, prometheus.GaugeValue, 1, capLabel(v)))
	}
	return ms, nil
}

// read fetches the statistics from the configured source. Auto tries the
// source that answered last (colibri at first) and, when it is switched
// off or absent (404), the other one.
func (c *Collector) read(ctx context.Context) (*Stats, error) {
	switch c.source {
	case SourceColibri:
		return c.client.Stats(ctx)
	case SourceMetrics:
		return c.client.Metrics(ctx)
	}
	first, second := c.client.Stats, c.client.Metrics
	metricsFirst := c.preferMetrics.Load()
	if metricsFirst {
		first, second = second, first
	}
	s, err := first(ctx)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return s, err
	}
	s, err2 := second(ctx)
	if err2 != nil {
		return nil, errors.Join(err, err2)
	}
	c.preferMetrics.Store(!metricsFirst)
	return s, nil
}

// number returns field i of s, filling the names older bridges lack from
// the ones they have: before 2.1.6xx (October 2021) the bridge sent only
// participants (all endpoints) and octo_endpoints (relayed ones), not
// endpoints and local_endpoints. Its own graceful_shutdown.sh computes the
// local ones the same way.
func (c *Collector) number(s *Stats, i int) (float64, bool) {
	if v, ok := s.value(c.numberIdx[i]); ok {
		return v, true
	}
	p, ok := s.value(c.participantsIdx)
	if !ok {
		return 0, false
	}
	switch fields[i].key {
	case "endpoints":
		return p, true
	case "local_endpoints":
		octo, _ := s.value(c.octoIdx)
		return p - octo, true
	}
	return 0, false
}

// check fails the scrape for a value the bridge cannot have sent, per
// field class, so that ensemble_jvb_up 1 always means believable numbers:
// a negative count or rate, a count beyond a Java int, a counter beyond a
// Java long, a non-finite value.
func (c *Collector) check(s *Stats) error {
	for i, f := range fields {
		v, ok := c.number(s, i)
		if !ok {
			continue
		}
		if !possible(f.class, v) {
			return fmt.Errorf("bridge statistics: %s = %v is impossible for a %s", f.key, v, f.class)
		}
	}
	for _, f := range distFields {
		counts, ok := s.Dist(f.key)
		if !ok {
			continue
		}
		for b, n := range counts {
			if !possible(count, n) || n != math.Trunc(n) {
				return fmt.Errorf("bridge statistics: %s[%d] = %v is not a conference count", f.key, b, n)
			}
		}
	}
	return nil
}

// possible reports whether v is a value a field of class cl can have.
// Written so that NaN is never possible.
func possible(cl class, v float64) bool {
	switch cl {
	case count:
		return v >= 0 && v <= maxCount
	case rate, level:
		return v >= 0 && !math.IsInf(v, 1)
	case counter:
		return v >= 0 && v <= maxCounter
	}
	return !math.IsNaN(v) && !math.IsInf(v, 0)
}

func (cl class) String() string {
	switch cl {
	case count:
		return "current count (0 to 2^31-1)"
	case rate:
		return "rate (finite, not negative)"
	case level:
		return "level (finite, not negative)"
	case fraction:
		return "fraction (finite)"
	case counter:
		return "counter (0 to 2^63)"
	}
	return "unknown class"
}

// capLabel trims a label value taken from the bridge to maxLabelValue
// bytes of valid UTF-8.
func capLabel(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= maxLabelValue {
		return v
	}
	v = v[:maxLabelValue]
	for !utf8.ValidString(v) {
		v = v[:len(v)-1]
	}
	return v
}
