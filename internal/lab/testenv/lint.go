package testenv

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// CollectAndLint fails t with every problem testutil.CollectAndLint finds
// in what c collects (only metricNames, if given).
func CollectAndLint(t testing.TB, c prometheus.Collector, metricNames ...string) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c, metricNames...)
	report(t, problems, err)
}

// GatherAndLint fails t with every problem testutil.GatherAndLint finds
// in what g gathers (only metricNames, if given).
func GatherAndLint(t testing.TB, g prometheus.Gatherer, metricNames ...string) {
	t.Helper()
	problems, err := testutil.GatherAndLint(g, metricNames...)
	report(t, problems, err)
}

func report(t testing.TB, problems []promlint.Problem, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("metric lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("metric lint %s: %s", p.Metric, p.Text)
	}
}
