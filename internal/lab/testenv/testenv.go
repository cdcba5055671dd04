// Package testenv gives tests real Consul, nginx, Prometheus and Chromium on
// loopback (through internal/lab/services), stopped by t.Cleanup, with their
// logs printed when the test fails, plus small polling helpers.
package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// startTimeout bounds any one start, restart or readiness wait.
const startTimeout = 60 * time.Second

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := services.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// WaitFor calls cond every 20 ms until it returns nil; after timeout it
// fails the test with cond's last error.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ConsulPath finds the consul binary (see services.ConsulPath).
func ConsulPath() (string, error) { return services.ConsulPath() }

// startContext ends with the test or after startTimeout.
func startContext(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), startTimeout)
}

// cleanup registers stop, logging name's log first when the test failed.
func cleanup(t testing.TB, name string, log func() string, stop func() error) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s log (tail):\n%s", name, log())
		}
		if err := stop(); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
}
