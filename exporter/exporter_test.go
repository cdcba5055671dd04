package exporter

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// collectorFunc adapts a function to Collector; it describes testDesc.
type collectorFunc func(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error)

func (f collectorFunc) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	return f(ctx, ms)
}

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- testDesc }

var testDesc = prometheus.NewDesc("test_value", "A test gauge.", []string{"source"}, nil)

func sends(source string, v float64) collectorFunc {
	return func(_ context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
		return append(ms, prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, v, source)), nil
	}
}

// hung appends one metric, then blocks until its ctx ends, and reports on
// returned (buffered) each time it gives up.
func hung(returned chan<- struct{}) collectorFunc {
	return hungSignalling(make(chan struct{}, 100), returned)
}

// hungSignalling is hung that also reports on started (buffered) when it
// begins to hang.
func hungSignalling(started, returned chan<- struct{}) collectorFunc {
	return func(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
		ms = append(ms, prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, 99, "hung"))
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		returned <- struct{}{}
		return ms, ctx.Err()
	}
}

func TestExporterIsolatesFailures(t *testing.T) {
	returned := make(chan struct{}, 10)
	e := New(map[string]Collector{
		"good": sends("good", 1),
		"broken": collectorFunc(func(_ context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
			return append(ms, prometheus.MustNewConstMetric(testDesc, prometheus.GaugeValue, 0, "broken")), errors.New("boom")
		}),
		"empty": collectorFunc(func(_ context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) { return ms, ErrNoData }),
		"hung":  hung(returned),
		"hung2": hung(returned),
	}, Options{Timeout: time.Second})

	want := `
# HELP ensemble_scrape_collector_success Whether a collector succeeded during the last scrape (1) or failed, timed out or had no data (0).
# TYPE ensemble_scrape_collector_success gauge
ensemble_scrape_collector_success{collector="broken"} 0
ensemble_scrape_collector_success{collector="empty"} 0
ensemble_scrape_collector_success{collector="good"} 1
ensemble_scrape_collector_success{collector="hung"} 0
ensemble_scrape_collector_success{collector="hung2"} 0
# HELP test_value A test gauge.
# TYPE test_value gauge
test_value{source="broken"} 0
test_value{source="good"} 1
`
	// The hung collectors' metrics made before they hung must not appear.
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "ensemble_scrape_collector_success", "test_value"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatal("an abandoned collector's context was never cancelled")
		}
	}
	if n := testutil.CollectAndCount(e, "ensemble_scrape_collector_duration_seconds"); n != 5 {
		t.Errorf("%d duration series, want 5", n)
	}
}

func TestExporterLint(t *testing.T) {
	e := New(map[string]Collector{"good": sends("good", 1)}, Options{})
	testenv.CollectAndLint(t, e, "ensemble_scrape_collector_duration_seconds", "ensemble_scrape_collector_success")
}

func TestExporterConcurrentScrapes(t *testing.T) {
	e := New(map[string]Collector{"a": sends("a", 1), "b": sends("b", 2)}, Options{})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e)
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := reg.Gather()
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRegistry(t *testing.T) {
	ok := Spec{Name: "cpu", New: func(*slog.Logger) (Collector, error) { return nil, nil }}
	if _, err := NewRegistry(ok, ok); err == nil || !strings.Contains(err.Error(), "registered twice") {
		t.Errorf("duplicate: err = %v", err)
	}
	for _, name := range []string{"", "CPU", "cpu.x", "1cpu"} {
		if _, err := NewRegistry(Spec{Name: name, New: ok.New}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := NewRegistry(Spec{Name: "cpu"}); err == nil {
		t.Error("nil New accepted")
	}
	r, err := NewRegistry(ok, Spec{Name: "jvb", New: ok.New})
	if err != nil {
		t.Fatal(err)
	}
	if s, found := r.Lookup("jvb"); !found || s.Name != "jvb" {
		t.Errorf("Lookup(jvb) = %v, %v", s, found)
	}
	if got := len(r.Specs()); got != 2 {
		t.Errorf("%d specs, want 2", got)
	}
}
