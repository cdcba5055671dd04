package cpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

var names = []string{
	"ensemble_cpu_seconds_total", "ensemble_cpu_logical_cpus",
	"ensemble_cpu_load1", "ensemble_cpu_load5", "ensemble_cpu_load15",
	"ensemble_scrape_collector_success",
}

func TestCollector(t *testing.T) {
	tests := []struct {
		perCPU bool
		want   string
	}{
		{perCPU: false, want: "sum.prom"},
		{perCPU: true, want: "per-cpu.prom"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			c, err := New(Config{ProcPath: filepath.Join("testdata", "proc"), PerCPU: tt.perCPU})
			if err != nil {
				t.Fatal(err)
			}
			e := exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
			want, err := os.Open(filepath.Join("testdata", tt.want))
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			if err := testutil.CollectAndCompare(e, want, names...); err != nil {
				t.Error(err)
			}
			testenv.CollectAndLint(t, e)
		})
	}
}

func TestCollectorMissingFiles(t *testing.T) {
	c, err := New(Config{ProcPath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Update(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "cpu: reading stat") {
		t.Errorf("err = %v, want a cpu: reading stat error", err)
	}
}
