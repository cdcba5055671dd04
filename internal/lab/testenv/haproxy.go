package testenv

import (
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// HAProxyOptions configures StartHAProxy (frontends and backends).
type HAProxyOptions = services.HAProxyOptions

// HAProxy is a running haproxy; StatsURL is set.
type HAProxy = services.HAProxy

// StartHAProxy starts haproxy with a statistics page on a free port and stops it when the
// test ends.
func StartHAProxy(t testing.TB, opts HAProxyOptions) *HAProxy {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	h, err := services.StartHAProxy(ctx, opts)
	if err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	cleanup(t, "haproxy", h.Log, h.Stop)
	return h
}
