package textfmt_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/textfmt"
)

// direct is a Direct metric, as exporter.NewMetric makes them.
type direct struct {
	desc   *prometheus.Desc
	vt     prometheus.ValueType
	v      float64
	values []string
}

func (m direct) Desc() *prometheus.Desc { return m.desc }

func (m direct) Write(out *dto.Metric) error {
	cm, err := prometheus.NewConstMetric(m.desc, m.vt, m.v, m.values...)
	if err != nil {
		return err
	}
	return cm.Write(out)
}

func (m direct) Sample() (dto.MetricType, float64, []string, bool) {
	typ := dto.MetricType_GAUGE
	if m.vt == prometheus.CounterValue {
		typ = dto.MetricType_COUNTER
	}
	return typ, m.v, m.values, true
}

// replay is an unchecked collector of metrics already made.
type replay []prometheus.Metric

func (replay) Describe(chan<- *prometheus.Desc) {}

func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}

// registryText is what client_golang gives for ms: a pedantic registry's
// Gather and expfmt's text encoder.
func registryText(ms []prometheus.Metric) ([]byte, error) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(replay(ms))
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// FuzzWriter compares the hand-written encoder with client_golang's, so a
// library upgrade that changes the text format cannot drift unnoticed:
// whenever Write writes, its bytes are the registry's; when the registry
// refuses the metrics, Write must refuse them too, and when it accepts
// them (plain gauges and counters), Write must write them. Label values are
// arbitrary bytes, values arbitrary float bit patterns, both made by
// NewConstMetric and through the Direct path.
func FuzzWriter(f *testing.F) {
	f.Add("eth0", "a \"quoted\"\\value\nline", uint64(math.Float64bits(1)), uint64(math.Float64bits(-0.5)), false, true, "Help with \\ and\nnewline.")
	f.Add("", "é", math.Float64bits(math.NaN()), math.Float64bits(math.Inf(-1)), true, false, "")
	f.Add("same", "same", uint64(0), uint64(1), true, true, "dup")
	f.Add("\xff", "x", math.Float64bits(1e-300), math.Float64bits(1.7976931348623157e308), false, false, "h")
	f.Fuzz(func(t *testing.T, l1, l2 string, bits1, bits2 uint64, counter, useDirect bool, help string) {
		vt := prometheus.GaugeValue
		if counter {
			vt = prometheus.CounterValue
		}
		labelled := prometheus.NewDesc("fuzz_labelled", help, []string{"a", "b"}, nil)
		plain := prometheus.NewDesc("fuzz_plain", "A plain gauge.", nil, nil)
		var ms []prometheus.Metric
		add := func(d *prometheus.Desc, v float64, values ...string) {
			if useDirect {
				ms = append(ms, direct{desc: d, vt: vt, v: v, values: values})
				return
			}
			m, err := prometheus.NewConstMetric(d, vt, v, values...)
			if err != nil {
				return // invalid UTF-8: not a metric client_golang makes
			}
			ms = append(ms, m)
		}
		add(labelled, math.Float64frombits(bits1), l1, l2)
		add(labelled, math.Float64frombits(bits2), l2, l1)
		add(plain, math.Float64frombits(bits1^bits2))

		want, regErr := registryText(ms)
		var got []byte
		wrote := textfmt.New().Write(ms, nil, func(b []byte) { got = bytes.Clone(b) })
		switch {
		case regErr != nil && wrote:
			t.Fatalf("the registry refuses the metrics (%v) but Write wrote:\n%s", regErr, got)
		case wrote && !bytes.Equal(got, want):
			t.Fatalf("Write differs from client_golang:\n got: %q\nwant: %q", got, want)
		}
		if regErr == nil && !wrote {
			// Plain gauges and counters with legacy names: nothing here
			// needs the registry path.
			t.Fatalf("Write deferred metrics the registry accepts: %q %q", l1, l2)
		}
	})
}
