package exporter

import (
	"bytes"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/textfmt"
)

// metricsFromText turns an exposition file into const metrics, one Desc per
// family, in reverse order so the writer has to sort them. With own, they
// are made by NewMetric where they can be (no timestamps).
func metricsFromText(t *testing.T, path string, own bool) []prometheus.Metric {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// In name order: the families come in a map, and "both kinds mixed"
	// needs both readings of a file in the same order to take disjoint halves.
	var ms []prometheus.Metric
	for _, name := range slices.Sorted(maps.Keys(mfs)) {
		mf := mfs[name]
		var names []string
		for _, lp := range mf.Metric[0].Label {
			names = append(names, lp.GetName())
		}
		d := NewDesc(mf.GetName(), mf.GetHelp(), names)
		for _, m := range mf.Metric {
			var values []string
			for _, lp := range m.Label {
				values = append(values, lp.GetValue())
			}
			vt, v := prometheus.UntypedValue, m.GetUntyped().GetValue()
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				vt, v = prometheus.CounterValue, m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				vt, v = prometheus.GaugeValue, m.GetGauge().GetValue()
			}
			if own && m.TimestampMs == nil {
				ms = append(ms, NewMetric(d, vt, v, values...))
				continue
			}
			cm := prometheus.MustNewConstMetric(d.Prometheus(), vt, v, values...)
			if m.TimestampMs != nil {
				cm = prometheus.NewMetricWithTimestamp(model.Time(m.GetTimestampMs()).Time(), cm)
			}
			ms = append(ms, cm)
		}
	}
	slices.Reverse(ms)
	return ms
}

// registryText is what the registry path serves for ms and extra.
func registryText(t *testing.T, ms []prometheus.Metric, extra prometheus.Gatherer) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(replay(ms))
	gs := prometheus.Gatherers{reg}
	if extra != nil {
		gs = append(gs, extra)
	}
	mfs, err := gs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.FmtText)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// fastText is what the text writer serves, and whether it could.
func fastText(t *testing.T, tw *textfmt.Writer, ms []prometheus.Metric, extra prometheus.Gatherer) (string, bool) {
	t.Helper()
	var mfs []*dto.MetricFamily
	if extra != nil {
		var err error
		if mfs, err = extra.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	var out string
	sent := false
	ok := tw.Write(ms, mfs, func(b []byte) { out, sent = string(b), true })
	if ok != sent {
		t.Fatalf("write returned %v but sent=%v", ok, sent)
	}
	return out, ok
}

// The text writer's output is byte for byte the registry path's, parses
// with expfmt, and stays so once the families are cached.
func TestTextWriterMatchesRegistry(t *testing.T) {
	files, err := filepath.Glob("testdata/text/*.prom")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test inputs: %v", err)
	}
	var all, allOwn []prometheus.Metric
	for _, file := range files {
		all = append(all, metricsFromText(t, file, false)...)
		allOwn = append(allOwn, metricsFromText(t, file, true)...)
	}
	// The sidecar's case: another registry's families merged in, sorted
	// among the collected ones.
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "bb_total", Help: "Sorts between b and c."}))
	other.MustRegister(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zz_seconds", Help: "A histogram, after all.", Buckets: []float64{1}}))

	type tc struct {
		name  string
		ms    []prometheus.Metric
		extra prometheus.Gatherer
	}
	tests := []tc{
		{name: "all", ms: all},
		{name: "all by NewMetric", ms: allOwn},
		{name: "both kinds mixed", ms: append(slices.Clone(all[:len(all)/2]), allOwn[len(allOwn)/2:]...)},
		{name: "all+gatherer", ms: allOwn, extra: other},
		{name: "gatherer only", extra: other},
	}
	for _, file := range files {
		tests = append(tests, tc{name: filepath.Base(file), ms: metricsFromText(t, file, false)})
		tests = append(tests, tc{name: filepath.Base(file) + " by NewMetric", ms: metricsFromText(t, file, true)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := registryText(t, tt.ms, tt.extra)
			tw := textfmt.New()
			for round := range 2 { // learning, then cached
				got, ok := fastText(t, tw, tt.ms, tt.extra)
				if !ok {
					t.Fatalf("round %d: the text writer declined", round)
				}
				if got != want {
					t.Fatalf("round %d: text writer:\n%s\nregistry:\n%s", round, got, want)
				}
				p := expfmt.NewTextParser(model.UTF8Validation)
				if _, err := p.TextToMetricFamilies(strings.NewReader(got)); err != nil {
					t.Fatalf("round %d: output does not parse: %v", round, err)
				}
			}
		})
	}
}

