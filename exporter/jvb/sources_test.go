package jvb

import (
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
)

func TestParseMetrics(t *testing.T) {
	s, err := ParseMetrics(readFixture(t, "metrics-2024.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// Conferences of 6, 2, 24 and 4 endpoints (see the fixture's comment in
	// the test data README).
	for k, want := range map[string]float64{
		"conferences": 4, "endpoints": 36, "local_endpoints": 36, "largest_conference": 24,
		"bit_rate_download":         26960, // bps in /metrics, kbps as in /colibri/stats
		"total_conferences_created": 4, "total_participants": 36,
	} {
		if got, ok := s.Number(k); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if on, ok := s.Bool("drain"); !ok || on {
		t.Errorf("drain = %v (present %v), want false", on, ok)
	}
	sizes, ok := s.Dist("conference_sizes")
	if !ok || len(sizes) != distBuckets {
		t.Fatalf("conference_sizes = %v, %v", sizes, ok)
	}
	want := make([]float64, distBuckets)
	want[2], want[4], want[6], want[21] = 1, 1, 1, 1
	if !slices.Equal(sizes, want) {
		t.Errorf("conference_sizes = %v, want %v", sizes, want)
	}

	for _, tt := range []struct{ file, wantErr string }{
		{"metrics-bad-bool.txt", "want 0 or 1"},
		{"metrics-not-jvb.txt", "no jitsi_jvb_ metric"},
		{"sample-2026.json", "invalid Prometheus text"},
	} {
		if _, err := ParseMetrics(readFixture(t, tt.file)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.file, err, tt.wantErr)
		}
	}
}

// Both sources of one bridge give the same ensemble_jvb_* series, except
// the conference distributions, which only /metrics has since 2024.
func TestCollectorSourcesAgree(t *testing.T) {
	stopped := time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)
	emu := jvbemu.New(jvbemu.Options{Clock: func() time.Time { return stopped }})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	for _, n := range []int{6, 2, 24, 4, 1} {
		emu.StartConference(n)
	}
	emu.SetDrain(true)
	colibri, err := sentNames(t, mustNew(t, NewClient(srv.URL, nil), 5*time.Second, SourceColibri, nil))
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := sentNames(t, mustNew(t, NewClient(srv.URL, nil), 5*time.Second, SourceMetrics, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range distFields {
		name := "ensemble_jvb_" + f.name
		if _, ok := colibri[name]; ok {
			t.Errorf("colibri source has %s; the 2024 shim does not send it", name)
		}
		if _, ok := metrics[name]; !ok {
			t.Errorf("metrics source lacks %s", name)
		}
		delete(metrics, name)
	}
	if !maps.Equal(colibri, metrics) {
		for _, k := range slices.Sorted(maps.Keys(colibri)) {
			if metrics[k] != colibri[k] {
				t.Errorf("%s: colibri %v, metrics %v", k, colibri[k], metrics[k])
			}
		}
		for k := range metrics {
			if _, ok := colibri[k]; !ok {
				t.Errorf("%s only from metrics", k)
			}
		}
	}
	for _, k := range []string{"ensemble_jvb_up", "ensemble_jvb_endpoints", "ensemble_jvb_drain", "ensemble_jvb_info", "ensemble_jvb_receive_bytes_per_second"} {
		if metrics[k] == 0 {
			t.Errorf("%s = 0 from both sources; the comparison proves little", k)
		}
	}
}

// auto falls back to /metrics when the REST API is off, and back to
// colibri when /metrics is absent; colibri alone reports no data then.
func TestCollectorAutoSource(t *testing.T) {
	emu, url := startEmulator(t, jvbemu.Options{})
	emu.StartConference(5)
	emu.SetFault(jvbemu.RESTDisabled)
	auto := mustNew(t, NewClient(url, nil), 5*time.Second, SourceAuto, nil)
	for range 2 { // the second scrape starts with the source that answered
		got, err := sentNames(t, auto)
		if err != nil || got["ensemble_jvb_up"] != 1 || got["ensemble_jvb_endpoints"] != 5 {
			t.Fatalf("auto with REST off: up %v, endpoints %v, err %v", got["ensemble_jvb_up"], got["ensemble_jvb_endpoints"], err)
		}
	}
	if !auto.preferMetrics.Load() {
		t.Error("auto did not remember that /metrics answered")
	}
	if _, err := sentNames(t, mustNew(t, NewClient(url, nil), 5*time.Second, SourceColibri, nil)); !errors.Is(err, ErrRESTDisabled) && err == nil {
		t.Errorf("colibri with REST off: err = %v", err)
	}

	// A bridge from before /metrics existed: 404 there, colibri answers.
	old := http.NewServeMux()
	old.Handle("/metrics", http.NotFoundHandler())
	old.Handle("/", emu)
	emu.SetFault(jvbemu.None)
	srv := httptest.NewServer(old)
	t.Cleanup(srv.Close)
	c := mustNew(t, NewClient(srv.URL, nil), 5*time.Second, SourceAuto, nil)
	c.preferMetrics.Store(true)
	if got, err := sentNames(t, c); err != nil || got["ensemble_jvb_up"] != 1 {
		t.Fatalf("auto with /metrics absent: up %v, err %v", got["ensemble_jvb_up"], err)
	}
	if c.preferMetrics.Load() {
		t.Error("auto still prefers the absent /metrics")
	}
}

func TestNewRejectsUnknownSource(t *testing.T) {
	if _, err := New(NewClient("http://127.0.0.1:1", nil), time.Second, "xmpp", nil); err == nil {
		t.Fatal("no error for source xmpp")
	}
}

// Values a bridge cannot send fail the collector, so ensemble_jvb_up 1
// always comes with believable numbers; a huge version is capped, not
// fatal.
func TestCollectorImpossibleValues(t *testing.T) {
	huge := strings.Replace(string(readFixture(t, "sample-2026.json")), `"version":"2.3.209-gb5fbe618"`,
		`"version":"2.3.`+strings.Repeat("x", 900<<10)+`"`, 1)
	bodies := map[string]string{
		"impossible-negative": string(readFixture(t, "impossible-negative.json")),
		"impossible-counter":  string(readFixture(t, "impossible-counter.json")),
		"impossible-dist":     string(readFixture(t, "impossible-dist.json")),
		"huge-version":        huge,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{name}/colibri/stats", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(bodies[r.PathValue("name")]))
	})
	mux.HandleFunc("GET /{name}/about/health", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tt := range []struct{ name, wantErr string }{
		{"impossible-negative", "endpoints = -5 is impossible"},
		{"impossible-counter", "total_bytes_sent = 1e+300 is impossible"},
		{"impossible-dist", "conference_sizes[1] = 1.5 is not a conference count"},
	} {
		got, err := sentNames(t, mustNew(t, NewClient(srv.URL+"/"+tt.name, nil), 5*time.Second, SourceColibri, nil))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
		if v, ok := got["ensemble_jvb_up"]; !ok || v != 0 {
			t.Errorf("%s: ensemble_jvb_up = %v, %v; want 0", tt.name, v, ok)
		}
		if _, ok := got["ensemble_jvb_endpoints"]; ok {
			t.Errorf("%s: exported endpoints from a failed read", tt.name)
		}
	}

	c := mustNew(t, NewClient(srv.URL+"/huge-version", nil), 5*time.Second, SourceColibri, nil)
	got, err := sentNames(t, c)
	if err != nil || got["ensemble_jvb_up"] != 1 {
		t.Fatalf("huge version: up %v, err %v", got["ensemble_jvb_up"], err)
	}
	text := string(gatherText(t, newExporter(c)))
	_, line, _ := strings.Cut(text, "\nensemble_jvb_info{")
	line, _, _ = strings.Cut(line, "\n")
	if want := `version="2.3.` + strings.Repeat("x", maxLabelValue-4) + `"} 1`; line != want {
		t.Errorf("info line is %d bytes, want the version capped at %d: %.80q", len(line), maxLabelValue, line)
	}
	if v := capLabel("2.3." + strings.Repeat("é", 200)); len(v) > maxLabelValue || !strings.HasPrefix(v, "2.3.é") {
		t.Errorf("capLabel = %q (%d bytes)", v, len(v))
	}
}
