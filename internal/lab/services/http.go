package services

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody bounds every readiness or query answer this package reads.
const maxBody = 4 << 20

// fetch is Fetch with the default client, no body, and this package's bound.
func fetch(ctx context.Context, method, url string, header http.Header) (int, []byte, error) {
	return Fetch(ctx, http.DefaultClient, method, url, header, nil, maxBody)
}

// Fetch does one request with ctx and returns the status and at most limit
// bytes of the answer (a longer one is cut there). Errors name the method and
// URL. Checking the status is the caller's job. The supervisor, the test
// helpers and the starters in this package all talk to their children this way.
func Fetch(ctx context.Context, hc *http.Client, method, url string, header http.Header, body io.Reader, limit int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
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
