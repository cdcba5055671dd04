package soak

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// FaultRecord is one fault as it happened.
type FaultRecord struct {
	Event
	// Victim is what was hit when Target named a role ("leader" →
	// "ensemble-server-2").
	Victim string `json:"victim,omitempty"`
	// Applied and Reverted are offsets from the soak's start; Reverted is
	// when the part was back (restarted and ready), not when it was asked.
	Applied  time.Duration `json:"applied"`
	Reverted time.Duration `json:"reverted"`
	// Waited is how long the fault waited for its target's previous fault.
	Waited time.Duration `json:"waited,omitempty"`
	Err    string        `json:"err,omitempty"`
}

func (r FaultRecord) String() string {
	s := fmt.Sprintf("%7.1fs .. %6.1fs  %-20s %-10s", r.Applied.Seconds(), r.Reverted.Seconds(), r.Kind, r.Target)
	if r.Victim != "" && r.Victim != r.Target {
		s += " (" + r.Victim + ")"
	}
	if r.Err != "" {
		s += "  ERROR: " + r.Err
	}
	return s
}

// injector applies the plan to a fleet and records the ground truth.
type injector struct {
	f     *fleet.Fleet
	start time.Time
	tl    *timeline
	// leaks samples a daemon before a fault kills or stops it; kv reads
	// the room prefix before and after each selector or Consul fault.
	leaks *leakWatch
	kv    *kvRecorder
	// idle closes the balancer's idle connections to the replicas, so that
	// a replica's sample before its kill counts what it holds itself.
	idle func()
	// maxHold and longClear: a fault held longer than maxHold is a long
	// node fault, and no Consul fault may run during its first longClear
	// (planOptions.LongClear); the plan keeps them apart, and inject keeps
	// them apart when a fault is late.
	maxHold, longClear time.Duration
	// applyFn replaces apply in tests of the injector's timing; nil: apply.
	applyFn func(ctx context.Context, e Event, rec *FaultRecord) (func(context.Context) error, error)

	locks sync.Map // lock group → *sync.Mutex

	mu      sync.Mutex
	records []FaultRecord
}

// setDrain drains (on) or undrains a node through its sidecar's API. It is
// the soak's one way to drain, so a change of the sidecar's control API
// (a separate control listener) is made here.
func setDrain(ctx context.Context, n *fleet.Node, on bool) error {
	if on {
		return n.Drain(ctx)
	}
	return n.Undrain(ctx)
}

func (in *injector) lock(group string) *sync.Mutex {
	m, _ := in.locks.LoadOrStore(group, &sync.Mutex{})
	return m.(*sync.Mutex)
}

// run injects every event at its time; faults still in force when ctx ends
// are reverted at once. It returns when every fault is reverted.
func (in *injector) run(ctx context.Context, plan []Event) []FaultRecord {
	var wg sync.WaitGroup
	for _, e := range plan {
		wg.Go(func() {
			t := time.NewTimer(time.Until(in.start.Add(e.At)))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			in.inject(ctx, e)
		})
	}
	wg.Wait()
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.records
}

// reviveTimeout bounds the revert of one fault (a restart and its
// readiness).
const reviveTimeout = 60 * time.Second

