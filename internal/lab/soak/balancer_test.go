package soak

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// serve runs h on 127.0.0.1:0 until the test ends.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// A replica that refuses connections costs no request: the balancer
// skips to the next, and relays redirects without following them.
func TestBalancerSkipsDeadReplica(t *testing.T) {
	live := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://node-1.localhost:1"+r.URL.Path, http.StatusFound)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	lb, err := startBalancer([]backend{{Name: "dead", URL: dead}, {Name: "live", URL: live}})
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	client := &http.Client{Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 6 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, lb.URL()+"/room-x", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://node-1.localhost:1/room-x" ||
			resp.Header.Get(replicaHeader) != "live" {
			t.Errorf("request %d: %d %q from %q", i, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get(replicaHeader))
		}
	}
	req, _ := http.NewRequest(http.MethodPost, lb.URL()+"/room-x", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST through the balancer: %d", resp.StatusCode)
	}
}
