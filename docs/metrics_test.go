// Package docs holds only tests: they keep the operator documentation in step with the code.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// documentedRow matches a table row of metrics.md: | `name` | type | ...
var documentedRow = regexp.MustCompile("(?m)^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\| (counter|gauge|histogram|summary|untyped) \\|")

// typeLine matches an exposition TYPE line.
var typeLine = regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`)

// recordedRow matches a row of the recorded-series table: | `node:...` | meaning |
var recordedRow = regexp.MustCompile("(?m)^\\| `(node:[a-zA-Z0-9_:]+)` \\|")

func documented(t *testing.T) (types map[string]string, recorded map[string]bool) {
	t.Helper()
	b, err := os.ReadFile("metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	types = map[string]string{}
	for _, m := range documentedRow.FindAllStringSubmatch(string(b), -1) {
		if _, dup := types[m[1]]; dup {
			t.Errorf("metrics.md documents %s twice", m[1])
		}
		types[m[1]] = m[2]
	}
	recorded = map[string]bool{}
	for _, m := range recordedRow.FindAllStringSubmatch(string(b), -1) {
		recorded[m[1]] = true
	}
	return types, recorded
}

// TestMetricsMatchGolden: every family of the exporter's golden exposition file is documented with its
// type, and every documented node metric is in it.
func TestMetricsMatchGolden(t *testing.T) {
	// The golden file keeps # TYPE lines of families whose volatile samples it removes; an exposition
	// parser would drop those families, so read the TYPE lines themselves.
	b, err := os.ReadFile(filepath.Join("..", "exporter", "testdata", "e2e-metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]string{}
	for _, m := range typeLine.FindAllStringSubmatch(string(b), -1) {
		fams[m[1]] = m[2]
	}
	if len(fams) < 20 {
		t.Fatalf("golden file has only %d families", len(fams))
	}
	types, _ := documented(t)
	for name, want := range fams {
		switch got, ok := types[name]; {
		case !ok:
			t.Errorf("%s (%s) is exported but not in metrics.md", name, want)
		case got != want:
			t.Errorf("%s: metrics.md says %s, the exporter exports a %s", name, got, want)
		}
	}
	for name := range types {
		if _, ok := fams[name]; ok || strings.HasPrefix(name, "ensemble_sidecar_") || strings.HasPrefix(name, "ensemble_selector_") ||
			strings.HasPrefix(name, "ensemble_fleet_") { // the selector's capacity signal
			continue
		}
		t.Errorf("metrics.md documents %s, which the exporter does not export", name)
	}
}

// TestMetricsMatchSources: every documented sidecar and selector metric is still defined in its
// package (their types and completeness are checked against live /metrics in e2e.TestMetricsDocumented).
func TestMetricsMatchSources(t *testing.T) {
	types, _ := documented(t)
	src := map[string]string{
		"ensemble_sidecar_":  sources(t, filepath.Join("..", "sidecar")),
		"ensemble_selector_": sources(t, filepath.Join("..", "selector")),
		"ensemble_fleet_":    sources(t, filepath.Join("..", "selector")),
	}
	n := 0
	for name := range types {
		for prefix, code := range src {
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			n++
			// The selector builds names from a namespace and a short name.
			if !strings.Contains(code, `"`+name+`"`) && !strings.Contains(code, `"`+strings.TrimPrefix(name, prefix)+`"`) {
				t.Errorf("metrics.md documents %s, which is not defined in the %s sources", name, strings.TrimSuffix(prefix, "_"))
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d sidecar and selector metrics documented", n)
	}
}

// sources returns the non-test Go files of dir, concatenated.
func sources(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var sb strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
	}
	return sb.String()
}

// TestRecordedSeries: the recorded-series table lists exactly the recording rules the selector reads.
func TestRecordedSeries(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "rules", "selector.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	_, recorded := documented(t)
	want := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				want[r.Record] = true
				if !recorded[r.Record] {
					t.Errorf("recording rule %s is not in metrics.md", r.Record)
				}
			}
		}
	}
	for r := range recorded {
		if !want[r] {
			t.Errorf("metrics.md lists %s, which rules/selector.yml does not record", r)
		}
	}
}
