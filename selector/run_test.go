package selector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestRunReturnsShutdownError: a graceful shutdown that runs out of time is Run's error, not
// dropped. A request that announced a body it never sends keeps its connection busy (net/http
// waits for the body before answering), so the shutdown cannot finish within its bound.
func TestRunReturnsShutdownError(t *testing.T) {
	opts := testOptions(t, testenv.StartConsul(t, testenv.ConsulOptions{}))
	opts.ShutdownTimeout = 200 * time.Millisecond
	s, a, cancel, done := launch(t, opts)
	defer cancel()

	conn, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /-/healthy HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\n", a); err != nil {
		t.Fatal(err)
	}
	// The handler has run once the counter moves; the connection then waits for the body.
	served := s.metrics.requests.WithLabelValues("healthy", "200")
	testenv.WaitFor(t, 10*time.Second, func() error {
		if testutil.ToFloat64(served) < 1 {
			return errors.New("GET /-/healthy not served yet")
		}
		return nil
	})

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shutdown") {
			t.Fatalf("Run = %v, want the shutdown's deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