func (in *injector) inject(ctx context.Context, e Event) {
	m := in.lock(lockOf(e))
	asked := time.Now()
	m.Lock()
	defer m.Unlock()
	// A long node fault also takes the Consul faults' lock, until its first
	// longClear has passed: a Consul fault that waited for the previous one
	// (whose revert waits for every server to be a voter again, up to tens
	// of seconds) would otherwise start inside that span whatever the plan
	// said, and while Consul cannot write no replica moves the node's rooms
	// (seed 7979172301437737146: an agent restart 3 s into a 30 s bridge
	// hang). The long fault likewise waits for a Consul fault still being
	// reverted. Only long faults take two locks, node then Consul: no
	// deadlock.
	release := func() {}
	if in.longClear > 0 && e.Hold > in.maxHold && e.Kind.nodeFault() {
		c := in.lock(lockOf(Event{Kind: ConsulAgentRestart}))
		c.Lock()
		var once sync.Once
		release = func() { once.Do(c.Unlock) }
	}
	defer release()
	if ctx.Err() != nil {
		return
	}
	rec := FaultRecord{Event: e, Waited: time.Since(asked).Round(time.Millisecond)}
	if rec.Waited < 50*time.Millisecond {
		rec.Waited = 0
	}
	rec.Applied = time.Since(in.start)
	apply := in.apply
	if in.applyFn != nil {
		apply = in.applyFn
	}
	revert, err := apply(ctx, e, &rec)
	if err != nil {
		rec.Err = "apply: " + err.Error()
	}
	cleared := time.AfterFunc(in.longClear, release)
	defer cleared.Stop()
	if revert != nil {
		t := time.NewTimer(e.Hold)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		rctx, cancel := context.WithTimeout(context.Background(), reviveTimeout)
		if err := revert(rctx); err != nil {
			rec.Err = strings.TrimPrefix(rec.Err+"; revert: "+err.Error(), "; ")
		}
		cancel()
	}
	rec.Reverted = time.Since(in.start)
	in.mu.Lock()
	in.records = append(in.records, rec)
	in.mu.Unlock()
}

// window opens a ground-truth window and returns its closer.
func (in *injector) window(node string, state State, kind Kind) func() {
	return in.fleetWindow(node, state, kind, "")
}

// fleetWindow is window with the part a fleet-wide fault hit.
func (in *injector) fleetWindow(node string, state State, kind Kind, target string) func() {
	i := in.tl.Open(Window{Node: node, State: state, Kind: kind, Target: target, Start: time.Now()})
	return func() { in.tl.Close(i, time.Now()) }
}

// beforeKill samples the daemon a fault is about to kill or stop.
func (in *injector) beforeKill(ctx context.Context, name string, k Kind) {
	in.leaks.before(ctx, in.f.Processes(), name, fmt.Sprintf("before %s at %.1fs", k, time.Since(in.start).Seconds()))
}

// churned returns a revert that reads the room prefix once the part is
// back; with the read just before the fault, every binding is compared
// across it.
func (in *injector) churned(revert func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		err := revert(ctx)
		in.kv.read(ctx)
		return err
	}
}

// apply injects e and returns what reverts it (nil if nothing was done).
// Ground-truth windows open just before the fault and close once the part
// is back.
func (in *injector) apply(ctx context.Context, e Event, rec *FaultRecord) (func(context.Context) error, error) {
	rec.Victim = e.Target
	if e.Kind.nodeFault() {
		n := in.f.Node(e.Target)
		if n == nil {
			return nil, fmt.Errorf("no node %s", e.Target)
		}
		return in.nodeFault(ctx, e.Kind, n)
	}
	switch e.Kind {
	case SelectorKill:
		s := in.selector(e.Target)
		if s == nil {
			return nil, fmt.Errorf("no selector %s", e.Target)
		}
		if in.idle != nil {
			in.idle()
			sleep(ctx, 300*time.Millisecond) // the replica sees the closes
		}
		in.beforeKill(ctx, s.Name, e.Kind)
		in.kv.read(ctx)
		closeW := in.fleetWindow("", Churn, e.Kind, s.Name)
		if err := s.Kill(); err != nil {
			closeW()
			return nil, err
		}
		return in.churned(func(ctx context.Context) error { defer closeW(); return s.Restart(ctx) }), nil
	case PrometheusStop:
		in.beforeKill(ctx, "prometheus", e.Kind)
		if err := in.f.StopPrometheus(); err != nil {
			return nil, err
		}
		return in.f.StartPrometheus, nil
	case ConsulAgentRestart:
		rec.Victim = in.f.Consul.NodeName
		if err := in.waitVoters(ctx); err != nil {
			return nil, err
		}
		in.beforeKill(ctx, "consul "+in.f.Consul.NodeName, e.Kind)
		in.kv.read(ctx)
		closeBlind := in.fleetWindow("", Blind, e.Kind, in.f.Consul.NodeName)
		closeChurn := in.fleetWindow("", Churn, e.Kind, in.f.Consul.NodeName)
		if err := in.f.Consul.Stop(); err != nil {
			closeBlind()
			closeChurn()
			return nil, err
		}
		return in.churned(func(ctx context.Context) error {
			defer closeChurn()
			defer closeBlind()
			if err := in.f.Consul.Restart(ctx); err != nil {
				return err
			}
			return in.waitVoters(ctx)
		}), nil
	case ConsulServerKill:
		revert, err := in.killServer(ctx, e.Target, rec)
		if revert != nil {
			revert = in.churned(revert)
		}
		return revert, err
	}
	return nil, fmt.Errorf("unknown fault %q", e.Kind)
}

