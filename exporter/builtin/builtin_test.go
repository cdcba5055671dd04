package builtin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func parse(t *testing.T, args ...string) (*Flags, error) {
	t.Helper()
	app := kingpin.New("ensemble-test", "").DefaultEnvars()
	f := AddFlags(app)
	_, err := app.Parse(args)
	return f, err
}

func TestFlagsConfig(t *testing.T) {
	t.Setenv("ENSEMBLE_TEST_COLLECTOR_JVB_TIMEOUT", "750ms")
	f, err := parse(t, "--path.procfs=/host/proc", "--collector.cpu.per-cpu",
		"--collector.nginx.scrape-uri=http://127.0.0.1:8081/status", "--collector.jvb.url=https://jvb.local:8443",
		"--collector.network.device-include=eth.*", "--no-collector.memory")
	if err != nil {
		t.Fatal(err)
	}
	c := f.Config()
	if c.CPU.ProcPath != "/host/proc" || c.Memory.ProcPath != "/host/proc" || c.Network.ProcPath != "/host/proc" {
		t.Errorf("procfs paths %q %q %q", c.CPU.ProcPath, c.Memory.ProcPath, c.Network.ProcPath)
	}
	if !c.CPU.PerCPU || c.Nginx.URL != "http://127.0.0.1:8081/status" || c.JVB.URL != "https://jvb.local:8443" {
		t.Errorf("config %+v", c)
	}
	if c.JVB.Timeout != 750*time.Millisecond || c.Nginx.Timeout != DefaultConfig().Nginx.Timeout {
		t.Errorf("timeouts jvb %v nginx %v", c.JVB.Timeout, c.Nginx.Timeout)
	}
	if c.Network.DeviceInclude == nil || !c.Network.DeviceInclude.MatchString("eth1") || c.Network.DeviceExclude.MatchString("eth1") {
		t.Errorf("device filters %v %v", c.Network.DeviceInclude, c.Network.DeviceExclude)
	}
	if got := strings.Join(f.Enabled(), ","); got != "cpu,network,nginx,jvb" {
		t.Errorf("enabled %q", got)
	}
}

func TestNewExporterReportsBadProcfs(t *testing.T) {
	f, err := parse(t, "--path.procfs=/nonexistent/proc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewExporter(nil); err == nil || !strings.Contains(err.Error(), "collector cpu: cpu: procfs /nonexistent/proc") {
		t.Errorf("err = %v, want it to name the collector and the path", err)
	}
}

func TestFlagsRejectBadValues(t *testing.T) {
	for _, args := range [][]string{
		{"--collector.jvb.url=127.0.0.1:8080"},
		{"--collector.nginx.scrape-uri=file:///etc/passwd"},
		{"--collector.nginx.timeout=-2s"},
		{"--collector.network.device-exclude=(lo"},
		{"--collector.nosuch"},
	} {
		if _, err := parse(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// scrapeAll builds the exporter from args, scrapes it once through the
// handler with the Prometheus timeout header set to timeout, and returns
// the body.
func scrapeAll(t *testing.T, timeout string, args ...string) string {
	t.Helper()
	f, err := parse(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.NewExporter(nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.Handler(exporter.HandlerOptions{}))
	defer srv.Close()
	return string(testenv.Get(t, srv.URL, http.Header{exporter.ScrapeTimeoutHeader: {timeout}}))
}

// One broken source costs only its own collector: each case breaks one
// thing and checks that every other collector still reports in full.
func TestScrapeSurvivesOneBrokenSource(t *testing.T) {
	nginx := testenv.StartNginx(t, testenv.NginxOptions{})
	emu := jvbemu.New(jvbemu.Options{HugeBytes: 8 << 20})
	emu.StartConference(5)
	jvbSrv := httptest.NewServer(emu)
	t.Cleanup(jvbSrv.Close)
	emptyProc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(emptyProc, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	closed := fmt.Sprintf("http://127.0.0.1:%d/nginx_status", testenv.FreePort(t))

	intact := map[string][]string{
		"cpu":     {`ensemble_cpu_seconds_total{mode="user"}`, "ensemble_cpu_load1 "},
		"memory":  {"ensemble_memory_available_bytes "},
		"network": {"ensemble_network_receive_bytes_total{"},
		"nginx":   {"ensemble_nginx_up 1", "ensemble_nginx_http_requests_total "},
		"jvb":     {"ensemble_jvb_up 1", "ensemble_jvb_conferences 1", "ensemble_jvb_endpoints 5"},
	}
	tests := []struct {
		name     string
		fault    jvbemu.Fault
		nginxURL string // default: the running nginx
		args     []string
		broken   []string // collectors expected to fail
		also     []string // lines the broken collectors still send
	}{
		{name: "jvb hangs", fault: jvbemu.Hang, broken: []string{"jvb"}},
		{name: "jvb huge body", fault: jvbemu.Huge, broken: []string{"jvb"}, also: []string{"ensemble_jvb_up 0"}},
		{name: "jvb garbage", fault: jvbemu.Garbage, broken: []string{"jvb"}, also: []string{"ensemble_jvb_up 0"}},
		{name: "nginx down", nginxURL: closed, broken: []string{"nginx"}, also: []string{"ensemble_nginx_up 0"}},
		{name: "procfs missing", args: []string{"--path.procfs=" + emptyProc}, broken: []string{"cpu", "memory", "network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu.SetFault(tt.fault)
			defer emu.SetFault(jvbemu.None)
			nginxURL := nginx.StubStatusURL
			if tt.nginxURL != "" {
				nginxURL = tt.nginxURL
			}
			args := append([]string{
				"--collector.nginx.scrape-uri=" + nginxURL,
				"--collector.jvb.url=" + jvbSrv.URL,
				"--collector.jvb.timeout=5s", // the scrape deadline must be what stops the hang
			}, tt.args...)
			// Only the hang needs a short deadline; the others must finish
			// on their own even under -race on a loaded machine.
			timeout := "20"
			if tt.fault == jvbemu.Hang {
				timeout = "1"
			}
			body := scrapeAll(t, timeout, args...)
			for name, lines := range intact {
				isBroken := strings.Contains(strings.Join(tt.broken, ","), name)
				want := fmt.Sprintf(`ensemble_scrape_collector_success{collector=%q} %d`, name, map[bool]int{true: 0, false: 1}[isBroken])
				if !strings.Contains(body, want) {
					t.Errorf("missing %q", want)
				}
				if isBroken {
					continue
				}
				for _, l := range lines {
					if !strings.Contains(body, l) {
						t.Errorf("collector %s: missing %q", name, l)
					}
				}
			}
			for _, l := range tt.also {
				if !strings.Contains(body, l) {
					t.Errorf("missing %q", l)
				}
			}
			if t.Failed() {
				t.Logf("body:\n%s", body)
			}
		})
	}
}
