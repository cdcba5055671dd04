package exporter

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
)

func testRegistry(t *testing.T) *Registry {
	t.Helper()
	nop := func(*slog.Logger) (Collector, error) {
		return collectorFunc(func(_ context.Context, ms []prometheus.Metric) ([]prometheus.Metric, error) { return ms, nil }), nil
	}
	r, err := NewRegistry(
		Spec{Name: "cpu", DefaultEnabled: true, New: nop},
		Spec{Name: "nginx", DefaultEnabled: true, New: nop},
		Spec{Name: "extra", DefaultEnabled: false, New: nop},
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFlagsEnabled(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{want: "cpu,nginx"},
		{args: []string{"--no-collector.nginx"}, want: "cpu"},
		{args: []string{"--collector.extra"}, want: "cpu,nginx,extra"},
		{args: []string{"--collector.disable-defaults"}, want: ""},
		{args: []string{"--collector.disable-defaults", "--collector.nginx"}, want: "nginx"},
		{args: []string{"--collector.disable-defaults", "--collector.extra", "--no-collector.cpu"}, want: "extra"},
		{env: map[string]string{"TEST_COLLECTOR_NGINX": "false"}, want: "cpu"},
		{env: map[string]string{"TEST_COLLECTOR_DISABLE_DEFAULTS": "true", "TEST_COLLECTOR_EXTRA": "true"}, want: "extra"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			app := kingpin.New("test", "").DefaultEnvars()
			f := AddFlags(app, testRegistry(t))
			if _, err := app.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.Enabled(), ","); got != tt.want {
				t.Errorf("Enabled() = %q, want %q", got, tt.want)
			}
			e, err := f.NewExporter(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(e.collectors); got != len(f.Enabled()) {
				t.Errorf("exporter has %d collectors, want %d", got, len(f.Enabled()))
			}
		})
	}
}

// TestFlagsValidatedAtParse: the collector flags refuse bad values while kingpin parses (the
// value types themselves are tested in internal/cli).
func TestFlagsValidatedAtParse(t *testing.T) {
	tests := []struct {
		args    []string
		env     map[string]string
		wantErr string
	}{
		{args: []string{"--collector.timeout=0s"}, wantErr: "--collector.timeout: duration \"0s\" must be positive"},
		{env: map[string]string{"TEST_COLLECTOR_CPU": "maybe"}, wantErr: "not a boolean"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			app := kingpin.New("test", "").DefaultEnvars()
			AddFlags(app, testRegistry(t))
			_, err := app.Parse(tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
