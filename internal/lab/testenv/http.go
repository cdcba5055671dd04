package testenv

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
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
	code, body, err := services.Fetch(ctx, http.DefaultClient, http.MethodGet, url, header, nil, maxBody)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
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
