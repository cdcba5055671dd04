package jvb

import (
	"bytes"
	"errors"
	"flag"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/exporter/internal/fetch"
	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.prom from the collector's output")

// collectorNames are every metric the collector may send, plus the
// exporter's success meta-metric (the duration is volatile).
func collectorNames() []string {
	names := []string{"ensemble_jvb_up", "ensemble_jvb_healthy", "ensemble_jvb_info", "ensemble_scrape_collector_success"}
	for _, f := range fields {
		names = append(names, "ensemble_jvb_"+f.name)
	}
	for _, f := range boolFields {
		names = append(names, "ensemble_jvb_"+f.name)
	}
	for _, f := range distFields {
		names = append(names, "ensemble_jvb_"+f.name)
	}
	return names
}

func newExporter(c *Collector) *exporter.Exporter {
	return exporter.New(map[string]exporter.Collector{Name: c}, exporter.Options{})
}

// gatherText renders what a pedantic registry gathers from e, restricted
// to collectorNames.
func gatherText(t *testing.T, e prometheus.Collector) []byte {
	t.Helper()
	got, err := testutil.CollectAndFormat(e, expfmt.TypeTextPlain, collectorNames()...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Each recorded payload is served as a static file by a real nginx, so the
// whole path (HTTP, body limit, decode, conversion) runs on known bytes.
func TestCollectorRecordedPayloads(t *testing.T) {
	cases := []string{
		"release-2020-03", "float-bitrate-2020", "release-2021-06", "release-2021-11", "colibri2-2022",
		"release-2023-05", "sample-2026", "conference-sizes-string", "jicofo-2023",
	}
	n := testenv.StartNginx(t, testenv.NginxOptions{ExtraServerConf: `
    location ~ ^/[^/]+/about/health$ { return 200; }
    location ~ ^/[^/]+/colibri/stats$ { default_type application/json; }
`})
	for _, name := range cases {
		body := readFixture(t, name+".json")
		dir := filepath.Join(n.Dir, "html", name, "colibri")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "stats"), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			e := newExporter(mustNew(t, NewClient(n.URL+"/"+name, nil), 5*time.Second, SourceColibri, nil))
			golden := filepath.Join("testdata", name+".prom")
			if *update {
				if err := os.WriteFile(golden, gatherText(t, e), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.CollectAndCompare(e, bytes.NewReader(want), collectorNames()...); err != nil {
				t.Error(err)
			}
			testenv.CollectAndLint(t, e)
			// What an operator watches most is there for every release.
			got := string(gatherText(t, e))
			for _, line := range []string{"\nensemble_jvb_up 1\n", "\nensemble_jvb_endpoints ", "\nensemble_jvb_conferences ", "\nensemble_jvb_largest_conference "} {
				if !strings.Contains(got, line) {
					t.Errorf("no %q in\n%s", strings.TrimSpace(line), got)
				}
			}
		})
	}
}

func mustNew(t testing.TB, client *Client, timeout time.Duration, source string, logger *slog.Logger) *Collector {
	t.Helper()
	c, err := New(client, timeout, source, logger)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startEmulator(t *testing.T, opts jvbemu.Options) (*jvbemu.Emulator, string) {
	t.Helper()
	emu := jvbemu.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

// sentNames runs one Update and returns the names of the metrics sent.
func sentNames(t *testing.T, c *Collector) (map[string]float64, error) {
	t.Helper()
	ms, err := c.Update(t.Context(), nil)
	got := map[string]float64{}
	for _, m := range ms {
		name := m.Desc().String()
		name = name[strings.Index(name, `"`)+1:]
		name = name[:strings.Index(name, `"`)]
		got[name] = testutil.ToFloat64(constCollector{m})
	}
	return got, err
}

// constCollector lets testutil.ToFloat64 read one metric.
type constCollector struct{ m prometheus.Metric }

func (c constCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.m.Desc() }
func (c constCollector) Collect(ch chan<- prometheus.Metric) { ch <- c.m }

func TestCollectorFaults(t *testing.T) {
	tests := []struct {
		fault   jvbemu.Fault
		wantErr string
		is      error
	}{
		{fault: jvbemu.Hang, wantErr: "context deadline exceeded"},
		{fault: jvbemu.Error500, wantErr: "unexpected status 500"},
		{fault: jvbemu.Garbage, wantErr: "colibri stats: invalid JSON"},
		{fault: jvbemu.Huge, is: fetch.ErrTooLarge},
		{fault: jvbemu.RESTDisabled, is: exporter.ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			emu, url := startEmulator(t, jvbemu.Options{})
			emu.StartConference(4)
			emu.SetFault(tt.fault)
			timeout := 10 * time.Second // generous: -race on a loaded machine reads 1 MiB slowly
			if tt.fault == jvbemu.Hang {
				timeout = 300 * time.Millisecond
			}
			c := mustNew(t, NewClient(url, nil), timeout, SourceColibri, nil)
			got, err := sentNames(t, c)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
			if tt.fault != jvbemu.RESTDisabled && !strings.Contains(err.Error(), url+"/colibri/stats") {
				t.Errorf("err = %v, want it to name the URL", err)
			}
			if v, ok := got["ensemble_jvb_up"]; !ok || v != 0 {
				t.Errorf("ensemble_jvb_up = %v, %v; want 0", v, ok)
			}
			delete(got, "ensemble_jvb_up")
			delete(got, "ensemble_jvb_healthy") // its own endpoint; may answer
			if len(got) != 0 {
				t.Errorf("sent %v besides up and healthy", got)
			}
		})
	}
}

// A bridge with REST disabled gets one warning naming the setting, not one
// per scrape; it is logged again after the bridge recovers and fails anew.
func TestCollectorRESTDisabledLogsOnce(t *testing.T) {
	emu, url := startEmulator(t, jvbemu.Options{})
	var logs bytes.Buffer
	c := mustNew(t, NewClient(url, nil), time.Second, SourceColibri, slog.New(slog.NewTextHandler(&logs, nil)))
	emu.SetFault(jvbemu.RESTDisabled)
	for range 3 {
		if _, err := sentNames(t, c); !errors.Is(err, exporter.ErrNoData) {
			t.Fatalf("err = %v, want ErrNoData", err)
		}
	}
	if n := strings.Count(logs.String(), "videobridge.apis.rest.enabled=true"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	emu.SetFault(jvbemu.None)
	if got, err := sentNames(t, c); err != nil || got["ensemble_jvb_up"] != 1 {
		t.Fatalf("after recovery: up = %v, err = %v", got["ensemble_jvb_up"], err)
	}
	emu.SetFault(jvbemu.RESTDisabled)
	sentNames(t, c)
	if n := strings.Count(logs.String(), "videobridge.apis.rest.enabled=true"); n != 2 {
		t.Errorf("%d warnings after a recovery and a new failure, want 2", n)
	}
}

func TestCollectorFollowsEmulator(t *testing.T) {
	emu, url := startEmulator(t, jvbemu.Options{})
	c := mustNew(t, NewClient(url, nil), time.Second, SourceColibri, nil)
	emu.StartConference(6)
	emu.StartConference(4)
	emu.SetStress(0.25)
	got, err := sentNames(t, c)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"ensemble_jvb_up": 1, "ensemble_jvb_healthy": 1, "ensemble_jvb_conferences": 2,
		"ensemble_jvb_endpoints": 10, "ensemble_jvb_largest_conference": 6, "ensemble_jvb_stress_level": 0.25,
		"ensemble_jvb_drain": 0, "ensemble_jvb_graceful_shutdown": 0, "ensemble_jvb_shutting_down": 0,
		"ensemble_jvb_info": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// Rates are converted from the bridge's kbps; read the raw reply too.
	stats, err := NewClient(url, nil).Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	kbpsDown, _ := stats.Number("bit_rate_download")
	if kbpsDown == 0 || got["ensemble_jvb_receive_bytes_per_second"] != kbpsDown*1000/8 {
		t.Errorf("receive_bytes_per_second = %v for bit_rate_download %v kbps", got["ensemble_jvb_receive_bytes_per_second"], kbpsDown)
	}

	emu.SetHealth(500, "Sticky failure.")
	if got, err = sentNames(t, c); err != nil || got["ensemble_jvb_healthy"] != 0 || got["ensemble_jvb_up"] != 1 {
		t.Errorf("unhealthy bridge: healthy = %v, up = %v, err = %v", got["ensemble_jvb_healthy"], got["ensemble_jvb_up"], err)
	}
}
