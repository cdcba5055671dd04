package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
	"github.com/ensemble-jitsi/ensemble/internal/lab/soak"
)

// soakSettings reads SOAK_DURATION (default 60s, the version make test
// runs; make soak sets 10m), SOAK_SEED (default: drawn and printed) and
// SOAK_RATE (requests per second, default 15).
func soakSettings(t *testing.T) (time.Duration, uint64, float64) {
	t.Helper()
	d := 60 * time.Second
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 30*time.Second {
			t.Fatalf("SOAK_DURATION=%q: want a duration of at least 30s (%v)", s, err)
		}
	}
	seed := rand.Uint64() >> 1
	if s := os.Getenv("SOAK_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SOAK_SEED=%q: want an unsigned integer: %v", s, err)
		}
	}
	rate := 15.0
	if s := os.Getenv("SOAK_RATE"); s != "" {
		var err error
		if rate, err = strconv.ParseFloat(s, 64); err != nil || rate <= 0 || rate > 500 {
			t.Fatalf("SOAK_RATE=%q: want requests per second in (0, 500] (%v)", s, err)
		}
	}
	return d, seed, rate
}

// The chaos soak: a fleet with three Consul servers, four nodes and two
// selectors behind a balancer, under steady load, while seeded random
// faults hit every part, overlapping. Every invariant must count zero
// (internal/lab/soak); the report is printed as tables and JSON (to the file
// SOAK_REPORT when set).
func TestSoak(t *testing.T) {
	d, seed, rate := soakSettings(t)
	t.Logf("soak seed %d: replay with SOAK_SEED=%d SOAK_DURATION=%v", seed, seed, d)
	timing := testTiming()
	// Twice the documented detection time (docs/operations.md).
	detect := 2 * (timing.CheckInterval + timing.CheckTimeout + time.Second)
	f := startFleet(t, func(o *fleet.Options) {
		o.ConsulServers = 3
		o.Nodes = 4
	})
	waitSettled(t, f)
	// A new three-server cluster can refuse KV writes for a few seconds after its election
	// (autopilot promotes the followers); the soak measures faults, not the start-up, so it
	// begins once every selector can bind a room.
	for _, s := range f.Selectors {
		n := 0
		waitFor(t, 30*time.Second, s.Name+" binds rooms", func(ctx context.Context) error {
			n++
			_, err := room(ctx, s.URL, fmt.Sprintf("soak-ready-%s-%d", s.Name, n))
			return err
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()
	rep, err := soak.Run(ctx, f, soak.Options{
		Duration: d, Seed: seed, Rate: rate, NewShare: 0.25,
		Warmup: 8 * time.Second, Every: 3 * time.Second, MinHold: 2 * time.Second, MaxHold: 8 * time.Second,
		// Past detection + 2 x move-after (17.6 s), whose rooms must move;
		// Consul keeps writing for that long plus 2 s.
		LongHold: 30 * time.Second, LongEvery: 2 * time.Minute, LongClear: detect + 2*timing.MoveAfter + 2*time.Second,
		Bounds: soak.Bounds{
			Detect: detect,
			// Twice the time a returning node takes to pass again.
			Recover: 2 * (2*timing.CheckInterval + time.Second),
			// A room may move only off a node down this long.
			MoveAfter: timing.MoveAfter,
			// Two blocking queries on one agent see a change within a check
			// interval of each other.
			Skew: timing.CheckInterval,
			// About twice the 9 s measured (docs/operations.md, "Chaos soak").
			ConsulSettle: 20 * time.Second,
			// An election nobody injected (three servers on a starved machine)
			// fails a write asked up to the store's timeout (2 s) plus the
			// leader lease (0.5 s with the cluster's raft_multiplier 1) before
			// the leader watch sees it; twice that.
			ElectionLead: 5 * time.Second,
			// Outside every fault window (the 8 s warm-up at least, about
			// 120 answers) at most one answer in a hundred may name no node.
			MinOKShare: 0.99, MinQuiet: 50,
		},
		Out: logWriter{t},
	})
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	f.Stop()
	rep.Finish(soak.Leftovers(rep.Groups))

	var table strings.Builder
	rep.Print(&table)
	t.Log("\n" + table.String())
	js, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, js, 0o644); err != nil {
			t.Errorf("write SOAK_REPORT: %v", err)
		}
		t.Logf("report written to %s", path)
	} else {
		t.Logf("report JSON:\n%s", js)
	}

	for _, inv := range rep.Invariants {
		if inv.Count > 0 {
			t.Errorf("invariant %d (%s): %d, want 0; first: %v", inv.ID, inv.Name, inv.Count, inv.Examples)
		}
	}
	if missing := rep.Uninjected(); len(missing) > 0 {
		t.Errorf("faults never injected (seed %d): %v", seed, missing)
	}
	if len(rep.LongFaults) == 0 {
		t.Errorf("no node fault held past detection + 2 x move-after (seed %d): nothing shows rooms move", seed)
	}
	// Invariant 4 needs the room prefix read across the whole run.
	if want := int(d / (2 * time.Second)); rep.KVReads < want {
		t.Errorf("room prefix read %d times (%d failed), want at least %d", rep.KVReads, rep.KVFailed, want)
	}
	for _, r := range rep.Faults {
		if r.Err != "" {
			t.Errorf("fault %s", r)
		}
	}
	if min := rate * 0.5; rep.Achieved < min {
		t.Errorf("load ran at %.1f requests/s, below half the %.0f asked", rep.Achieved, rate)
	}
}
