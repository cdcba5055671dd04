package exporter

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
}

// NewDesc returns a Desc for name with the given variable labels, checked
// as prometheus.NewDesc checks them (a bad one fails the scrape's gathering).
func NewDesc(name, help string, labels []string) *Desc {
	d := &Desc{desc: prometheus.NewDesc(name, help, labels, nil), labels: slices.Clone(labels)}
	d.direct = slices.IsSorted(labels) && len(slices.Compact(slices.Clone(labels))) == len(labels)
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

func (s *sample) Write(out *dto.Metric) error {
	m, err := prometheus.NewConstMetric(s.d.desc, s.t, s.v, s.values...)
	if err != nil {
		return err
	}
	return m.Write(out)
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
