package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestScrapeContext(t *testing.T) {
	tests := []struct {
		header string
		offset time.Duration
		want   time.Duration
	}{
		{header: "", want: 3 * time.Second}, // fallback
		{header: "10", offset: 500 * time.Millisecond, want: 9500 * time.Millisecond},
		{header: "10", want: 9 * time.Second},                              // 10 % offset
		{header: "0.5", offset: time.Second, want: 450 * time.Millisecond}, // offset too big: 10 %
		{header: "abc", want: 3 * time.Second},
		{header: "-4", want: 3 * time.Second},
		{header: "1e300", want: 3 * time.Second},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tt.header != "" {
			r.Header.Set(ScrapeTimeoutHeader, tt.header)
		}
		before := time.Now()
		ctx, cancel := ScrapeContext(r, 3*time.Second, tt.offset)
		deadline, ok := ctx.Deadline()
		cancel()
		if got := deadline.Sub(before); !ok || got < tt.want || got > tt.want+time.Second {
			t.Errorf("header %q offset %v: deadline in %v, want %v", tt.header, tt.offset, got, tt.want)
		}
	}
}

func scrape(t *testing.T, url, timeoutHeader string) (int, string) {
	t.Helper()
	h := http.Header{}
	if timeoutHeader != "" {
		h.Set(ScrapeTimeoutHeader, timeoutHeader)
	}
	code, b := testenv.Fetch(t, url, h)
	return code, string(b)
}

// The handler bounds the scrape by the Prometheus header: with a hung
// collector the reply still comes, with the other collectors' metrics.
func TestHandlerHonoursScrapeTimeoutHeader(t *testing.T) {
	returned := make(chan struct{}, 10)
	e := New(map[string]Collector{"good": sends("good", 7), "hung": hung(returned)},
		Options{Timeout: time.Hour}) // only the header can end the hung scrape
	extra := prometheus.NewRegistry()
	extra.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "program_up", Help: "1."}, func() float64 { return 1 }))
	srv := httptest.NewServer(e.Handler(HandlerOptions{Extra: extra}))
	defer srv.Close()

	code, body := scrape(t, srv.URL, "1.5")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	for _, want := range []string{
		`test_value{source="good"} 7`,
		`ensemble_scrape_collector_success{collector="good"} 1`,
		`ensemble_scrape_collector_success{collector="hung"} 0`,
		"program_up 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
	if strings.Contains(body, `source="hung"`) {
		t.Errorf("the hung collector's partial output leaked:\n%s", body)
	}
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the hung collector's context was never cancelled")
	}
}

func TestHandlerMaxRequestsInFlight(t *testing.T) {
	started, returned := make(chan struct{}, 10), make(chan struct{}, 10)
	e := New(map[string]Collector{"hung": hungSignalling(started, returned)}, Options{Timeout: time.Hour})
	srv := httptest.NewServer(e.Handler(HandlerOptions{MaxRequestsInFlight: 1}))
	defer srv.Close()

	first := make(chan int, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		req.Header.Set(ScrapeTimeoutHeader, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-started // the first scrape holds the only slot until its 0.9 s deadline
	if code, body := scrape(t, srv.URL, "0.05"); code != http.StatusServiceUnavailable {
		t.Errorf("second concurrent scrape: status %d, want 503: %s", code, body)
	}
	if code := <-first; code != http.StatusOK {
		t.Errorf("first scrape: status %d", code)
	}
}

// Concurrent scrapes through one handler share its text writer (families
// learnt, ranks, pooled buffers) and each still gets a whole reply.
func TestHandlerConcurrentScrapes(t *testing.T) {
	e := New(map[string]Collector{"a": sends("a", 1), "b": sends("b", 2), "c": sends("c", 3)}, Options{})
	h := e.Handler(HandlerOptions{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
				p := expfmt.NewTextParser(model.UTF8Validation)
				mfs, err := p.TextToMetricFamilies(w.Body)
				if err != nil {
					t.Error(err)
					return
				}
				if n := len(mfs["test_value"].GetMetric()); n != 3 {
					t.Errorf("%d test_value series, want 3", n)
					return
				}
			}
		})
	}
	wg.Wait()
}