func (in *injector) selector(name string) *fleet.Selector {
	for _, s := range in.f.Selectors {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (in *injector) nodeFault(ctx context.Context, k Kind, n *fleet.Node) (func(context.Context) error, error) {
	state := Down
	switch k {
	case Drain:
		state = Draining
	case BridgeGarbage:
		state = Degraded
	}
	closeW := in.window(n.ID, state, k)
	var revert func(context.Context) error
	var err error
	switch k {
	case SidecarKill:
		in.beforeKill(ctx, n.ID+" sidecar", k)
		err = n.KillSidecar()
		revert = n.StartSidecar
	case BridgeHang, Bridge500, BridgeGarbage:
		fault := map[Kind]string{BridgeHang: "hang", Bridge500: "error500", BridgeGarbage: "garbage"}[k]
		err = n.SetFault(ctx, fault)
		revert = func(ctx context.Context) error { return n.SetFault(ctx, "none") }
	case NginxStop:
		in.beforeKill(ctx, n.ID+" nginx", k)
		err = n.StopNginx()
		revert = n.StartNginx
	case Drain:
		err = setDrain(ctx, n, true)
		// The sidecar's undrain waits for Consul, which may be electing a
		// leader: try again until the revert's deadline.
		revert = func(ctx context.Context) error { return retry(ctx, func() error { return setDrain(ctx, n, false) }) }
	case Partition:
		err = n.Partition(true)
		revert = func(context.Context) error { return n.Partition(false) }
	}
	if err != nil {
		// Half-done faults are reverted too (a partition that froze some
		// processes, say).
		_ = revert(ctx)
		closeW()
		return nil, err
	}
	return func(ctx context.Context) error { defer closeW(); return revert(ctx) }, nil
}

// killServer SIGKILLs a Consul server other than the fleet's agent: the
// leader (after moving the leadership off the agent if the agent holds it)
// or a follower. Killing the leader opens a blind window until a new one is
// elected.
func (in *injector) killServer(ctx context.Context, target string, rec *FaultRecord) (func(context.Context) error, error) {
	cl := in.f.Cluster
	if cl == nil {
		return nil, errors.New("the fleet has no Consul cluster")
	}
	if err := in.waitVoters(ctx); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	leader, err := cl.Leader(lctx)
	if err != nil {
		return nil, err
	}
	closeChurn := in.window("", Churn, ConsulServerKill)
	if target == "leader" && leader == in.f.Consul {
		// The agent must survive: move the leadership first.
		closeBlind := in.window("", Blind, ConsulServerKill)
		leader, err = in.transferLeader(lctx, cl)
		closeBlind()
		if err != nil {
			closeChurn()
			return nil, fmt.Errorf("move the leadership off the agent: %w", err)
		}
	}
	var victim *services.Consul
	for _, s := range cl.Servers {
		if s == in.f.Consul || !s.Running() {
			continue
		}
		if (target == "leader") == (s == leader) {
			victim = s
			break
		}
	}
	if victim == nil {
		closeChurn()
		return nil, fmt.Errorf("no running %s other than the agent", target)
	}
	rec.Victim = victim.NodeName
	in.beforeKill(ctx, "consul "+victim.NodeName, ConsulServerKill)
	in.kv.read(ctx)
	var closeBlind func()
	if victim == leader {
		closeBlind = in.window("", Blind, ConsulServerKill)
	}
	if err := victim.Kill(); err != nil {
		if closeBlind != nil {
			closeBlind()
		}
		closeChurn()
		return nil, err
	}
	revert := func(ctx context.Context) error {
		defer closeChurn()
		if err := victim.Restart(ctx); err != nil {
			return err
		}
		return in.waitVoters(ctx)
	}
	if closeBlind != nil {
		_, err := cl.Leader(lctx)
		closeBlind()
		if err != nil {
			// The killed server still comes back after the hold.
			return revert, fmt.Errorf("no new leader: %w", err)
		}
	}
	return revert, nil
}

// waitVoters waits until the Consul cluster can lose a server: every
// server of the cluster a voter, a leader, and autopilot reporting every
// server healthy (alive, in contact with the leader, its log caught up)
// with a failure tolerance of at least one. A server that rejoins after a
// kill is a non-voter until autopilot finds it stable (10 s); and one that
// is back and a voter may still be catching up: killing the leader then
// leaves no quorum (seed 6551752796806853350: the leader killed just after
// the agent, itself a server, came back, and no leader for 28 s).
func (in *injector) waitVoters(ctx context.Context) error {
	c, err := api.NewClient(in.f.Consul.Config())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, reviveTimeout)
	defer cancel()
	want := len(in.f.Cluster.Servers)
	var last error
	for {
		if last = canLoseServer(ctx, c, want); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("consul cluster not whole: %w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// canLoseServer reports why the cluster of want servers that c talks to
// could not lose one now (nil: it could).
func canLoseServer(ctx context.Context, c *api.Client, want int) error {
	q := (&api.QueryOptions{}).WithContext(ctx)
	cfg, err := c.Operator().RaftGetConfiguration(q)
	if err != nil {
		return err
	}
	voters, leader := 0, false
	for _, s := range cfg.Servers {
		if s.Voter {
			voters++
		}
		leader = leader || s.Leader
	}
	if voters != want || !leader {
		return fmt.Errorf("%d of %d voters, leader %v", voters, want, leader)
	}
	h, err := c.Operator().AutopilotServerHealth(q)
	if err != nil {
		return err
	}
	if !h.Healthy || h.FailureTolerance < 1 || len(h.Servers) != want {
		var sick []string
		for _, s := range h.Servers {
			if !s.Healthy {
				sick = append(sick, s.Name)
			}
		}
		return fmt.Errorf("autopilot: healthy %v, failure tolerance %d, %d servers, unhealthy %v", h.Healthy, h.FailureTolerance, len(h.Servers), sick)
	}
	return nil
}

// transferLeader asks the cluster to elect another leader and waits for it.
func (in *injector) transferLeader(ctx context.Context, cl *services.ConsulCluster) (*services.Consul, error) {
	c, err := api.NewClient(in.f.Consul.Config())
	if err != nil {
		return nil, err
	}
	if _, err := c.Operator().RaftLeaderTransfer("", (&api.QueryOptions{}).WithContext(ctx)); err != nil {
		return nil, err
	}
	for {
		l, err := cl.Leader(ctx)
		if err != nil {
			return nil, err
		}
		if l != in.f.Consul {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// retry calls fn every half second until it succeeds or ctx ends, and
// returns its last error.
func retry(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		sleep(ctx, 500*time.Millisecond)
		if ctx.Err() != nil {
			return err
		}
	}
}
