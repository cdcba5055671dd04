package sidecar

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// jicofoProbe passes while jicofo's private REST server answers GET /about/health with 200
// (body "OK"); jicofo answers 500 or 503 with its message when its own checks fail, and a
// node without a working jicofo cannot start a conference.
func jicofoProbe(url string, client *http.Client) Probe {
	return ProbeFunc("jicofo", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("jicofo probe: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorLen))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	})
}
