package exporter

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// A metric from NewMetric writes the same message as client_golang's
// const metric, and fails where NewConstMetric would.
func TestNewMetricWrite(t *testing.T) {
	d := NewDesc("x_total", "X.", []string{"b", "a"})
	tests := []struct {
		name    string
		d       *Desc
		t       prometheus.ValueType
		values  []string
		wantErr string
	}{
		{name: "counter", d: d, t: prometheus.CounterValue, values: []string{"1", "2"}},
		{name: "gauge", d: NewDesc("g", "G.", nil), t: prometheus.GaugeValue},
		{name: "untyped", d: NewDesc("u", "U.", []string{"k"}), t: prometheus.UntypedValue, values: []string{"v"}},
		{name: "too few values", d: d, t: prometheus.CounterValue, values: []string{"1"}, wantErr: "1 label values for 2 labels"},
		{name: "bad UTF-8", d: d, t: prometheus.CounterValue, values: []string{"1", "\xff"}, wantErr: "not valid UTF-8"},
		{name: "bad desc", d: NewDesc("x", "X.", []string{"a", "a"}), t: prometheus.GaugeValue, values: []string{"1", "2"}, wantErr: "duplicate label names"},
		{name: "bad type", d: d, t: prometheus.ValueType(42), values: []string{"1", "2"}, wantErr: "unknown value type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got dto.Metric
			err := NewMetric(tt.d, tt.t, 2.5, tt.values...).Write(&got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want dto.Metric
			if err := prometheus.MustNewConstMetric(tt.d.Prometheus(), tt.t, 2.5, tt.values...).Write(&want); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, &want) {
				t.Errorf("wrote %v, want %v", &got, &want)
			}
		})
	}
}
