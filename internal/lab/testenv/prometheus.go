package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Server gives Reload, Query and the rest.
	Server *services.Prometheus
}

// StartPrometheus starts Prometheus with configYAML as its complete
// prometheus.yml and stops it when the test ends.
func StartPrometheus(t testing.TB, configYAML string) *Prometheus {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	p, err := services.StartPrometheus(ctx, services.PrometheusOptions{ConfigYAML: configYAML})
	if err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	cleanup(t, "prometheus", p.Log, p.Close)
	return &Prometheus{URL: p.URL, Server: p}
}

// Restart stops the server and starts it again on the same URL with its
// TSDB kept.
func (p *Prometheus) Restart(t testing.TB) {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	if err := p.Server.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// Query runs an instant query and fails the test on error.
func (p *Prometheus) Query(t testing.TB, query string) []services.Sample {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	s, err := p.Server.Query(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// WaitForSample polls query until it has a sample or timeout passes (allow
// 15 s or more for the first scrape).
func (p *Prometheus) WaitForSample(t testing.TB, timeout time.Duration, query string) []services.Sample {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, timeout)
	defer cancel2()
	s, err := p.Server.WaitForSample(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
