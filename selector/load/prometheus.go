package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/ensemble-jitsi/ensemble/selector/catalog"
)

// NodeLabel is the label that the shipped Prometheus configuration sets from `__meta_consul_service_id`;
// it joins query results to Consul nodes.
const NodeLabel = "node"

// Queries are the PromQL instant queries of the prometheus source. Each must return one sample per node,
// labelled with NodeLabel.
type Queries struct {
	// CPU returns the CPU busy ratio (0..1).
	CPU string
	// Stress returns the videobridge stress level.
	Stress string
	// Endpoints returns the number of videobridge endpoints.
	Endpoints string
	// Age returns how many seconds old the node's latest scrape is. A node without an age is unknown.
	Age string
}

// DefaultQueries use the recording rules in deploy/prometheus/rules/selector.yml.
func DefaultQueries() Queries {
	return Queries{
		CPU:       "node:ensemble_cpu_busy:ratio_rate30s",
		Stress:    "node:ensemble_jvb_stress_level:max",
		Endpoints: "node:ensemble_jvb_endpoints:sum",
		Age:       "time() - node:ensemble_scrape_timestamp:seconds",
	}
}

// Prometheus reads load with PromQL instant queries.
type Prometheus struct {
	api v1.API
	cfg Config
}

var _ Source = (*Prometheus)(nil)

// NewPrometheus is the Factory of the prometheus source.
func NewPrometheus(cfg Config) (Source, error) {
	if cfg.PrometheusURL == "" {
		return nil, errors.New("prometheus load source: empty Prometheus URL")
	}
	q := cfg.Queries
	if q.CPU == "" || q.Stress == "" || q.Endpoints == "" || q.Age == "" {
		return nil, errors.New("prometheus load source: every query must be set")
	}
	var rt http.RoundTripper = http.DefaultTransport
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		rt = cfg.HTTPClient.Transport
	}
	client, err := api.NewClient(api.Config{Address: cfg.PrometheusURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus load source: %w", err)
	}
	return &Prometheus{api: v1.NewAPI(client), cfg: cfg}, nil
}

// Name implements Source.
func (p *Prometheus) Name() string { return "prometheus" }

// Fetch implements Source. The four queries run at one evaluation time so their results line up.
func (p *Prometheus) Fetch(ctx context.Context, _ []catalog.Node) (map[string]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	now := p.cfg.Now()
	out := map[string]Sample{}
	get := func(id string) Sample {
		s, ok := out[id]
		if !ok {
			s = Unknown()
		}
		return s
	}
	fields := []struct {
		name  string
		query string
		set   func(*Sample, float64)
	}{
		{"cpu", p.cfg.Queries.CPU, func(s *Sample, v float64) { s.CPU = v }},
		{"stress", p.cfg.Queries.Stress, func(s *Sample, v float64) { s.Stress = v }},
		{"endpoints", p.cfg.Queries.Endpoints, func(s *Sample, v float64) { s.Endpoints = v }},
		{"age", p.cfg.Queries.Age, func(s *Sample, v float64) {
			if v >= 0 && v < math.MaxInt64/float64(time.Second) {
				s.At = now.Add(-time.Duration(v * float64(time.Second)))
			}
		}},
	}
	for _, f := range fields {
		vec, err := p.query(ctx, f.name, f.query, now)
		if err != nil {
			return nil, err
		}
		for _, smp := range vec {
			id := string(smp.Metric[NodeLabel])
			v := float64(smp.Value)
			if id == "" || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			s := get(id)
			f.set(&s, v)
			out[id] = s
		}
	}
	return out, nil
}

func (p *Prometheus) query(ctx context.Context, name, q string, ts time.Time) (model.Vector, error) {
	val, warnings, _, err := p.api.Query(ctx, q, ts, v1.WithTimeout(p.cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("prometheus %s query %q: %w", name, q, err)
	}
	if len(warnings) > 0 {
		p.cfg.Logger.Warn("prometheus query warnings", "query", name, "warnings", warnings)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("prometheus %s query %q: want an instant vector, got %s", name, q, val.Type())
	}
	return vec, nil
}
