package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// Scaleway's metadata API answers user-data only to requests from a privileged source port
// (below 1024), so that only root on the instance can read the secrets in it; it answers
// 404 when the instance has no such key and 429 when asked too often (cloud-init's
// DataSourceScaleway relies on the same behaviour).
const (
	firstSourcePort = 1023
	lastSourcePort  = 600
	userDataPath    = "/user_data/cloud-init"
	attemptTimeout  = 5 * time.Second
)

var errNotFound = errors.New("not found")

// fetchScaleway reads the cloud-init key of the instance's user-data, retrying on
// throttling, server errors and busy source ports until ctx ends.
func fetchScaleway(ctx context.Context, base string) ([]byte, error) {
	url := strings.TrimRight(base, "/") + userDataPath
	port := firstSourcePort
	wait := 500 * time.Millisecond
	var last error
	for {
		b, err := fetchOnce(ctx, url, port)
		if err == nil || errors.Is(err, errNotFound) || errors.Is(err, errPermanent) {
			return b, err
		}
		if ctx.Err() != nil && last != nil {
			// The deadline cut this attempt short; the previous answer says why we gave up.
			return nil, fmt.Errorf("scaleway metadata API: giving up: %w", last)
		}
		last = err
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EADDRNOTAVAIL) {
			// Another socket holds this port: take the next one at once.
			if port--; port < lastSourcePort {
				return nil, fmt.Errorf("scaleway metadata API: no free privileged source port in %d-%d: %w", lastSourcePort, firstSourcePort, last)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("scaleway metadata API: giving up: %w", last)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

var errPermanent = errors.New("permanent")

// fetchOnce makes one request from source port port.
func fetchOnce(ctx context.Context, url string, port int) ([]byte, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{Port: port}, Control: reuseAddr}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, Proxy: nil}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scaleway metadata API: %w: %w", errPermanent, err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scaleway metadata API (source port %d): %w", port, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		b, err := readLimited(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("scaleway metadata API: %w: %w", errPermanent, err)
		}
		return b, nil
	case resp.StatusCode == http.StatusNotFound:
		return nil, errNotFound
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, fmt.Errorf("scaleway metadata API: %s", resp.Status)
	default:
		return nil, fmt.Errorf("scaleway metadata API: %w: %s from %s (user-data needs root: a source port below 1024)", errPermanent, resp.Status, url)
	}
}
