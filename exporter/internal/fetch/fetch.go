// Package fetch performs the bounded HTTP exchanges the collectors' clients
// share: a context on every request, a body size limit, and errors that
// name the method and URL.
package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrTooLarge is returned when a body exceeds the caller's limit.
var ErrTooLarge = errors.New("response body too large")

// Do sends req with hc and reads the response body into buf (after
// resetting it), failing if the body is longer than limit bytes. It returns
// the status code; checking it is the caller's job because some callers
// treat 404 or 503 as answers rather than failures.
func Do(hc *http.Client, req *http.Request, limit int64, buf *bytes.Buffer) (int, error) {
	buf.Reset()
	resp, err := hc.Do(req)
	if err != nil {
		// The client's error already names method and URL.
		return 0, err
	}
	defer resp.Body.Close()
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading body: %w", req.Method, req.URL.Redacted(), err)
	}
	if n > limit {
		// Drain nothing more: closing an unread body drops the connection,
		// which is right for a peer that sends too much.
		return resp.StatusCode, fmt.Errorf("%s %s: %w (limit %d bytes)", req.Method, req.URL.Redacted(), ErrTooLarge, limit)
	}
	return resp.StatusCode, nil
}

// StatusError reports an unexpected status code.
type StatusError struct {
	Method string
	URL    string
	Code   int
	// Body is the start of the reply, to show what answered (an HTML error
	// page from a proxy, a JVB health message).
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%s %s: unexpected status %d", e.Method, e.URL, e.Code)
	}
	return fmt.Sprintf("%s %s: unexpected status %d: %q", e.Method, e.URL, e.Code, e.Body)
}

// NewStatusError builds a StatusError quoting at most 120 bytes of body.
func NewStatusError(req *http.Request, code int, body []byte) *StatusError {
	const max = 120
	if len(body) > max {
		body = body[:max]
	}
	return &StatusError{Method: req.Method, URL: req.URL.Redacted(), Code: code, Body: string(bytes.ToValidUTF8(bytes.TrimSpace(body), nil))}
}
