package httpserve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve binds n loopback ports and runs Serve on them in the background;
// Serve's result arrives on done once cancel is called.
func serve(t *testing.T, n int, opts Options) (ls []net.Listener, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = "127.0.0.1:0"
	}
	ls, err := Listen(t.Context(), addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	ch := make(chan error, 1)
	go func() { ch <- Serve(ctx, ls, opts) }()
	return ls, cancel, ch
}

// Several listeners, concurrent requests on all of them (run with -race:
// one shared server would race on the handler exporter-toolkit wraps),
// then a graceful shutdown that lets the request in flight finish.
func TestServeListenersAndShutdown(t *testing.T) {
	release := make(chan struct{})
	inFlight := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			inFlight <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok "+r.Host)
	})
	ls, cancel, done := serve(t, 2, Options{Handler: h})

	var wg sync.WaitGroup
	for _, a := range Addrs(ls) {
		for range 4 {
			wg.Go(func() {
				if code, body := get(t, "http://"+a.String()+"/"); code != 200 || !strings.HasPrefix(body, "ok ") {
					t.Errorf("%s: %d %q", a, code, body)
				}
			})
		}
	}
	wg.Wait()

	slow := make(chan int, 1)
	go func() {
		code, _ := get(t, "http://"+ls[0].Addr().String()+"/slow")
		slow <- code
	}()
	<-inFlight
	cancel()
	// Shutdown waits for the request in flight.
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if code := <-slow; code != 200 {
		t.Errorf("request in flight at shutdown: %d", code)
	}
	serveReturns(t, done, 10*time.Second, "Serve did not return")
	for _, a := range Addrs(ls) {
		if c, err := net.DialTimeout("tcp", a.String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Serve returned", a)
		}
	}
}

func TestListenFailureClosesBound(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	if _, err := Listen(t.Context(), []string{freeAddr, busy.Addr().String()}, nil); err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("err = %v, want one naming %s", err, busy.Addr())
	}
	// The first address was released again.
	l, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("first address still bound: %v", err)
	}
	l.Close()
	if _, err := Listen(t.Context(), nil, nil); err == nil {
		t.Error("no addresses accepted")
	}
}

// A web config is validated before serving, and its basic auth applies to
// every listener.
func TestWebConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("tls_server_config: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ls, err := Listen(t.Context(), []string{"127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(t.Context(), ls, Options{WebConfigFile: bad}); err == nil || !strings.Contains(err.Error(), "web config") {
		t.Fatalf("bad web config: err = %v", err)
	}

	// bcrypt of "secret", cost 4.
	auth := filepath.Join(dir, "auth.yml")
	if err := os.WriteFile(auth, []byte("basic_auth_users:\n  prom: $2a$04$J2xYIK/CqYr1mdS4TCeIz.pZ4dWbkYWc/K6KHv5vJqv0hj0U3Ts5e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ls, cancel, done := serve(t, 2, Options{WebConfigFile: auth, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	for _, a := range Addrs(ls) {
		if code, _ := get(t, "http://"+a.String()+"/"); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d, want 401", a, code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// A connection that never sent a request (a browser's preconnect, or the
// spare dial of Go's Transport) does not hold shutdown: net/http alone
// would wait five seconds for it.
func TestShutdownClosesFreshConnections(t *testing.T) {
	ls, cancel, done := serve(t, 1, Options{Handler: http.NotFoundHandler(), ShutdownTimeout: time.Minute})
	c, err := net.DialTimeout("tcp", ls[0].Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The request proves the server is serving, on another connection, so
	// the first one is accepted and still fresh.
	if code, _ := get(t, "http://"+ls[0].Addr().String()+"/"); code != http.StatusNotFound {
		t.Fatalf("GET = %d", code)
	}
	start := time.Now()
	cancel()
	// Below net/http's own five seconds, so a pass shows the fresh
	// connection was closed, not timed out.
	serveReturns(t, done, 4*time.Second, "Serve still waits for a connection that sent nothing")
	t.Logf("shutdown took %v", time.Since(start))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("fresh connection still open after shutdown")
	}
}

// A request that outlives the shutdown timeout is cut off, and Serve says
// so rather than leave its connection behind.
func TestShutdownTimeoutClosesRest(t *testing.T) {
	inFlight := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-release
	})
	ls, cancel, done := serve(t, 1, Options{Handler: h, ShutdownTimeout: 100 * time.Millisecond})
	client := make(chan error, 1)
	go func() {
		ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
		defer stop()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ls[0].Addr().String()+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		client <- err
	}()
	<-inFlight
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want the shutdown deadline", err)
	}
	if err := <-client; err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("client: %v, want the connection closed by the server", err)
	}
}

// serveReturns wants Serve to return nil within the bound, and fails with
// late if it has not.
func serveReturns(t *testing.T, done <-chan error, within time.Duration, late string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(within):
		t.Fatal(late)
	}
}
