package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdaptPrometheusConfig(t *testing.T) {
	shipped := filepath.Join("..", "..", "..", "deploy", "prometheus", "prometheus-http-sd.yml")
	timing := Timing{ScrapeInterval: 500 * time.Millisecond}
	selectors := filepath.Join(t.TempDir(), "selectors.json")
	if err := os.WriteFile(selectors, []byte(`[{"targets": ["127.0.0.1:18556"]}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	conf, err := adaptPrometheusConfig(shipped, "127.0.0.1:18555", selectors, timing)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"url: http://127.0.0.1:18555/api/v1/sd", "- " + selectors, "scrape_interval: 500ms", "scrape_timeout: 400ms", "evaluation_interval: 500ms"} {
		if !strings.Contains(conf, want) {
			t.Errorf("adapted config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, ":8080") {
		t.Errorf("adapted config still points at the default Consul:\n%s", conf)
	}
	// promtool validates the whole file, rule files included, from another
	// directory: the rule paths must have become absolute.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (run scripts/install-deps.sh): %v", err)
	}
	path := filepath.Join(t.TempDir(), "prometheus-http-sd.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 1 rule files found") && !strings.Contains(string(out), "rule files found") {
		t.Errorf("promtool found no rule files:\n%s", out)
	}
}

func TestAdaptPrometheusConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"not yaml":   "global: [",
		"no http sd": "scrape_configs:\n  - job_name: x\n    static_configs: [{targets: ['127.0.0.1:1']}]\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yml")
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := adaptPrometheusConfig(path, "127.0.0.1:1", "", Timing{ScrapeInterval: time.Second}); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := adaptPrometheusConfig(filepath.Join(dir, "missing.yml"), "127.0.0.1:1", "", Timing{ScrapeInterval: time.Second}); err == nil {
		t.Fatal("no error for a missing file")
	}
}
