package exporter

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// Desc describes a metric family a Collector sends, as prometheus.Desc
// does, and also remembers its label names, so that the Exporter's handler
// writes its samples (made by NewMetric) without client_golang building a
// protobuf message for each one. Registries see ordinary metrics.
type Desc struct {
	desc   *prometheus.Desc
	labels []string
	// direct: the label names are sorted and distinct, the order the
	// text format lists them in, so label values need no reordering.
	direct bool
	// err is what prometheus.NewDesc found wrong, if anything.
	err error
}

// NewDesc returns a Desc for name with the given variable labels, checked
// as prometheus.NewDesc checks them (a bad one fails the scrape's gathering).
func NewDesc(name, help string, labels []string) *Desc {
	d := &Desc{desc: prometheus.NewDesc(name, help, labels, nil), labels: slices.Clone(labels)}
	d.direct = slices.IsSorted(labels) && len(slices.Compact(slices.Clone(labels))) == len(labels)
	// Empty label values are valid, so this fails only for the Desc itself.
	_, d.err = prometheus.NewConstMetric(d.desc, prometheus.GaugeValue, 0, make([]string, len(labels))...)
	return d
}

// Prometheus returns the prometheus.Desc, for a Collector's Describe.
func (d *Desc) Prometheus() *prometheus.Desc { return d.desc }

// NewMetric returns a constant gauge, counter or untyped metric of d, like
// prometheus.MustNewConstMetric but checked when written: a wrong number of
// label values fails gathering instead of panicking.
func NewMetric(d *Desc, t prometheus.ValueType, v float64, labelValues ...string) prometheus.Metric {
	return &sample{d: d, t: t, v: v, values: labelValues}
}

type sample struct {
	d      *Desc
	t      prometheus.ValueType
	v      float64
	values []string
}

func (s *sample) Desc() *prometheus.Desc { return s.d.desc }

// Write checks s as prometheus.NewConstMetric would and fills out.
func (s *sample) Write(out *dto.Metric) error {
	if s.d.err != nil {
		return s.d.err
	}
	if len(s.values) != len(s.d.labels) {
		return fmt.Errorf("%s: %d label values for %d labels %q", s.d.desc, len(s.values), len(s.d.labels), s.d.labels)
	}
	for _, v := range s.values {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s: label value %q is not valid UTF-8", s.d.desc, v)
		}
	}
	switch s.t {
	case prometheus.GaugeValue:
		out.Gauge = &dto.Gauge{Value: proto.Float64(s.v)}
	case prometheus.CounterValue:
		out.Counter = &dto.Counter{Value: proto.Float64(s.v)}
	case prometheus.UntypedValue:
		out.Untyped = &dto.Untyped{Value: proto.Float64(s.v)}
	default:
		return fmt.Errorf("%s: unknown value type %d", s.d.desc, s.t)
	}
	out.Label = prometheus.MakeLabelPairs(s.d.desc, s.values)
	return nil
}

// Sample hands the text writer the sample without a protobuf message
// when the Desc's label names are in text order.
func (s *sample) Sample() (dto.MetricType, float64, []string, bool) {
	typ, ok := dtoType(s.t)
	return typ, s.v, s.values, ok && s.d.direct
}

// dtoType is the family type of a sample of value type t.
func dtoType(t prometheus.ValueType) (dto.MetricType, bool) {
	switch t {
	case prometheus.GaugeValue:
		return dto.MetricType_GAUGE, true
	case prometheus.CounterValue:
		return dto.MetricType_COUNTER, true
	case prometheus.UntypedValue:
		return dto.MetricType_UNTYPED, true
	}
	return 0, false
}
