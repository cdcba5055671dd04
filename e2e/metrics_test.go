package e2e

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// docRow matches a metric row of docs/metrics.md: | `name` | type | ...
var docRow = regexp.MustCompile("(?m)^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\| (counter|gauge|histogram|summary|untyped) \\|")

// Every ensemble_* metric a live sidecar and selector serve is in docs/metrics.md with its type
// (docs/metrics_test.go checks the exporter's golden file and the sources the other way round).
func TestMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]string{}
	for _, m := range docRow.FindAllStringSubmatch(string(b), -1) {
		doc[m[1]] = m[2]
	}
	f := startFleet(t, func(o *fleet.Options) { o.Nodes = 1 })
	waitSettled(t, f)
	// A placement fills the decision histograms and counters.
	mustRoom(t, f.Selectors[0].URL, "metrics-room")
	n := f.Nodes[0]
	endpoints := map[string]string{
		"sidecar":  n.SidecarURL() + "/metrics",
		"selector": f.Selectors[0].URL + "/metrics",
	}
	for part, url := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fams, err := families(ctx, url)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for name, mf := range fams {
			if !strings.HasPrefix(name, "ensemble_") {
				continue
			}
			seen++
			want := strings.ToLower(mf.GetType().String())
			switch got, ok := doc[name]; {
			case !ok:
				t.Errorf("%s serves %s (%s), which docs/metrics.md does not document", part, name, want)
			case got != want:
				t.Errorf("%s: docs/metrics.md says %s, the %s serves a %s", name, got, part, want)
			}
		}
		t.Logf("%s: %d ensemble_* families, all checked", part, seen)
		if seen < 10 {
			t.Errorf("%s serves only %d ensemble_* families", part, seen)
		}
	}
}
