package jvb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/fetch"
)

// MaxBodyBytes bounds a /colibri/stats reply (about 3 KiB today).
const MaxBodyBytes = 1 << 20

// ErrNotFound is wrapped by the errors for a 404 from the bridge: the
// resource is switched off or does not exist in this release.
var ErrNotFound = errors.New("not found (404)")

// ErrRESTDisabled is returned for a 404 from /colibri/*: the bridge's
// private REST API is switched off, which is its default.
var ErrRESTDisabled = fmt.Errorf("JVB REST API disabled: set videobridge.apis.rest.enabled=true in jvb.conf: %w", ErrNotFound)

// ErrMetricsDisabled is returned for a 404 from /metrics: a bridge older
// than mid-2022, or one with videobridge.rest.prometheus disabled.
var ErrMetricsDisabled = fmt.Errorf("JVB /metrics absent (bridge before 2022, or its Prometheus endpoint disabled): %w", ErrNotFound)

// Accept headers. The bridge's /metrics splits its Accept header without
// a null check, so one is always sent.
const (
	acceptJSON       = "application/json"
	acceptPrometheus = "text/plain; version=0.0.4"
)

// ErrShutdownDisabled is returned for a 404 from /colibri/shutdown, which
// also needs its own setting (default false).
var ErrShutdownDisabled = errors.New("JVB shutdown API disabled (404): set videobridge.apis.rest.enabled=true and videobridge.rest.shutdown.enabled=true in jvb.conf")

// UnhealthyError is returned by Health when the bridge reports itself
// unhealthy.
type UnhealthyError struct{ Health Health }

func (e *UnhealthyError) Error() string {
	return fmt.Sprintf("JVB unhealthy (status %d): %s", e.Health.Code, e.Health.Message)
}

// Client talks to one bridge's private REST API (normally
// http://127.0.0.1:8080). Every call is bounded by its ctx.
type Client struct {
	base string
	hc   *http.Client
	bufs sync.Pool
}

// NewClient returns a Client for the bridge at baseURL using hc (nil means
// http.DefaultClient).
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/"),
		hc:   hc,
		bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// URL returns the bridge's base URL.
func (c *Client) URL() string { return c.base }

// do runs one request and hands the status and body to handle while the
// pooled buffer is still owned.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, handle func(req *http.Request, code int, body []byte) error) error {
	accept := acceptJSON
	if path == "/metrics" {
		accept = acceptPrometheus
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("JVB %s %s: %w", method, c.base+path, err)
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	buf := c.bufs.Get().(*bytes.Buffer)
	defer c.bufs.Put(buf)
	code, err := fetch.Do(c.hc, req, MaxBodyBytes, buf)
	if err != nil {
		return err
	}
	return handle(req, code, buf.Bytes())
}

// expectOK is a handler for calls whose only answer is the status.
func expectOK(req *http.Request, code int, body []byte) error {
	switch {
	case code == http.StatusOK:
		return nil
	case code == http.StatusNotFound && strings.HasSuffix(req.URL.Path, "/colibri/shutdown"):
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrShutdownDisabled)
	case code == http.StatusNotFound && strings.Contains(req.URL.Path, "/colibri/"):
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrRESTDisabled)
	case code == http.StatusNotFound && strings.HasSuffix(req.URL.Path, "/metrics"):
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrMetricsDisabled)
	case code == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), ErrNotFound)
	}
	return fetch.NewStatusError(req, code, body)
}

// Stats fetches and parses /colibri/stats.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var s *Stats
	err := c.do(ctx, http.MethodGet, "/colibri/stats", nil, func(req *http.Request, code int, body []byte) error {
		if err := expectOK(req, code, body); err != nil {
			return err
		}
		var err error
		if s, err = ParseStats(body); err != nil {
			return fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
		}
		return nil
	})
	return s, err
}

// Metrics fetches and parses the bridge's own Prometheus text at
// /metrics into the same Stats as /colibri/stats (see ParseMetrics), with
// the version from /about/version, which /metrics does not carry.
func (c *Client) Metrics(ctx context.Context) (*Stats, error) {
	var s *Stats
	err := c.do(ctx, http.MethodGet, "/metrics", nil, func(req *http.Request, code int, body []byte) error {
		if err := expectOK(req, code, body); err != nil {
			return err
		}
		var err error
		if s, err = ParseMetrics(body); err != nil {
			return fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The version is only a label: without it the numbers still stand.
	if v, err := c.Version(ctx); err == nil {
		s.setText("version", v)
	}
	return s, nil
}

// Version returns the version /about/version reports.
func (c *Client) Version(ctx context.Context) (string, error) {
	var v string
	err := c.do(ctx, http.MethodGet, "/about/version", nil, func(req *http.Request, code int, body []byte) error {
		if err := expectOK(req, code, body); err != nil {
			return err
		}
		var about struct {
			Version *string `json:"version"`
		}
		if err := json.Unmarshal(body, &about); err != nil || about.Version == nil {
			return fmt.Errorf("GET %s: want {\"version\":\"...\"}, got %q", req.URL.Redacted(), clip(body))
		}
		v = *about.Version
		return nil
	})
	return v, err
}

// Health returns nil when /about/health says the bridge is healthy, an
// *UnhealthyError when it says it is not, and another error when the
// question could not be asked.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/about/health", nil, func(req *http.Request, code int, body []byte) error {
		h, err := ParseHealth(code, body)
		if err != nil {
			return fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
		}
		if !h.Healthy {
			return &UnhealthyError{Health: h}
		}
		return nil
	})
}

// Drain switches drain mode: a draining bridge keeps its conferences but
// Jicofo gives it no new ones.
func (c *Client) Drain(ctx context.Context, enable bool) error {
	path := "/colibri/drain/disable"
	if enable {
		path = "/colibri/drain/enable"
	}
	return c.do(ctx, http.MethodPost, path, nil, expectOK)
}

// Draining reports whether drain mode is on (GET /colibri/drain).
func (c *Client) Draining(ctx context.Context) (bool, error) {
	var on bool
	err := c.do(ctx, http.MethodGet, "/colibri/drain", nil, func(req *http.Request, code int, body []byte) error {
		if err := expectOK(req, code, body); err != nil {
			return err
		}
		var v struct {
			Drain *bool `json:"drain"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Drain == nil {
			return fmt.Errorf("GET %s: want {\"drain\":true|false}, got %q", req.URL.Redacted(), clip(body))
		}
		on = *v.Drain
		return nil
	})
	return on, err
}

// GracefulShutdown asks the bridge to stop taking conferences and exit once
// its endpoints have left (POST /colibri/shutdown; needs
// videobridge.rest.shutdown.enabled=true as well as the REST API).
func (c *Client) GracefulShutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/colibri/shutdown", strings.NewReader(`{"graceful-shutdown":true}`), expectOK)
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
