package load

import (
	"fmt"
	"io"
	"math"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names of the sidecar (docs/design/contracts.md) that the direct source reads.
const (
	metricCPUSeconds   = "ensemble_cpu_seconds_total"
	metricJVBStress    = "ensemble_jvb_stress_level"
	metricJVBEndpoints = "ensemble_jvb_endpoints"
)

// reading is what one scrape of a sidecar says. CPU time is a pair of counters; the busy ratio needs two
// readings.
type reading struct {
	idle, total float64 // seconds summed over CPUs; total < 0 when the scrape had no CPU counters
	stress      float64
	endpoints   float64
}

// parseExposition reads Prometheus text exposition and extracts the values the selector needs. Idle time
// counts the idle and iowait modes: a CPU waiting for I/O could run a videobridge thread.
func parseExposition(r io.Reader) (reading, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return reading{}, fmt.Errorf("parse metrics: %w", err)
	}
	rd := reading{total: -1, stress: math.NaN(), endpoints: math.NaN()}
	if f := fams[metricCPUSeconds]; f != nil {
		var idle, total float64
		for _, m := range f.GetMetric() {
			v := value(f.GetType(), m)
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				continue
			}
			total += v
			for _, l := range m.GetLabel() {
				if l.GetName() == "mode" && (l.GetValue() == "idle" || l.GetValue() == "iowait") {
					idle += v
				}
			}
		}
		if total > 0 {
			rd.idle, rd.total = idle, total
		}
	}
	rd.stress = first(fams[metricJVBStress])
	rd.endpoints = first(fams[metricJVBEndpoints])
	return rd, nil
}

func first(f *dto.MetricFamily) float64 {
	if f == nil || len(f.GetMetric()) == 0 {
		return math.NaN()
	}
	v := value(f.GetType(), f.GetMetric()[0])
	if math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

func value(t dto.MetricType, m *dto.Metric) float64 {
	switch t {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// busy returns the CPU busy ratio between two readings of the same node, or NaN when it cannot be known
// (no CPU counters, no time passed, or a counter reset after a restart).
func busy(prev, cur reading) float64 {
	if prev.total < 0 || cur.total < 0 {
		return math.NaN()
	}
	dt, di := cur.total-prev.total, cur.idle-prev.idle
	if dt <= 0 || di < 0 || di > dt {
		return math.NaN()
	}
	return 1 - di/dt
}
