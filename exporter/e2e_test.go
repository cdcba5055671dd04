package exporter_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/e2e-metrics.txt")

const golden = "testdata/e2e-metrics.txt"

// Volatile series are removed before comparing with the golden file:
//
//   - whole families matching volatileFamily: the Go runtime, process and
//     promhttp metrics, which change with every run;
//   - samples (HELP and TYPE stay) matching volatileSample: collector
//     durations, the build info (Go version, revision) and nginx's live
//     counters, which count the readiness probes of the test's own nginx.
//
// Everything else is deterministic: CPU, memory and network read procfs
// fixtures (--path.procfs) and the JVB emulator runs on a stopped clock.
var (
	volatileFamily = regexp.MustCompile(`^(?:# (?:HELP|TYPE) )?(?:go|process|promhttp)_`)
	volatileSample = regexp.MustCompile(`^(?:ensemble_scrape_collector_duration_seconds|ensemble_exporter_build_info|ensemble_nginx_(?:connections_[a-z_]+|http_requests_total))[ {]`)
)

const goldenHeader = `# Golden /metrics of cmd/ensemble-exporter against a real nginx and the JVB
# emulator (go test ./exporter -run TestEndToEnd -update rewrites it).
# Volatile series removed; see exporter/e2e_test.go.
`

func filterVolatile(body []byte) []byte {
	var out bytes.Buffer
	out.WriteString(goldenHeader)
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if volatileFamily.MatchString(line) || volatileSample.MatchString(line) {
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// buildExporter compiles cmd/ensemble-exporter into a temporary directory.
func buildExporter(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go toolchain not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "ensemble-exporter")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/ensemble-jitsi/ensemble/cmd/ensemble-exporter").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var listening = regexp.MustCompile(`msg=listening address=(\S+)`)

// startExporter runs bin with args plus a free loopback address and
// returns its base URL once it logs the address it bound.
func startExporter(t testing.TB, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"--web.listen-address=127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("exporter exited before listening")
		}
		return "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("exporter did not log its address")
	}
	return ""
}

// procfsFixture assembles a procfs root from the collectors' fixtures.
func procfsFixture(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for dst, src := range map[string]string{
		"stat":    "cpu/testdata/proc/stat",
		"loadavg": "cpu/testdata/proc/loadavg",
		"meminfo": "memory/testdata/proc/meminfo",
		"net/dev": "network/testdata/proc/net/dev",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// startEmulator serves a JVB emulator with three conferences (6, 4, 2) on
// a stopped clock, so its counters do not move.
func startEmulator(t testing.TB) (*jvbemu.Emulator, string) {
	t.Helper()
	stopped := time.Date(2026, 11, 25, 10, 15, 42, 118e6, time.UTC)
	emu := jvbemu.New(jvbemu.Options{Clock: func() time.Time { return stopped }, Region: "eu-central-1"})
	for _, size := range []int{6, 4, 2} {
		emu.StartConference(size)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return emu, srv.URL
}

func TestEndToEnd(t *testing.T) {
	nginx := testenv.StartNginx(t, testenv.NginxOptions{})
	_, jvbURL := startEmulator(t)
	base := startExporter(t, buildExporter(t),
		"--path.procfs="+procfsFixture(t),
		"--collector.nginx.scrape-uri="+nginx.StubStatusURL,
		"--collector.jvb.url="+jvbURL,
		// The bridge's own /metrics: it has every field /colibri/stats has
		// (TestCollectorSourcesAgree) plus the conference distributions.
		"--collector.jvb.source=metrics",
		"--collector.network.device-exclude=lo|veth.*",
		"--web.exporter-metrics")
	body := testenv.Get(t, base+"/metrics", nil)

	// Present before filtering, though its values are volatile.
	for _, want := range []string{"ensemble_exporter_build_info{", "go_goroutines ", "ensemble_nginx_http_requests_total "} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	got := filterVolatile(body)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("/metrics differs from %s (run with -update after checking):\n%s", golden, lineDiff(want, got))
	}
}

// lineDiff lists lines only in want (-) or only in got (+).
func lineDiff(want, got []byte) string {
	count := map[string]int{}
	for _, l := range strings.Split(string(want), "\n") {
		count[l]++
	}
	for _, l := range strings.Split(string(got), "\n") {
		count[l]--
	}
	var b strings.Builder
	for l, n := range count {
		switch {
		case n > 0:
			fmt.Fprintf(&b, "- %s\n", l)
		case n < 0:
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// The golden file is valid exposition text by Prometheus's own checker.
func TestGoldenPassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not on PATH (run scripts/install-deps.sh): %v", err)
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics %s: %v\n%s", golden, err, out)
	}
}
