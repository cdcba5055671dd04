package testenv

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// maxBody bounds what Fetch reads: pages under test are small, so more
// means a fault.
const maxBody = 16 << 20

// Fetch GETs url with the given request header (may be nil) and a 30 s
// deadline, and returns the status code and the body; a failed request
// fails t.
func Fetch(t testing.TB, url string, header http.Header) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// Get is Fetch that fails t unless the answer is 200 OK.
func Get(t testing.TB, url string, header http.Header) []byte {
	t.Helper()
	code, body := Fetch(t, url, header)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d\n%s", url, code, body)
	}
	return body
}
