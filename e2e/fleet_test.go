package e2e

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// testTiming makes faults visible within seconds, so the suite stays short on
// two shared cores. One second is the shortest check interval Consul runs.
func testTiming() fleet.Timing {
	return fleet.Timing{
		CheckInterval:  time.Second,
		CheckTimeout:   800 * time.Millisecond,
		ResyncInterval: time.Second,
		DrainTimeout:   time.Minute,
		DrainPoll:      500 * time.Millisecond,
		ScrapeInterval: time.Second,
		PollInterval:   500 * time.Millisecond,
		LoadMaxAge:     5 * time.Second,
		MaxStaleness:   5 * time.Second,
		// Above (success_before_passing 2 + 1) x the check interval, as docs/operations.md says.
		MoveAfter: 6 * time.Second,
	}
}

// startFleet starts a fleet of three nodes with test timing, changed by mod,
// and stops it when the test ends.
func startFleet(t *testing.T, mod func(*fleet.Options)) *fleet.Fleet {
	t.Helper()
	opts := fleet.DefaultOptions()
	opts.Nodes = 3
	opts.Load = 0
	opts.BinDir = binDir
	opts.PrometheusConfig = "../deploy/prometheus/prometheus-http-sd.yml"
	opts.Timing = testTiming()
	opts.Progress = logWriter{t}
	opts.Logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	f, err := fleet.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start fleet: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fleet logs were in %s (removed now)", f.Dir())
			dumpLogs(t, f)
		}
		f.Stop()
	})
	t.Logf("fleet of %d nodes up in %.1fs", opts.Nodes, time.Since(start).Seconds())
	return f
}

// logWriter sends fleet progress to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// measured logs a scenario's time from fault to visible effect in the form
// docs/benchmarks.md collects.
func measured(t *testing.T, scenario string, d time.Duration) {
	t.Helper()
	t.Logf("measured scenario=%s seconds=%.3f", scenario, d.Seconds())
}

// waitFor polls cond until it returns nil and returns how long that took; it
// fails the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) error) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = cond(cctx)
		ccancel()
		if last == nil {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within %v: %v", what, timeout, last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// dumpLogs shows the tail of every part's log after a failure.
func dumpLogs(t *testing.T, f *fleet.Fleet) {
	for name, tail := range f.LogTails() {
		t.Logf("--- %s:\n%s", name, tail)
	}
}
