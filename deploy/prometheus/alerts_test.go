package prometheus

import (
	"os"
	"strings"
	"testing"
)

// TestAlerts checks the alert rules and runs their promtool unit tests, which
// assert for each alert both that it fires with the documented labels and
// annotations and that it stays quiet before its `for` period.
func TestAlerts(t *testing.T) {
	promtool(t, "check", "rules", "rules/alerts.yml")
	out := promtool(t, "test", "rules", "tests/alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %s", out)
	}
	cases, err := os.ReadFile("tests/alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, alert := range []string{"EnsembleSidecarDown", "EnsembleNodeUnhealthy", "EnsembleFleetSaturated",
		"EnsembleSelectorDegraded", "EnsembleConsulUnreachable"} {
		if !strings.Contains(string(cases), "alertname: "+alert) {
			t.Errorf("tests/alerts_test.yml has no case for %s", alert)
		}
	}
}
