package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ensemble-jitsi/ensemble/exporter"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := newMetrics(reg)
	m.registered.Set(1)
	m.drainState.WithLabelValues("serving").Set(1)
	m.probeSuccess.WithLabelValues("jvb").Set(1)
	testenv.GatherAndLint(t, reg)
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		d := b.next()
		if d < w/2 || d > w {
			t.Errorf("attempt %d: wait %v, want within [%v, %v]", i, d, w/2, w)
		}
	}
	b.reset()
	if d := b.next(); d > 100*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}

func TestHealthHandler(t *testing.T) {
	ok := ProbeFunc("nginx", func(context.Context) error { return nil })
	bad := ProbeFunc("jvb", func(context.Context) error {
		return errors.New("JVB unhealthy (status 500): " + strings.Repeat("x", 500))
	})
	// A probe that ignores its ctx must not hold /health past the timeout.
	stuck := ProbeFunc("stuck", func(context.Context) error { select {} })
	for _, tc := range []struct {
		name   string
		probes []Probe
		code   int
		failed []string
	}{
		{"all pass", []Probe{ok}, http.StatusOK, nil},
		{"no probes", nil, http.StatusOK, nil},
		{"one fails", []Probe{ok, bad}, http.StatusServiceUnavailable, []string{"jvb"}},
		{"one hangs", []Probe{stuck, ok, bad}, http.StatusServiceUnavailable, []string{"stuck", "jvb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &healthHandler{probes: tc.probes, timeout: 100 * time.Millisecond, success: newMetrics(prometheus.NewRegistry()).probeSuccess}
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v", took)
			}
			if rec.Code != tc.code {
				t.Errorf("code %d, want %d", rec.Code, tc.code)
			}
			var rep healthReport
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, f := range rep.Failures {
				failed = append(failed, f.Probe)
				if len(f.Error) > maxErrorLen+3 || f.Error == "" {
					t.Errorf("probe %s error %q: empty or not clipped", f.Probe, f.Error)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tc.failed, ",") {
				t.Errorf("failed probes %v, want %v", failed, tc.failed)
			}
		})
	}
}

func TestCPUProbe(t *testing.T) {
	dir := t.TempDir()
	copyStat := func(from string) {
		b, err := os.ReadFile(filepath.Join("testdata", from, "stat"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "stat"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyStat("proc-idle")
	for _, tc := range []struct {
		threshold float64
		fail      bool
	}{{0.95, false}, {0.5, true}} {
		p, err := NewCPUProbe(dir, tc.threshold)
		if err != nil {
			t.Fatal(err)
		}
		copyStat("proc-busy") // 900 of the next 1000 ticks busy
		p.at = time.Now().Add(-time.Second)
		err = p.Check(context.Background())
		if (err != nil) != tc.fail {
			t.Errorf("threshold %v: err = %v, want failure %v", tc.threshold, err, tc.fail)
		}
		copyStat("proc-idle")
	}
	if _, err := NewCPUProbe(filepath.Join(dir, "missing"), 0.5); err == nil {
		t.Error("NewCPUProbe on a missing /proc succeeded")
	}
}

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		want string
	}{
		{"0.0.0.0:9105", false, "http://127.0.0.1:9105/health"},
		{"[::]:9105", true, "https://127.0.0.1:9105/health"},
		{"10.1.2.3:9105", false, "http://10.1.2.3:9105/health"},
		{"[2001:db8::1]:9105", true, "https://[2001:db8::1]:9105/health"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := healthURL(a, tc.tls); got != tc.want {
			t.Errorf("healthURL(%s, %v) = %s, want %s", tc.addr, tc.tls, got, tc.want)
		}
	}
}

// hungCollector blocks until its scrape's deadline.
type hungCollector struct{}

func (hungCollector) Update(ctx context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) {
	<-ctx.Done()
	return ms, ctx.Err()
}

func (hungCollector) Describe(chan<- *prometheus.Desc) {}

// /metrics honours Prometheus's scrape timeout: a hung node collector costs
// its own metrics, and the sidecar's metrics still come.
func TestMetricsHonourScrapeTimeout(t *testing.T) {
	own := &collectorSet{}
	newMetrics(own).registered.Set(1)
	node := exporter.New(map[string]exporter.Collector{"hung": hungCollector{}}, exporter.Options{Timeout: time.Hour})
	h, err := routes(&Options{Exporter: node}, slog.New(slog.DiscardHandler), own, nil, nil, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set(exporter.ScrapeTimeoutHeader, "0.5")
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(w, req)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("no reply: the scrape timeout header was ignored")
	}
	body := w.Body.String()
	for _, want := range []string{
		`ensemble_scrape_collector_success{collector="hung"} 0`,
		"ensemble_sidecar_consul_registered 1",
		`promhttp_metric_handler_requests_total{code="200"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
}

// FuzzValidReason: an accepted drain reason is short, valid UTF-8 and free of control
// characters (it is written into Consul and onto operators' terminals).
func FuzzValidReason(f *testing.F) {
	f.Add("rolling upgrade")
	f.Add("line1\r\nlevel=ERROR \x1b[31m")
	f.Add("caf\u00e9 \u202e")
	f.Fuzz(func(t *testing.T, s string) {
		if validReason(s) != nil {
			return
		}
		if len(s) > maxReasonLen || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("accepted %q", s)
		}
	})
}
