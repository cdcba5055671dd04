package imagecheck

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// maxBody bounds what a check reads of an answer: a metrics page or a Consul listing of a
// three-node test fleet is far smaller.
const maxBody = 4 << 20

// Direct is a client that uses no proxy from the environment: every address the checks reach
// is in the test's own network namespaces.
func Direct() *http.Client { return &http.Client{Transport: &http.Transport{}} }

// NoRedirects is Direct that returns redirects instead of following them, for the checks that
// judge where a redirect goes.
func NoRedirects() *http.Client {
	c := Direct()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Ready checks that GET url answers 200 (a /-/ready or /-/healthy endpoint).
func Ready(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := getOK(ctx, client, url)
		return err
	}
}

// getOK returns the body of GET url, which must answer 200.
func getOK(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	code, body, err := services.Fetch(ctx, client, http.MethodGet, url, nil, nil, maxBody)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, code)
	}
	return body, nil
}

// head sends GET url, with host as the Host header if it is not empty, and returns the answer's
// status and headers (the body is discarded): what the redirect checks judge.
func head(ctx context.Context, client *http.Client, url, host string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	return resp, nil
}
