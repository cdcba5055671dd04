package services

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds every readiness or query answer we read.
const maxBody = 4 << 20

// fetch does one request and returns the status and at most maxBody bytes.
func fetch(ctx context.Context, hc *http.Client, method, url string, header http.Header, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, b, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return resp.StatusCode, b, nil
}

// bindClash reports whether a child's log says its port was taken, the one
// start failure worth retrying with fresh ports.
func bindClash(log string) bool {
	return strings.Contains(strings.ToLower(log), "address already in use")
}