// What the text writer cannot write exactly as the registry would, it
// leaves to the registry path, sending nothing.
func TestTextWriterDefersToRegistry(t *testing.T) {
	gauge := func(name, help string, v float64, labels ...string) prometheus.Metric {
		names := make([]string, len(labels))
		for i := range labels {
			names[i] = "l" + string(rune('a'+i))
		}
		return prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, names, nil), prometheus.GaugeValue, v, labels...)
	}
	dup := prometheus.NewDesc("dup", "Duplicated.", []string{"k"}, nil)
	hist := prometheus.MustNewConstHistogram(prometheus.NewDesc("h_seconds", "A histogram.", nil, nil), 1, 0.5, map[float64]uint64{1: 1})
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "ok", Help: "Clashes."}))
	dotted := prometheus.NewRegistry()
	dotted.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "other.dotted", Help: "Dots."}))
	tests := []struct {
		name  string
		ms    []prometheus.Metric
		extra prometheus.Gatherer
	}{
		{name: "histogram", ms: []prometheus.Metric{hist}},
		{name: "NewMetric, label values missing", ms: []prometheus.Metric{NewMetric(NewDesc("few", "Few.", []string{"a", "b"}), prometheus.GaugeValue, 1, "x")}},
		{name: "NewMetric, histogram value type", ms: []prometheus.Metric{NewMetric(NewDesc("nope", "Nope.", nil), prometheus.ValueType(99), 1)}},
		{name: "series twice", ms: []prometheus.Metric{
			prometheus.MustNewConstMetric(dup, prometheus.GaugeValue, 1, "a"),
			prometheus.MustNewConstMetric(dup, prometheus.GaugeValue, 2, "a"),
		}},
		{name: "one name, two helps", ms: []prometheus.Metric{gauge("same", "One.", 1, "a"), gauge("same", "Two.", 1, "b")}},
		{name: "one name, two types", ms: []prometheus.Metric{
			gauge("kind", "Kind.", 1, "a"),
			prometheus.MustNewConstMetric(prometheus.NewDesc("kind", "Kind.", []string{"la"}, nil), prometheus.CounterValue, 1, "b"),
		}},
		{name: "invalid UTF-8 label value", ms: []prometheus.Metric{rawGauge{
			desc:   prometheus.NewDesc("bad_utf8", "Bad.", []string{"la"}, nil),
			labels: []*dto.LabelPair{{Name: proto.String("la"), Value: proto.String("\xff")}},
		}}},
		{name: "name needing quotes", ms: []prometheus.Metric{gauge("dotted.name", "Dots.", 1)}},
		{name: "family in both", ms: []prometheus.Metric{gauge("ok", "Clashes.", 1)}, extra: clash},
		{name: "gathered name needing quotes", ms: []prometheus.Metric{gauge("ok", "Fine.", 1)}, extra: dotted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := fastText(t, textfmt.New(), tt.ms, tt.extra); ok {
				t.Errorf("the text writer wrote what the registry would check:\n%s", got)
			}
		})
	}
}

// The handler's text and protobuf replies (the fast and the registry path)
// carry the same families, the extra gatherer's included.
func TestHandlerTextAndProtobufAgree(t *testing.T) {
	e := New(map[string]Collector{"a": sends("a", 1.5), "b": sends(`b"\`, -2)}, Options{})
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "sidecar_thing", Help: "From the other registry."}))
	extra := prometheus.NewRegistry()
	extra.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "program_info", Help: "Extra.", ConstLabels: prometheus.Labels{"version": "1"}}))
	h := e.Handler(HandlerOptions{Extra: extra, Gatherer: other})

	families := func(accept string) map[string]*dto.MetricFamily {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", accept, w.Code, w.Body)
		}
		format := expfmt.ResponseFormat(w.Result().Header)
		dec := expfmt.NewDecoder(w.Body, format)
		got := map[string]*dto.MetricFamily{}
		for {
			mf := new(dto.MetricFamily)
			if err := dec.Decode(mf); err != nil {
				break
			}
			got[mf.GetName()] = mf
		}
		// Durations differ between two scrapes.
		delete(got, "ensemble_scrape_collector_duration_seconds")
		return got
	}
	text := families("text/plain;version=0.0.4")
	pb := families(`application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	for _, name := range []string{"test_value", "ensemble_scrape_collector_success", "sidecar_thing", "program_info"} {
		if text[name] == nil {
			t.Errorf("text reply lacks %s", name)
		}
	}
	if len(text) != len(pb) {
		t.Fatalf("text has %d families, protobuf %d", len(text), len(pb))
	}
	for name, mf := range text {
		if !proto.Equal(mf, pb[name]) {
			t.Errorf("%s: text %v, protobuf %v", name, mf, pb[name])
		}
	}
}

// rawGauge is a Metric that writes its labels unchecked, as a hand-written
// Metric implementation might.
type rawGauge struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
}

func (g rawGauge) Desc() *prometheus.Desc { return g.desc }

func (g rawGauge) Write(m *dto.Metric) error {
	m.Label = g.labels
	m.Gauge = &dto.Gauge{Value: proto.Float64(1)}
	return nil
}
