package load

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// promConfig scrapes the targets every second with the `node` label the shipped configuration sets,
// and loads the shipped recording rules that the default queries read.
func promConfig(t *testing.T, targets map[string]*testenv.Target) string {
	t.Helper()
	rules, err := filepath.Abs("../../deploy/prometheus/rules/selector.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n  - job_name: jitsi\n    static_configs:\n", rules)
	for id, tg := range targets {
		cfg += fmt.Sprintf("      - targets: [%q]\n        labels: {node: %q, region: eu}\n", tg.Addr(), id)
	}
	return cfg
}

func TestPrometheusFetch(t *testing.T) {
	a, b := testenv.StartTarget(2), testenv.StartTarget(8)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	a.Set(0.2, 0.1, 3)
	b.Set(0.7, 0.6, 30)
	prom := testenv.StartPrometheus(t, promConfig(t, map[string]*testenv.Target{"a": a, "b": b}))

	src, err := Builtin().New("prometheus", Config{PrometheusURL: prom.URL, Queries: DefaultQueries(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 40*time.Second, func() error {
		got, err := src.Fetch(context.Background(), nil)
		if err != nil {
			return err
		}
		for id, want := range map[string]Sample{"a": {CPU: 0.2, Stress: 0.1, Endpoints: 3}, "b": {CPU: 0.7, Stress: 0.6, Endpoints: 30}} {
			s, ok := got[id]
			if !ok {
				return fmt.Errorf("no sample for %s yet: %v", id, got)
			}
			if math.IsNaN(s.CPU) || math.Abs(s.CPU-want.CPU) > 0.05 || s.Stress != want.Stress || s.Endpoints != want.Endpoints {
				return fmt.Errorf("%s: got %+v, want about %+v", id, s, want)
			}
			if age := time.Since(s.At); age < 0 || age > 3*time.Second {
				return fmt.Errorf("%s: data age %v, want within 3s (1s scrape + 1s rules)", id, age)
			}
		}
		return nil
	})

	// A Prometheus that does not answer is an error of the whole source, within the timeout.
	dead, err := Builtin().New("prometheus", Config{PrometheusURL: "http://127.0.0.1:1", Queries: DefaultQueries(), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Fetch(context.Background(), nil); err == nil {
		t.Fatal("Fetch from a closed port returned no error")
	}
	bad, err := Builtin().New("prometheus", Config{PrometheusURL: prom.URL, Queries: Queries{CPU: "rate(", Stress: "1", Endpoints: "1", Age: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Fetch(context.Background(), nil); err == nil {
		t.Fatal("a malformed query returned no error")
	}
}
