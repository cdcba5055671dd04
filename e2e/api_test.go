package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What a user (or the selector page) gets from the selector's public API.

var client = &http.Client{Timeout: 5 * time.Second}

func get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// room asks selector base URL sel where room goes; it returns the node ID.
func room(ctx context.Context, sel, name string) (string, error) {
	code, b, err := get(ctx, sel+"/api/v1/rooms/"+name)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", &statusError{code, string(b)}
	}
	var p placement
	if err := json.Unmarshal(b, &p); err != nil {
		return "", fmt.Errorf("room %s: %w: %.200s", name, err, b)
	}
	if p.Node == "" {
		return "", fmt.Errorf("room %s: no node in %.200s", name, b)
	}
	return p.Node, nil
}

type placement struct {
	Room string `json:"room"`
	Node string `json:"node"`
	URL  string `json:"url"`
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %.200s", e.code, e.body) }

// nodeView is one node as GET /api/v1/nodes shows it.
type nodeView struct {
	ID    string   `json:"id"`
	State string   `json:"state"`
	Load  *float64 `json:"load"` // null while unknown
}

// fleetView is the whole answer of GET /api/v1/nodes.
type fleetView struct {
	Degraded []string   `json:"degraded"`
	Nodes    []nodeView `json:"nodes"`
}

func view(ctx context.Context, sel string) (fleetView, error) {
	var out fleetView
	code, b, err := get(ctx, sel+"/api/v1/nodes")
	if err != nil {
		return out, err
	}
	if code != http.StatusOK {
		return out, &statusError{code, string(b)}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("nodes: %w: %.200s", err, b)
	}
	return out, nil
}

// nodes returns the selector's view of the fleet, by node ID.
func nodes(ctx context.Context, sel string) (map[string]nodeView, error) {
	v, err := view(ctx, sel)
	if err != nil {
		return nil, err
	}
	m := make(map[string]nodeView, len(v.Nodes))
	for _, n := range v.Nodes {
		m[n.ID] = n
	}
	return m, nil
}

// status returns the HTTP status of GET url.
func status(ctx context.Context, url string) (int, error) {
	code, _, err := get(ctx, url)
	return code, err
}

// metric returns the sum of the samples of the named metric at url that carry
// every label in match.
func metric(ctx context.Context, url, name string, match map[string]string) (float64, error) {
	fams, err := families(ctx, url)
	if err != nil {
		return 0, err
	}
	mf, ok := fams[name]
	if !ok {
		return 0, fmt.Errorf("%s: no metric %s", url, name)
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, match) {
			continue
		}
		switch {
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, nil
}

func families(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	code, b, err := get(ctx, url)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, &statusError{code, string(b)}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return fams, nil
}

func hasLabels(m *dto.Metric, match map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := match[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	return found == len(match)
}
