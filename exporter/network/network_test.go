package network

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func anchored(s string) *regexp.Regexp { return regexp.MustCompile("^(?:" + s + ")$") }

func newExporter(t *testing.T, include, exclude *regexp.Regexp) *exporter.Exporter {
	t.Helper()
	c, err := New(Config{ProcPath: filepath.Join("testdata", "proc"), DeviceInclude: include, DeviceExclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	return exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
}

func TestCollectorFilters(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude *regexp.Regexp
		devices          string
	}{
		{name: "default", exclude: DefaultConfig().DeviceExclude, devices: "docker0,eth0,veth1a2b"},
		{name: "all", devices: "docker0,eth0,lo,veth1a2b"},
		{name: "include", include: anchored("eth.*|lo"), devices: "eth0,lo"},
		{name: "include and exclude", include: anchored("eth.*|lo"), exclude: anchored("lo"), devices: "eth0"},
		{name: "anchored", include: anchored("eth"), devices: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(newExporter(t, tt.include, tt.exclude))
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var devices []string
			for _, mf := range mfs {
				if mf.GetName() != "ensemble_network_receive_bytes_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					devices = append(devices, m.GetLabel()[0].GetValue())
				}
			}
			slices.Sort(devices)
			if got := strings.Join(devices, ","); got != tt.devices {
				t.Errorf("devices %q, want %q", got, tt.devices)
			}
		})
	}
}

func TestCollectorValues(t *testing.T) {
	e := newExporter(t, anchored("eth0"), nil)
	want := `
# HELP ensemble_network_receive_bytes_total Bytes received by the device.
# TYPE ensemble_network_receive_bytes_total counter
ensemble_network_receive_bytes_total{device="eth0"} 9.87654321e+10
# HELP ensemble_network_receive_packets_total Packets received by the device.
# TYPE ensemble_network_receive_packets_total counter
ensemble_network_receive_packets_total{device="eth0"} 1.23456789e+08
# HELP ensemble_network_transmit_bytes_total Bytes transmitted by the device.
# TYPE ensemble_network_transmit_bytes_total counter
ensemble_network_transmit_bytes_total{device="eth0"} 4.5678901234e+10
# HELP ensemble_network_transmit_packets_total Packets transmitted by the device.
# TYPE ensemble_network_transmit_packets_total counter
ensemble_network_transmit_packets_total{device="eth0"} 9.8765432e+07
# HELP ensemble_scrape_collector_success Whether a collector succeeded during the last scrape (1) or failed, timed out or had no data (0).
# TYPE ensemble_scrape_collector_success gauge
ensemble_scrape_collector_success{collector="network"} 1
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want),
		"ensemble_network_receive_bytes_total", "ensemble_network_receive_packets_total",
		"ensemble_network_transmit_bytes_total", "ensemble_network_transmit_packets_total",
		"ensemble_scrape_collector_success"); err != nil {
		t.Error(err)
	}
	testenv.CollectAndLint(t, e)
}
