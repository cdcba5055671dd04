package fleet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The front keeps one URL across backend restarts, and refuses connections
// while no backend is open, as a stopped Prometheus would.
func TestPromFront(t *testing.T) {
	fr, err := newPromFront()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + fr.addr
	get := func() (string, error) {
		var out struct{ Name string }
		err := call(context.Background(), http.MethodGet, url, nil, &out)
		return out.Name, err
	}
	backend := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"Name":"` + name + `"}`))
		}))
		t.Cleanup(s.Close)
		return s
	}

	if _, err := get(); err == nil {
		t.Fatal("front answered before it was opened")
	}
	first := backend("first")
	if err := fr.open(strings.TrimPrefix(first.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	if got, err := get(); err != nil || got != "first" {
		t.Fatalf("through the front: %q, %v", got, err)
	}
	fr.close()
	if _, err := get(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("closed front: %v, want connection refused", err)
	}
	second := backend("second")
	if err := fr.open(strings.TrimPrefix(second.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	if got, err := get(); err != nil || got != "second" {
		t.Fatalf("reopened front: %q, %v", got, err)
	}
	fr.close()
	fr.close() // idempotent
}
