package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// maxBody bounds every answer the supervisor reads from a part of the fleet.
const maxBody = 1 << 20

// httpClient is used for all control and readiness calls; every call also
// carries its own context deadline.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// call sends in (if not nil) as JSON and decodes a 2xx JSON answer into out
// (if not nil).
func call(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, url, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	header := http.Header{"Accept": {"application/json"}}
	if in != nil {
		header.Set("Content-Type", "application/json")
	}
	code, b, err := services.Fetch(ctx, httpClient, method, url, header, body, maxBody)
	if err != nil {
		return err
	}
	if code/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %.200s", method, url, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode %.200q: %w", method, url, b, err)
		}
	}
	return nil
}

// poll calls cond every interval until it succeeds or ctx ends; the error
// names the last failure.
func poll(ctx context.Context, interval time.Duration, cond func(ctx context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
