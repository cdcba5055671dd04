// Package prometheus holds only tests: they check the shipped Prometheus configuration and recording
// rules with promtool, so `go test ./...` covers them.
package prometheus

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (run scripts/install-deps.sh): %v", err)
	}
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRules(t *testing.T) {
	promtool(t, "check", "rules", "rules/selector.yml")
	out := promtool(t, "test", "rules", "tests/selector_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %s", out)
	}
}

func TestCheckConfigHTTPSD(t *testing.T) {
	promtool(t, "check", "config", "prometheus-http-sd.yml")
}

type scrapeConfig struct {
	JobName  string           `yaml:"job_name"`
	Consul   []map[string]any `yaml:"consul_sd_configs"`
	HTTP     []map[string]any `yaml:"http_sd_configs"`
	File     []map[string]any `yaml:"file_sd_configs"`
	Relabel  []map[string]any `yaml:"relabel_configs"`
	Interval string           `yaml:"scrape_interval"`
}

type config struct {
	RuleFiles []string       `yaml:"rule_files"`
	Scrape    []scrapeConfig `yaml:"scrape_configs"`
}

func load(t *testing.T, path string) (config, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c config
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c, b
}

// TestCheckConfigConsul validates prometheus.yml. Debian's promtool is built without Consul service
// discovery and rejects consul_sd_configs, so promtool checks everything else by swapping that block for
// the HTTP one, and the Consul block itself is checked here; the two files must agree on the rest.
func TestCheckConfigConsul(t *testing.T) {
	consul, raw := load(t, "prometheus.yml")
	httpsd, _ := load(t, "prometheus-http-sd.yml")
	job := func(c config) scrapeConfig {
		for _, s := range c.Scrape {
			if s.JobName == "jitsi" {
				return s
			}
		}
		t.Fatal("no jitsi job")
		return scrapeConfig{}
	}
	cj, hj := job(consul), job(httpsd)
	if len(cj.Consul) != 1 || !reflect.DeepEqual(cj.Consul[0]["services"], []any{"jitsi"}) || cj.Consul[0]["server"] == nil {
		t.Fatalf("consul_sd_configs = %v, want one block for service jitsi", cj.Consul)
	}
	if cj.Interval != "5s" {
		t.Fatalf("jitsi scrape interval %q, want 5s", cj.Interval)
	}
	if !reflect.DeepEqual(cj.Relabel, hj.Relabel) || !reflect.DeepEqual(consul.RuleFiles, httpsd.RuleFiles) {
		t.Fatal("prometheus.yml and prometheus-http-sd.yml differ outside the discovery block")
	}
	found := false
	for _, r := range cj.Relabel {
		if reflect.DeepEqual(r["source_labels"], []any{"__meta_consul_service_id"}) && r["target_label"] == "node" {
			found = true
		}
	}
	if !found {
		t.Fatal("no relabelling sets node from __meta_consul_service_id (the selector joins on it)")
	}

	swapped := string(raw)
	for _, service := range []string{"jitsi", "ensemble-selector"} {
		before := swapped
		swapped = strings.Replace(swapped, "consul_sd_configs:\n      - server: 127.0.0.1:8500\n        services: ["+service+"]",
			"http_sd_configs:\n      - url: http://127.0.0.1:8500/", 1)
		if swapped == before {
			t.Fatalf("the consul_sd_configs block of %s changed shape; update this test", service)
		}
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile("rules/selector.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "selector.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(swapped), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "config", filepath.Join(dir, "prometheus.yml"))
}

// TestSelectorJob: the selector alerts select job="ensemble-selector", so both configurations must scrape
// the selectors under that name: prometheus.yml through Consul, prometheus-http-sd.yml through the file
// list it ships, which must be valid file_sd JSON.
func TestSelectorJob(t *testing.T) {
	alerts, err := os.ReadFile("rules/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	const job = "ensemble-selector"
	if !strings.Contains(string(alerts), `ensemble_selector_degraded{job="`+job+`"`) {
		t.Fatalf("rules/alerts.yml no longer selects job %q; update this test and the scrape jobs", job)
	}
	find := func(path string) scrapeConfig {
		c, _ := load(t, path)
		for _, s := range c.Scrape {
			if s.JobName == job {
				return s
			}
		}
		t.Fatalf("%s has no %s job", path, job)
		return scrapeConfig{}
	}
	if j := find("prometheus.yml"); len(j.Consul) != 1 || !reflect.DeepEqual(j.Consul[0]["services"], []any{job}) {
		t.Fatalf("prometheus.yml %s job discovers %v, want the Consul service %s", job, j.Consul, job)
	}
	j := find("prometheus-http-sd.yml")
	if len(j.File) != 1 || !reflect.DeepEqual(j.File[0]["files"], []any{job + ".json"}) {
		t.Fatalf("prometheus-http-sd.yml %s job discovers %v, want file_sd of %s.json", job, j.File, job)
	}
	raw, err := os.ReadFile(job + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var groups []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(raw, &groups); err != nil || len(groups) == 0 || len(groups[0].Targets) == 0 {
		t.Fatalf("%s.json is not a file_sd target list: %v, %+v", job, err, groups)
	}
}
