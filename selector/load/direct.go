package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/ensemble-jitsi/ensemble/selector/catalog"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// Direct scrapes each node's sidecar /metrics itself: fresher than Prometheus and without it in the
// request path, at the cost of one request per node per interval (fine for small fleets).
type Direct struct {
	cfg Config
	mu  sync.Mutex
	// prev keeps the last reading per node: the CPU busy ratio is a rate of two readings.
	prev map[string]reading
}

var _ Source = (*Direct)(nil)

// NewDirect is the Factory of the direct source.
func NewDirect(cfg Config) (Source, error) {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 16
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 4 << 20
	}
	return &Direct{cfg: cfg, prev: map[string]reading{}}, nil
}

// Name implements Source.
func (d *Direct) Name() string { return "direct" }

// Fetch implements Source. Nodes that cannot be scraped are left out (unknown); the source as a whole fails
// only when no node answered.
func (d *Direct) Fetch(ctx context.Context, nodes []catalog.Node) (map[string]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	type result struct {
		id  string
		rd  reading
		err error
	}
	results := make(chan result, len(nodes))
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n.State == placement.Gone || n.Address == "" || n.SidecarPort == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results <- result{id: n.ID, err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			rd, err := d.scrape(ctx, n)
			results <- result{id: n.ID, rd: rd, err: err}
		}()
	}
	wg.Wait()
	close(results)

	now := d.cfg.Now()
	out := make(map[string]Sample, len(nodes))
	var errs []error
	tried := 0
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := make(map[string]bool, len(nodes))
	for r := range results {
		tried++
		seen[r.id] = true
		if r.err != nil {
			errs = append(errs, r.err)
			delete(d.prev, r.id)
			continue
		}
		s := Sample{Stress: r.rd.stress, Endpoints: r.rd.endpoints, At: now}
		prev, ok := d.prev[r.id]
		if !ok {
			prev = reading{total: -1} // first reading: the ratio needs two
		}
		s.CPU = busy(prev, r.rd)
		d.prev[r.id] = r.rd
		out[r.id] = s
	}
	for id := range d.prev {
		if !seen[id] {
			delete(d.prev, id)
		}
	}
	if tried > 0 && len(out) == 0 {
		return nil, fmt.Errorf("direct load source: no node answered: %w", errors.Join(errs...))
	}
	for _, err := range errs {
		d.cfg.Logger.Debug("sidecar scrape failed", "err", err)
	}
	return out, nil
}

func (d *Direct) scrape(ctx context.Context, n catalog.Node) (reading, error) {
	u := d.cfg.Scheme + "://" + net.JoinHostPort(n.Address, strconv.Itoa(n.SidecarPort)) + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return reading{}, fmt.Errorf("node %s: %w", n.ID, err)
	}
	// Text format only: the parser below reads nothing else.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	if d.cfg.BasicAuthUser != "" {
		req.SetBasicAuth(d.cfg.BasicAuthUser, d.cfg.BasicAuthPassword)
	}
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		return reading{}, fmt.Errorf("node %s: scrape: %w", n.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return reading{}, fmt.Errorf("node %s: scrape %s: status %s", n.ID, u, resp.Status)
	}
	body := io.LimitReader(resp.Body, d.cfg.BodyLimit+1)
	lr := &countingReader{r: body}
	rd, err := parseExposition(lr)
	if lr.n > d.cfg.BodyLimit {
		return reading{}, fmt.Errorf("node %s: scrape %s: body larger than %d bytes", n.ID, u, d.cfg.BodyLimit)
	}
	if err != nil {
		return reading{}, fmt.Errorf("node %s: %w", n.ID, err)
	}
	return rd, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
