package nginx

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/fetch"
)

// MaxBodyBytes bounds a stub_status reply; the real one is under 200 bytes.
const MaxBodyBytes = 4 << 10

// Client reads one nginx stub_status URL.
type Client struct {
	url  string
	hc   *http.Client
	bufs sync.Pool
}

// NewClient returns a Client for the stub_status page at url using hc (nil
// means http.DefaultClient). Deadlines come from the ctx of each call.
func NewClient(url string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{url: url, hc: hc, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// URL returns the stub_status URL.
func (c *Client) URL() string { return c.url }

// StubStatus fetches and parses the stub_status page.
func (c *Client) StubStatus(ctx context.Context) (StubStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return StubStatus{}, fmt.Errorf("nginx stub_status %s: %w", c.url, err)
	}
	buf := c.bufs.Get().(*bytes.Buffer)
	defer c.bufs.Put(buf)
	code, err := fetch.Do(c.hc, req, MaxBodyBytes, buf)
	if err != nil {
		return StubStatus{}, err
	}
	if code != http.StatusOK {
		return StubStatus{}, fetch.NewStatusError(req, code, buf.Bytes())
	}
	s, err := ParseStubStatus(buf.Bytes())
	if err != nil {
		return StubStatus{}, fmt.Errorf("GET %s: %w", c.url, err)
	}
	return s, nil
}
