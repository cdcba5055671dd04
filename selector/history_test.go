package selector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// testHistory returns a history reader of the Prometheus at url with a 300 ms timeout.
func testHistory(t *testing.T, url string, now func() time.Time) *history {
	t.Helper()
	opts := DefaultOptions()
	opts.FleetHistoryDays, opts.PrometheusURL, opts.LoadTimeout, opts.Now = 2, url, 300*time.Millisecond, now
	h, err := newHistory(opts, nil)
	if err != nil || h == nil {
		t.Fatalf("newHistory: %v, %v", h, err)
	}
	return h
}

// TestHistoryAnswers reads testdata/fleet-history.txt: what a Prometheus (here a stand-in serving
// canned answers) may answer, and the demand per region read from it or an error. TestFleetAnticipates
// runs the query against a real Prometheus.
func TestHistoryAnswers(t *testing.T) {
	for _, line := range testenv.Lines(t, "testdata/fleet-history.txt") {
		in, want, ok := strings.Cut(line, " => ")
		codeText, body, ok2 := strings.Cut(in, " | ")
		code, err := strconv.Atoi(codeText)
		if !ok || !ok2 || err != nil {
			t.Fatalf("bad case %q", line)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		got, err := testHistory(t, srv.URL, time.Now).fetch(context.Background())
		srv.Close()
		checkCase(t, in, want, got, err)
	}
}

// A Prometheus that does not answer costs one --load.timeout, then an error.
func TestHistorySlowPrometheus(t *testing.T) {
	// The handler leaves the body unread, so the server never sees the client hang up: release it.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	if got, err := testHistory(t, srv.URL, time.Now).fetch(context.Background()); err == nil {
		t.Fatalf("a silent Prometheus gave %v", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the read took %v with a 300ms timeout", took)
	}
}

// A failed read keeps the last answer, which is used until it is --fleet.lead old; failures are
// counted.
func TestHistoryFallsBack(t *testing.T) {
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"region":"eu"},"value":[1,"20"]}]}}`))
	}))
	defer srv.Close()
	clock := testenv.NewClock(time.Unix(1_800_000_000, 0))
	s := &Selector{opts: DefaultOptions(), logger: testLogger(t), metrics: newMetrics(prometheus.NewRegistry(), "test")}
	s.opts.Now = clock.Now
	s.history = testHistory(t, srv.URL, clock.Now)

	if got := s.aheadDemand(); got != nil {
		t.Fatalf("demand ahead before any read: %v", got)
	}
	s.refreshHistory(context.Background())
	fail.Store(true)
	clock.Advance(s.opts.FleetLead / 2)
	s.refreshHistory(context.Background())
	if got := fmt.Sprint(s.aheadDemand()); got != "map[eu:20]" {
		t.Fatalf("after one failed read: %s, want the last answer map[eu:20]", got)
	}
	clock.Advance(s.opts.FleetLead/2 + time.Second)
	s.refreshHistory(context.Background())
	if got := s.aheadDemand(); got != nil {
		t.Fatalf("an answer older than --fleet.lead is still used: %v", got)
	}
	if got := testutil.ToFloat64(s.metrics.historyErrors); got != 2 {
		t.Fatalf("history errors = %v, want 2", got)
	}
}

// TestFleetHistoryOptions: the history options Validate accepts and refuses.
func TestFleetHistoryOptions(t *testing.T) {
	for _, tc := range []struct {
		days           int
		lead, interval time.Duration
		ok             bool
	}{
		{0, 0, 0, true}, // off: lead and interval unused
		{1, 10 * time.Minute, time.Minute, true},
		{60, 23 * time.Hour, time.Hour, true},
		{-1, 10 * time.Minute, time.Minute, false},
		{61, 10 * time.Minute, time.Minute, false},
		{1, 24 * time.Hour, time.Minute, false},
		{1, 500 * time.Millisecond, 100 * time.Millisecond, false},
		{1, 10 * time.Minute, 6 * time.Minute, false},
		{1, 10 * time.Minute, 0, false},
	} {
		o := DefaultOptions()
		o.FleetHistoryDays, o.FleetLead, o.FleetHistoryInterval = tc.days, tc.lead, tc.interval
		err := o.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "fleet"); got != tc.ok {
			t.Errorf("days %d lead %v interval %v: %v, want ok=%v", tc.days, tc.lead, tc.interval, err, tc.ok)
		}
	}
	o := DefaultOptions()
	o.FleetHistoryDays, o.PrometheusURL = 1, ""
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--prometheus.url") {
		t.Errorf("history on without a Prometheus URL: %v", err)
	}
}
