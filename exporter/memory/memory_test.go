package memory

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestCollector(t *testing.T) {
	c, err := New(Config{ProcPath: filepath.Join("testdata", "proc")})
	if err != nil {
		t.Fatal(err)
	}
	e := exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
	// 8039112 kB and 5123456 kB in bytes.
	want := `
# HELP ensemble_memory_available_bytes Memory available for new work without swapping, in bytes.
# TYPE ensemble_memory_available_bytes gauge
ensemble_memory_available_bytes 5.246418944e+09
# HELP ensemble_memory_total_bytes Usable physical memory in bytes.
# TYPE ensemble_memory_total_bytes gauge
ensemble_memory_total_bytes 8.232050688e+09
# HELP ensemble_scrape_collector_success Whether a collector succeeded during the last scrape (1) or failed, timed out or had no data (0).
# TYPE ensemble_scrape_collector_success gauge
ensemble_scrape_collector_success{collector="memory"} 1
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want),
		"ensemble_memory_available_bytes", "ensemble_memory_total_bytes", "ensemble_scrape_collector_success"); err != nil {
		t.Error(err)
	}
	testenv.CollectAndLint(t, e)
}

func TestCollectorWithoutMemAvailable(t *testing.T) {
	c, err := New(Config{ProcPath: filepath.Join("testdata", "old-kernel")})
	if err != nil {
		t.Fatal(err)
	}
	e := exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
	if n := testutil.CollectAndCount(e, "ensemble_memory_total_bytes", "ensemble_memory_available_bytes"); n != 0 {
		t.Errorf("%d memory series from a meminfo without MemAvailable, want 0", n)
	}
	want := `
# HELP ensemble_scrape_collector_success Whether a collector succeeded during the last scrape (1) or failed, timed out or had no data (0).
# TYPE ensemble_scrape_collector_success gauge
ensemble_scrape_collector_success{collector="memory"} 0
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want), "ensemble_scrape_collector_success"); err != nil {
		t.Error(err)
	}
}
