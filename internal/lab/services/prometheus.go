package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PrometheusOptions configures StartPrometheus.
type PrometheusOptions struct {
	// Binary is the prometheus executable; empty means "prometheus" on PATH.
	Binary string
	// ConfigYAML is the complete prometheus.yml.
	ConfigYAML string
	// ReadyTimeout bounds the wait for /-/ready; default 30s.
	ReadyTimeout time.Duration
}

// Prometheus is a running server with its TSDB in a temporary directory.
// Stop, Kill, Restart, Close, Running and Log manage its process; Restart
// keeps the port, the configuration and the TSDB.
type Prometheus struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Dir holds prometheus.yml, the TSDB and the log.
	Dir string
	// LogPath collects the server's output.
	LogPath string

	server
}

// StartPrometheus starts Prometheus on a free port with the lifecycle API
// on (POST /-/reload) and returns once /-/ready answers. The first scrape
// lands about 5 s later whatever the scrape interval; see WaitForSample.
func StartPrometheus(ctx context.Context, opts PrometheusOptions) (*Prometheus, error) {
	bin, err := binary("prometheus", opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	var p *Prometheus
	err = retryBindClash(func() error {
		dir, err := os.MkdirTemp("", "ensemble-prometheus-")
		if err != nil {
			return fmt.Errorf("prometheus: %w", err)
		}
		p = &Prometheus{Dir: dir, LogPath: filepath.Join(dir, "prometheus.log")}
		p.server = server{name: "prometheus", bin: bin, dir: dir, logPath: p.LogPath,
			readyTimeout: opts.ReadyTimeout, check: p.ready}
		if err = p.configure(opts.ConfigYAML); err == nil {
			err = p.start(ctx)
		}
		if err != nil {
			return p.failed(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// configure picks the port and writes prometheus.yml; both stay the same
// across restarts.
func (p *Prometheus) configure(configYAML string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	conf := filepath.Join(p.Dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(configYAML), 0o644); err != nil {
		return fmt.Errorf("prometheus config: %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p.URL = "http://" + addr
	p.args = []string{
		"--config.file=" + conf,
		"--storage.tsdb.path=" + filepath.Join(p.Dir, "data"),
		"--web.listen-address=" + addr,
		"--web.enable-lifecycle",
		"--log.level=info",
	}
	return nil
}

func (p *Prometheus) ready(ctx context.Context) error {
	code, body, err := fetch(ctx, http.MethodGet, p.URL+"/-/ready", nil)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("/-/ready: %d %.100s", code, body)
	}
	return nil
}

// Reload replaces prometheus.yml with configYAML and asks the server to
// load it.
func (p *Prometheus) Reload(ctx context.Context, configYAML string) error {
	if err := os.WriteFile(filepath.Join(p.Dir, "prometheus.yml"), []byte(configYAML), 0o644); err != nil {
		return fmt.Errorf("prometheus reload: %w", err)
	}
	code, body, err := fetch(ctx, http.MethodPost, p.URL+"/-/reload", nil)
	if err != nil {
		return fmt.Errorf("prometheus reload: %w", err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("prometheus reload: %d %s", code, strings.TrimSpace(string(body)))
	}
	return nil
}

// Sample is one element of an instant-query vector.
type Sample struct {
	Metric map[string]string
	Value  float64
	Time   time.Time
}

// Query runs an instant PromQL query and returns its vector. A scalar,
// string or matrix result is an error.
func (p *Prometheus) Query(ctx context.Context, query string) ([]Sample, error) {
	u := p.URL + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	code, body, err := fetch(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("prometheus query %q: %w", query, err)
	}
	var resp struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("prometheus query %q: status %d: decode: %w", query, code, err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("prometheus query %q: %s: %s", query, resp.ErrorType, resp.Error)
	}
	if resp.Data.ResultType != "vector" {
		return nil, fmt.Errorf("prometheus query %q: result type %q, want vector", query, resp.Data.ResultType)
	}
	out := make([]Sample, 0, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		ts, ok1 := r.Value[0].(float64)
		vs, ok2 := r.Value[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("prometheus query %q: malformed sample %v", query, r.Value)
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("prometheus query %q: sample value %q: %w", query, vs, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v, Time: time.UnixMilli(int64(ts * 1000))})
	}
	return out, nil
}

// WaitForSample polls query every 100 ms until it returns at least one
// sample, and returns them. Give ctx 15 s or more for the first scrape.
func (p *Prometheus) WaitForSample(ctx context.Context, query string) ([]Sample, error) {
	var last error = errors.New("empty result")
	for {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := p.Query(qctx, query)
		cancel()
		if err == nil && len(s) > 0 {
			return s, nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("prometheus: no sample for %q: %w (last: %v)", query, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
