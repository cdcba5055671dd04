package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Target is one emulated node's sidecar: the part of a sidecar that the selector reads, for tests.
// It serves the contract's CPU, videobridge and scrape metrics on /metrics and a health endpoint on
// /health, with values the test sets. CPU counters advance with the wall clock at the busy ratio
// currently set, so Prometheus's rate() and the direct source's two-reading ratio both see that ratio.
type Target struct {
	srv *httptest.Server

	mu        sync.Mutex
	cpus      float64
	busy      float64
	stress    float64
	endpoints int
	idle      float64
	user      float64
	last      time.Time
}

// StartTarget serves a target with cpus logical CPUs, idle, until Close (which looks like a crash to
// Consul's HTTP check on /health).
func StartTarget(cpus float64) *Target {
	t := &Target{cpus: cpus, last: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", t.metrics)
	mux.HandleFunc("/health", t.health)
	t.srv = httptest.NewServer(mux)
	return t
}

// URL is http://127.0.0.1:PORT.
func (t *Target) URL() string { return t.srv.URL }

// Addr is 127.0.0.1:PORT.
func (t *Target) Addr() string { return t.srv.Listener.Addr().String() }

// Close stops the server, as a crash would.
func (t *Target) Close() { t.srv.Close() }

// Set changes the busy ratio, stress level and endpoint count from now on.
func (t *Target) Set(busy, stress float64, endpoints int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advance()
	t.busy, t.stress, t.endpoints = busy, stress, endpoints
}

func (t *Target) advance() {
	now := time.Now()
	dt := now.Sub(t.last).Seconds() * t.cpus
	t.idle += dt * (1 - t.busy)
	t.user += dt * t.busy
	t.last = now
}

func (t *Target) metrics(w http.ResponseWriter, _ *http.Request) {
	t.mu.Lock()
	t.advance()
	body := fmt.Sprintf(`# TYPE ensemble_cpu_seconds_total counter
ensemble_cpu_seconds_total{mode="idle"} %g
ensemble_cpu_seconds_total{mode="iowait"} 0
ensemble_cpu_seconds_total{mode="user"} %g
# TYPE ensemble_cpu_logical_cpus gauge
ensemble_cpu_logical_cpus %g
# TYPE ensemble_jvb_stress_level gauge
ensemble_jvb_stress_level %g
# TYPE ensemble_jvb_endpoints gauge
ensemble_jvb_endpoints %d
# TYPE ensemble_scrape_collector_success gauge
ensemble_scrape_collector_success{collector="cpu"} 1
ensemble_scrape_collector_success{collector="jvb"} 1
`, t.idle, t.user, t.cpus, t.stress, t.endpoints)
	t.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(body))
}

func (t *Target) health(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("ok\n"))
}
