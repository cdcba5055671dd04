//go:build unix

package exporter_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/exporter/builtin"
	"github.com/ensemble-jitsi/ensemble/exporter/cpu"
	"github.com/ensemble-jitsi/ensemble/exporter/jvb"
	"github.com/ensemble-jitsi/ensemble/exporter/memory"
	"github.com/ensemble-jitsi/ensemble/exporter/network"
	"github.com/ensemble-jitsi/ensemble/exporter/nginx"
	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// benchTargets starts a real nginx and a JVB emulator hosting three
// conferences, as on a small production node.
func benchTargets(b *testing.B) (stubStatusURL, jvbURL string) {
	b.Helper()
	n := testenv.StartNginx(b, testenv.NginxOptions{})
	emu := jvbemu.New(jvbemu.Options{})
	for _, size := range []int{6, 4, 2} {
		emu.StartConference(size)
	}
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	return n.StubStatusURL, srv.URL
}

// BenchmarkScrape is one full scrape as Prometheus sees it: every built-in
// collector (cpu, memory, network from /proc; nginx; JVB stats and health)
// through the Exporter's handler, text encoding included.
func BenchmarkScrape(b *testing.B) { benchmarkScrape(b, "text/plain") }

// BenchmarkScrapeProtobuf is BenchmarkScrape asking for protobuf, which the
// handler serves through a registry and expfmt's encoder: what the text
// format costs without the handler's direct writer.
func BenchmarkScrapeProtobuf(b *testing.B) {
	benchmarkScrape(b, "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
}

func benchmarkScrape(b *testing.B, accept string) {
	stub, jvb := benchTargets(b)
	app := kingpin.New("bench", "")
	flags := builtin.AddFlags(app)
	if _, err := app.Parse([]string{"--collector.nginx.scrape-uri=" + stub, "--collector.jvb.url=" + jvb}); err != nil {
		b.Fatal(err)
	}
	e, err := flags.NewExporter(nil)
	if err != nil {
		b.Fatal(err)
	}
	h := e.Handler(exporter.HandlerOptions{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	req.Header.Set(exporter.ScrapeTimeoutHeader, "10")
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	cpu.report()
}

// BenchmarkFloor is the least any exporter of these sources must do per
// scrape: read /proc/stat and GET stub_status and /colibri/stats over
// kept-alive connections, without parsing or encoding anything.
func BenchmarkFloor(b *testing.B) {
	benchmarkReads(b, []string{"/proc/stat"}, []string{"/colibri/stats"})
}

// BenchmarkFloorAllReads is BenchmarkFloor with every read a full scrape
// makes (also /proc/loadavg, meminfo, net/dev and the bridge's health), still
// without parsing or encoding: what is left of BenchmarkScrape above it is
// the exporter's own work.
func BenchmarkFloorAllReads(b *testing.B) {
	benchmarkReads(b, []string{"/proc/stat", "/proc/loadavg", "/proc/meminfo", "/proc/net/dev"},
		[]string{"/colibri/stats", "/about/health"})
}

// benchmarkReads reads files and GETs stub_status and the bridge's paths,
// one after another, over kept-alive connections.
func benchmarkReads(b *testing.B, files, jvbPaths []string) {
	stub, jvb := benchTargets(b)
	hc := builtin.NewHTTPClient()
	get := func(url string) {
		resp, err := hc.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		for _, f := range files {
			if _, err := os.ReadFile(f); err != nil {
				b.Fatal(err)
			}
		}
		get(stub)
		for _, p := range jvbPaths {
			get(jvb + p)
		}
	}
	cpu.report()
}

// cpuMeter reports the process's CPU time (user + system) per iteration as
// cpu-ns/op. On a shared machine wall time (ns/op) mostly measures waiting
// for a core; CPU time is what a scrape costs the node. It includes the
// in-process JVB emulator, the same in both benchmarks; nginx runs apart.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b: b, start: processCPU(b)} }

func (m cpuMeter) report() {
	m.b.ReportMetric(float64(processCPU(m.b)-m.start)/float64(m.b.N), "cpu-ns/op")
}

// BenchmarkProgramMetrics is what the exporter's own metrics cost per
// scrape: build info alone, and with the Go runtime and process collectors
// (--web.exporter-metrics), which read several /proc/self files each time.
func BenchmarkProgramMetrics(b *testing.B) {
	e := exporter.New(nil, exporter.Options{})
	for _, tt := range []struct {
		name    string
		runtime bool
	}{{"build-info", false}, {"runtime", true}} {
		b.Run(tt.name, func(b *testing.B) {
			opts := exporter.HandlerOptions{Extra: exporter.NewProgramRegistry("bench")}
			if tt.runtime {
				opts.Gatherer = exporter.NewRuntimeRegistry()
			}
			h := e.Handler(opts)
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			cpu.report()
		})
	}
}

// BenchmarkCollectorContract measures the collector contract in one run:
// "append" is the built-in collectors as they are (Update appends to a
// pooled slice), "channel" the same collectors behind the channel contract
// the Exporter had before (a goroutine per collector and a channel send per
// metric). Compare their cpu-ns/op and allocs/op as a ratio.
func BenchmarkCollectorContract(b *testing.B) {
	stub, jvbURL := benchTargets(b)
	hc := builtin.NewHTTPClient()
	collectors := func() map[string]exporter.Collector {
		cpuC, err := cpu.New(cpu.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		memC, err := memory.New(memory.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		netC, err := network.New(network.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		jvbC, err := jvb.New(jvb.NewClient(jvbURL, hc), 5*time.Second, jvb.SourceColibri, nil)
		if err != nil {
			b.Fatal(err)
		}
		return map[string]exporter.Collector{
			"cpu": cpuC, "memory": memC, "network": netC, "jvb": jvbC,
			"nginx": nginx.New(nginx.NewClient(stub, hc), 5*time.Second),
		}
	}
	for _, tt := range []struct {
		name string
		wrap func(exporter.Collector) exporter.Collector
	}{
		{"append", func(c exporter.Collector) exporter.Collector { return c }},
		{"channel", func(c exporter.Collector) exporter.Collector { return channelCollector{c} }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			cs := collectors()
			for name, c := range cs {
				cs[name] = tt.wrap(c)
			}
			h := exporter.New(cs, exporter.Options{}).Handler(exporter.HandlerOptions{})
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set(exporter.ScrapeTimeoutHeader, "10")
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
			cpu.report()
		})
	}
}

// channelCollector runs a collector the way the channel contract did: in
// its own goroutine, each metric sent on a channel and gathered again.
type channelCollector struct{ c exporter.Collector }

func (cc channelCollector) Describe(ch chan<- *prometheus.Desc) { cc.c.Describe(ch) }

func (cc channelCollector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	mch := make(chan prometheus.Metric, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(mch)
		got, err := cc.c.Update(ctx, nil)
		for _, m := range got {
			mch <- m
		}
		errc <- err
	}()
	for m := range mch {
		ms = append(ms, m)
	}
	return ms, <-errc
}
