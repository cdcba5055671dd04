package nginx

import (
	"context"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/cli"
)

// Name is the collector's name in flags and meta-metrics.
const Name = "nginx"

// Config configures the nginx collector.
type Config struct {
	// URL is the stub_status page.
	URL string
	// Timeout bounds one fetch (the scrape deadline may cut it shorter).
	Timeout time.Duration
}

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config {
	return Config{URL: "http://127.0.0.1:80/nginx_status", Timeout: 2 * time.Second}
}

// AddFlags binds --collector.nginx.* to cfg, validated at parse time.
func AddFlags(app *kingpin.Application, cfg *Config) {
	d := DefaultConfig()
	cli.HTTPURLVar(exporter.Option(app, Name, "scrape-uri", "URL of nginx's stub_status page.").
		Default(d.URL), &cfg.URL)
	cli.PositiveDurationVar(exporter.Option(app, Name, "timeout", "Timeout of one stub_status request.").
		Default(d.Timeout.String()), &cfg.Timeout)
}

// Collector exports a Client's stub_status as ensemble_nginx_* metrics.
type Collector struct {
	client  *Client
	timeout time.Duration

	up, active, reading, writing, waiting, accepted, handled, requests *exporter.Desc
}

var _ exporter.Collector = (*Collector)(nil)

// New returns a Collector reading client, each read bounded by timeout.
func New(client *Client, timeout time.Duration) *Collector {
	d := func(name, help string) *exporter.Desc {
		return exporter.NewDesc("ensemble_nginx_"+name, help, nil)
	}
	return &Collector{
		client:   client,
		timeout:  timeout,
		up:       d("up", "Whether nginx's stub_status page could be read and parsed (1) or not (0)."),
		active:   d("connections_active", "Open client connections, including waiting ones."),
		reading:  d("connections_reading", "Connections where nginx is reading the request header."),
		writing:  d("connections_writing", "Connections where nginx is writing the response."),
		waiting:  d("connections_waiting", "Idle keep-alive client connections."),
		accepted: d("connections_accepted_total", "Client connections accepted."),
		handled:  d("connections_handled_total", "Client connections handled."),
		requests: d("http_requests_total", "Client requests."),
	}
}

// Describe sends every Desc the Collector uses.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*exporter.Desc{c.up, c.active, c.reading, c.writing, c.waiting, c.accepted, c.handled, c.requests} {
		ch <- d.Prometheus()
	}
}

// Update reads stub_status once. When nginx cannot be read, only
// ensemble_nginx_up 0 is appended (stale or zero counters would be lies) and the
// error is returned so the scrape's success meta-metric shows it too.
func (c *Collector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := c.client.StubStatus(ctx)
	if err != nil {
		ms = append(ms, exporter.NewMetric(c.up, prometheus.GaugeValue, 0))
		return ms, err
	}
	ms = append(ms, exporter.NewMetric(c.up, prometheus.GaugeValue, 1))
	gauge := func(d *exporter.Desc, v uint64) {
		ms = append(ms, exporter.NewMetric(d, prometheus.GaugeValue, float64(v)))
	}
	counter := func(d *exporter.Desc, v uint64) {
		ms = append(ms, exporter.NewMetric(d, prometheus.CounterValue, float64(v)))
	}
	gauge(c.active, s.Active)
	gauge(c.reading, s.Reading)
	gauge(c.writing, s.Writing)
	gauge(c.waiting, s.Waiting)
	counter(c.accepted, s.Accepted)
	counter(c.handled, s.Handled)
	counter(c.requests, s.Requests)
	return ms, nil
}
