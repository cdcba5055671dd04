package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// PrometheusURL is the URL of the fleet's Prometheus, the same across
// StopPrometheus and StartPrometheus; "" once the fleet has stopped.
func (f *Fleet) PrometheusURL() string {
	if f.Prometheus == nil {
		return ""
	}
	return f.Prometheus.URL
}

// startPrometheus starts Prometheus without scrape jobs: the selectors need
// its URL before they start, and it needs theirs for its service discovery
// (configurePrometheus).
func (f *Fleet) startPrometheus(ctx context.Context) error {
	p, err := services.StartPrometheus(ctx, services.PrometheusOptions{
		ConfigYAML: "# replaced once the selectors run\n",
	})
	if err != nil {
		return err
	}
	f.Prometheus = p
	return nil
}

// configurePrometheus loads the shipped configuration, with its service
// discovery pointed at the first selector, which serves the Consul view, and
// the selectors listed for their own scrape job.
func (f *Fleet) configurePrometheus(ctx context.Context) error {
	sdHost := strings.TrimPrefix(f.Selectors[0].URL, "http://")
	targets := make([]string, len(f.Selectors))
	for i, s := range f.Selectors {
		targets[i] = strings.TrimPrefix(s.URL, "http://")
	}
	list, err := json.Marshal([]map[string][]string{{"targets": targets}})
	if err != nil {
		return fmt.Errorf("selector targets: %w", err)
	}
	selectorsFile := filepath.Join(f.dir, "ensemble-selector.json")
	if err := os.WriteFile(selectorsFile, list, 0o644); err != nil {
		return fmt.Errorf("selector targets: %w", err)
	}
	conf, err := adaptPrometheusConfig(f.opts.PrometheusConfig, sdHost, selectorsFile, f.opts.Timing)
	if err != nil {
		return err
	}
	return f.Prometheus.Reload(ctx, conf)
}

// StopPrometheus stops Prometheus; its URL refuses connections until
// StartPrometheus.
func (f *Fleet) StopPrometheus() error {
	if f.Prometheus == nil || !f.Prometheus.Running() {
		return errors.New("prometheus is not running")
	}
	return f.Prometheus.Stop()
}

// StartPrometheus starts Prometheus again on the same URL, with the data it
// had scraped before StopPrometheus.
func (f *Fleet) StartPrometheus(ctx context.Context) error {
	if f.Prometheus == nil {
		return errors.New("prometheus was never started")
	}
	if f.Prometheus.Running() {
		return errors.New("prometheus is already running")
	}
	return f.Prometheus.Restart(ctx)
}

func (f *Fleet) stopPrometheus() {
	if f.Prometheus != nil {
		if err := f.Prometheus.Close(); err != nil {
			f.opts.Logger.Warn("stop prometheus", "err", err)
		}
		f.Prometheus = nil
	}
}
