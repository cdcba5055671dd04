package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
	"github.com/ensemble-jitsi/ensemble/selector"
)

// Options configures a soak.
type Options struct {
	// Duration is how long load and faults run.
	Duration time.Duration
	// Seed draws the fault schedule and the load; the same seed replays the
	// same schedule (SOAK_SEED=).
	Seed uint64
	// Rate is the requests per second through the balancer; NewShare of
	// them start meetings, the others join running ones.
	Rate, NewShare float64
	// Warmup is the load-only time before the first fault; the resources
	// are measured at its end.
	Warmup time.Duration
	// Every is the mean time between fault starts; MinHold and MaxHold
	// bound a fault's length.
	Every, MinHold, MaxHold time.Duration
	// LongHold is the hold of the long node faults (one per LongEvery of
	// the fault window, at least one, the first at the end of the warm-up),
	// which must outlast detection + 2 x move-after so that the judge sees
	// their rooms move; no Consul fault runs in their first LongClear.
	LongHold, LongEvery, LongClear time.Duration
	// Bounds are the invariants' allowances.
	Bounds Bounds
	// Out receives the seed, the plan and the fault log as it happens.
	Out io.Writer
}

// notInjected lists the faults the issue asks for that the soak does not
// inject, and why.
func notInjected() map[string]string {
	return map[string]string{
		"clock jump on one node": "the daemons are Go binaries, which read the clock through the vDSO, so libfaketime " +
			"does not reach them; none takes a test clock from outside; and setting the machine's clock would hit every " +
			"process on this shared host",
		"consul agent restart on one node": "the fleet runs no Consul agent per node: every sidecar and selector talks " +
			"to one server agent, so consul-agent-restart restarts that agent, which is every node's agent at once",
	}
}

// Run drives load and faults against f for o.Duration and returns what it
// counted. Invariant 5's check that no process outlives the fleet needs
// the fleet stopped: the caller runs Leftovers on Report.Groups after Stop.
func Run(ctx context.Context, f *fleet.Fleet, o Options) (*Report, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	nodes := make([]string, len(f.Nodes))
	hosts := map[string]string{}
	for i, n := range f.Nodes {
		nodes[i] = n.ID
		u, err := url.Parse(n.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("soak: %s public URL: %w", n.ID, err)
		}
		hosts[u.Host] = n.ID
	}
	var backends []backend
	for _, s := range f.Selectors {
		backends = append(backends, backend{Name: s.Name, URL: s.URL})
	}
	plan, err := planFaults(o.Seed, planOptions{
		Duration: o.Duration, Warmup: o.Warmup, Cooldown: 5 * time.Second,
		Every: o.Every, MinHold: o.MinHold, MaxHold: o.MaxHold, Reserve: 3 * time.Second,
		Nodes: nodes, Selectors: names(backends), MaxNodesDown: max(1, len(nodes)/2),
		LongHold: o.LongHold, LongEvery: o.LongEvery, LongClear: o.LongClear,
	})
	if err != nil {
		return nil, err
	}
	// The observer, the leader watch and the KV reads are the judge's
	// ground truth: without a client the soak cannot run.
	consul, err := api.NewClient(f.Consul.Config())
	if err != nil {
		return nil, fmt.Errorf("soak: consul client for the observer: %w", err)
	}
	fmt.Fprintf(o.Out, "soak: seed %d (replay with SOAK_SEED=%d), %v, %.0f requests/s, %d faults planned:\n",
		o.Seed, o.Seed, o.Duration, o.Rate, len(plan))
	for _, e := range plan {
		fmt.Fprintf(o.Out, "  plan %s\n", e)
	}

	lb, err := startBalancer(backends)
	if err != nil {
		return nil, err
	}
	defer lb.Close()

	rep := &Report{Seed: o.Seed, Duration: o.Duration, Nodes: len(f.Nodes), Selectors: len(f.Selectors),
		Rate: o.Rate, Plan: plan, Groups: map[int]uint64{}, NotInjected: notInjected()}
	if f.Cluster != nil {
		rep.ConsulServers = len(f.Cluster.Servers)
	}
	var groupsMu sync.Mutex
	track := func() {
		groupsMu.Lock()
		defer groupsMu.Unlock()
		for _, p := range f.Processes() {
			// The latest process with a PID is the one that could be left.
			if t := StartTime(p.PID); t != 0 || rep.Groups[p.PID] == 0 {
				rep.Groups[p.PID] = t
			}
		}
	}
	track()

	start := time.Now()
	runCtx, stop := context.WithDeadline(ctx, start.Add(o.Duration))
	defer stop()
	var wg sync.WaitGroup
	var answers []Answer
	wg.Go(func() {
		answers, rep.Skipped = runLoad(runCtx, loadOptions{
			URL: lb.URL(), Replicas: backends, Rate: o.Rate, NewShare: o.NewShare, Hosts: hosts,
			Meeting: meetingOn(f), MeetingMin: 10 * time.Second, MeetingMax: 40 * time.Second,
			Seed: o.Seed, MaxInFlight: 64, ProbeEvery: time.Second,
		})
	})
	// The process tracker catches every restarted process's group.
	wg.Go(func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				track()
			}
		}
	})
	tl := &timeline{}
	// Over the selectors' lookup deadline (3 s) with room to spare.
	leaks := &leakWatch{settle: 5 * time.Second}
	kv := newKVRecorder(consul, selector.DefaultOptions().RoomsPrefix)
	in := &injector{f: f, start: start, tl: tl, leaks: leaks, kv: kv, idle: lb.CloseIdle, maxHold: o.MaxHold, longClear: o.LongClear}
	var observed, leaders int
	wg.Go(func() { observed = observe(runCtx, consul, nodes, tl) })
	wg.Go(func() { leaders = watchLeader(runCtx, f, tl) })
	wg.Go(func() { kv.run(runCtx, time.Second) })
	// Resources are measured after the warm-up, before the first fault.
	select {
	case <-runCtx.Done():
	case <-time.After(max(0, o.Warmup-time.Second)):
	}
	leaks.baseline(ctx, f.Processes())
	wg.Go(func() { rep.Faults = in.run(runCtx, plan) })
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if observed == 0 || leaders == 0 {
		return nil, fmt.Errorf("soak: Consul never answered the observer (%d health answers, %d leader answers): no ground truth", observed, leaders)
	}
	// The balancer keeps up to 32 idle connections to each replica for 30 s, each a goroutine and a
	// file in the replica (a 10-minute soak ended with one replica at 56 goroutines and 47 files,
	// against 28 and 20 at the start). Closing them lets the end sample count what the replicas
	// hold themselves.
	lb.CloseIdle()
	rep.Elapsed = time.Since(start)
	slices.SortFunc(rep.Faults, func(a, b FaultRecord) int { return int(a.Applied - b.Applied) })
	fmt.Fprintln(o.Out, "soak: fault log:")
	for _, r := range rep.Faults {
		fmt.Fprintf(o.Out, "  %s\n", r)
	}

	// Every fault is reverted: the fleet must come back whole.
	recovered := time.Now()
	if err := waitWhole(ctx, f, 90*time.Second); err != nil {
		rep.RecoveryErr = err.Error()
	}
	rep.Recovery = time.Since(recovered)
	track()
	kv.read(ctx)

	// Keep-alive connections of the load close when it ends; goroutines
	// settle within seconds. Poll the end sample until it is within bound
	// or 20 s have passed.
	var resources []Resource
	deadline := time.Now().Add(20 * time.Second)
	for {
		resources = leaks.end(sample(ctx, f.Processes()))
		if allOK(resources) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	slices.SortStableFunc(resources, func(a, b Resource) int { return cmpString(a.Name, b.Name) })
	rep.Resources = resources
	snaps, failed := kv.snapshots()
	rep.KVReads, rep.KVFailed = len(snaps), failed
	rep.tally(evidence{Nodes: nodes, Answers: answers, Windows: tl.Windows(), KV: snaps}, o.Bounds)
	return rep, nil
}

func names(bs []backend) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}

func allOK(rs []Resource) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return true
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// meetingOn starts meetings on the nodes' emulated bridges.
func meetingOn(f *fleet.Fleet) func(ctx context.Context, node string, size int) (func(), error) {
	return func(ctx context.Context, node string, size int) (func(), error) {
		n := f.Node(node)
		if n == nil {
			return nil, fmt.Errorf("no node %s", node)
		}
		id, err := n.StartConference(ctx, size)
		if err != nil {
			return nil, err
		}
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = n.EndConference(ctx, id) // a node frozen at the end loses nothing that matters
		}, nil
	}
}

// waitWhole waits until every node passes in Consul and every selector is
// ready and shows every node eligible.
func waitWhole(ctx context.Context, f *fleet.Fleet, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		last = whole(ctx, f)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fleet not whole within %v: %w", timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func whole(ctx context.Context, f *fleet.Fleet) error {
	ids, err := f.Passing(ctx)
	if err != nil {
		return err
	}
	if len(ids) != len(f.Nodes) {
		return fmt.Errorf("%d of %d nodes passing: %v", len(ids), len(f.Nodes), ids)
	}
	for _, s := range f.Selectors {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.URL+"/-/ready", nil)
		if err != nil {
			cancel()
			return err
		}
		resp, err := metricsClient.Do(req)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: /-/ready %d", s.Name, resp.StatusCode)
		}
	}
	return nil
}
