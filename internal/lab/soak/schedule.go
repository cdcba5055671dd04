package soak

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Kind is a kind of fault.
type Kind string

// The faults the soak injects. Node faults target one emulated node each.
const (
	SidecarKill   Kind = "sidecar-kill"   // SIGKILL the sidecar, start it again at the end
	BridgeHang    Kind = "bridge-hang"    // the videobridge API never answers
	Bridge500     Kind = "bridge-500"     // the videobridge API answers 500
	BridgeGarbage Kind = "bridge-garbage" // the videobridge API answers 200 with broken JSON
	NginxStop     Kind = "nginx-stop"     // nginx stopped, started again at the end
	Drain         Kind = "drain"          // drained through the sidecar's API, undrained at the end
	Partition     Kind = "partition"      // the node frozen (SIGSTOP), so callers time out
	// ConsulServerKill SIGKILLs a Consul server (target "leader" or
	// "follower"), never the agent the fleet talks to, and restarts it.
	ConsulServerKill Kind = "consul-server-kill"
	// ConsulAgentRestart stops the Consul agent every sidecar and selector
	// talks to and starts it again (the fleet has no agent per node).
	ConsulAgentRestart Kind = "consul-agent-restart"
	PrometheusStop     Kind = "prometheus-stop" // Prometheus stopped and started again
	SelectorKill       Kind = "selector-kill"   // SIGKILL a selector replica, restart it on its address
)

// allKinds lists every fault the soak can inject, in a fixed order.
var allKinds = []Kind{SidecarKill, BridgeHang, Bridge500, BridgeGarbage, NginxStop, Drain, Partition,
	ConsulServerKill, ConsulAgentRestart, PrometheusStop, SelectorKill}

// nodeFault reports whether k targets one node.
func (k Kind) nodeFault() bool {
	switch k {
	case SidecarKill, BridgeHang, Bridge500, BridgeGarbage, NginxStop, Drain, Partition:
		return true
	}
	return false
}

// group is the lock a fault holds while it runs: one fault at a time per
// node, per selector, on Prometheus, and on the Consul cluster (two servers
// down at once would lose the quorum, which is a different test).
func (e Event) group() string {
	switch e.Kind {
	case ConsulServerKill, ConsulAgentRestart:
		return "consul"
	case PrometheusStop:
		return "prometheus"
	}
	return e.Target
}

// lockOf is the planner's lock group: the runtime group, except that the
// selector replicas share one (one replica down at a time, so the load
// balancer always has one).
func lockOf(e Event) string {
	if e.Kind == SelectorKill {
		return "selectors"
	}
	return e.group()
}

// stretch is [from, to), counted from the start of the soak.
type stretch struct{ from, to time.Duration }

func (s stretch) overlaps(o stretch) bool { return s.from < o.to && o.from < s.to }

// Event is one planned fault.
type Event struct {
	// At is when the fault starts, from the start of the soak.
	At time.Duration `json:"at"`
	// Kind is the fault.
	Kind Kind `json:"kind"`
	// Target is the node or selector name, "leader" or "follower" for a
	// Consul server, "agent" or "prometheus".
	Target string `json:"target"`
	// Hold is how long the fault lasts before it is reverted.
	Hold time.Duration `json:"hold"`
}

func (e Event) String() string {
	return fmt.Sprintf("%7.1fs %-20s %-10s for %.1fs", e.At.Seconds(), e.Kind, e.Target, e.Hold.Seconds())
}

// planOptions shapes a schedule.
type planOptions struct {
	// Duration is the length of the soak; faults start after Warmup and end
	// (planned) before Duration - Cooldown.
	Duration, Warmup, Cooldown time.Duration
	// Every is the mean time between two fault starts.
	Every time.Duration
	// MinHold and MaxHold bound how long one fault lasts.
	MinHold, MaxHold time.Duration
	// Reserve is kept free after a fault on the same target, for its revert
	// (a Consul server's restart takes seconds).
	Reserve time.Duration
	// Nodes and Selectors name the targets.
	Nodes, Selectors []string
	// MaxNodesDown bounds the nodes faulted at once, so meetings can still
	// be placed.
	MaxNodesDown int
	// LongHold is the hold of the long node faults, which must outlast
	// detection + 2 x move-after so that their rooms have to move; one is
	// planned for each LongEvery of the window (at least one), the first at
	// the end of the warm-up. No Consul fault runs during the first
	// LongClear of a long fault: the selectors cannot move rooms while
	// Consul cannot write, and the judge does not count that time.
	LongHold, LongEvery, LongClear time.Duration
}

// downKinds are the node faults that take a node down, so its rooms must
// move if they last.
var downKinds = []Kind{SidecarKill, BridgeHang, Bridge500, NginxStop, Partition}

// planFaults draws a schedule from seed: every kind at least once (when the
// window has room), then kinds at random, each on a random free target, at
// random times in the window, sorted by start. The same seed and options
// give the same schedule.
func planFaults(seed uint64, o planOptions) ([]Event, error) {
	if o.Duration <= o.Warmup+o.Cooldown+max(o.MaxHold, o.LongHold) || o.Every <= 0 || o.MinHold <= 0 || o.MaxHold < o.MinHold ||
		o.LongHold < o.MaxHold || o.LongEvery <= 0 || o.LongClear < 0 || o.LongClear > o.LongHold {
		return nil, fmt.Errorf("soak plan: window %v (warmup %v, cooldown %v) too short for holds up to %v and long holds of %v, or bad every/hold/long every",
			o.Duration, o.Warmup, o.Cooldown, o.MaxHold, o.LongHold)
	}
	if len(o.Nodes) < 2 || len(o.Selectors) == 0 || o.MaxNodesDown < 1 {
		return nil, fmt.Errorf("soak plan: need two nodes (%d), selectors (%d) and max nodes down (%d) >= 1",
			len(o.Nodes), len(o.Selectors), o.MaxNodesDown)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	span := o.Duration - o.Warmup - o.Cooldown - o.MaxHold
	n := max(len(allKinds), int(span/o.Every))
	kinds := make([]Kind, 0, n)
	for _, i := range rng.Perm(len(allKinds)) {
		kinds = append(kinds, allKinds[i])
	}
	for len(kinds) < n {
		kinds = append(kinds, allKinds[rng.IntN(len(allKinds))])
	}
	type draft struct {
		at   time.Duration
		kind Kind
		hold time.Duration
	}
	// The long faults come first, so they find room; each may start until
	// its hold still ends before the cooldown.
	longSpan := o.Duration - o.Warmup - o.Cooldown - o.LongHold
	nLong := max(1, int((o.Duration-o.Warmup-o.Cooldown)/o.LongEvery))
	var drafts []draft
	for i := range nLong {
		at := o.Warmup + time.Duration(rng.Int64N(int64(longSpan)+1))
		if i == 0 {
			at = o.Warmup
		}
		drafts = append(drafts, draft{
			at:   at.Round(100 * time.Millisecond),
			kind: downKinds[rng.IntN(len(downKinds))],
			hold: o.LongHold,
		})
	}
	// The first len(allKinds) faults (one of each) get one slot each of the
	// window, so each has room; the rest fall anywhere.
	slot := span / time.Duration(len(allKinds))
	for i, k := range kinds {
		at := o.Warmup + time.Duration(rng.Int64N(int64(span)))
		if i < len(allKinds) {
			at = o.Warmup + time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot)))
		}
		drafts = append(drafts, draft{
			at:   at.Round(100 * time.Millisecond),
			kind: k,
			hold: o.MinHold + time.Duration(rng.Int64N(int64(o.MaxHold-o.MinHold)+1)).Round(100*time.Millisecond),
		})
	}
	// The long and one-of-each drafts are placed first, so the random ones
	// cannot crowd them out of the window.
	first := nLong + len(allKinds)
	slices.SortStableFunc(drafts[first:], func(a, b draft) int { return int(a.at - b.at) })
	var plan []Event
	reserved := map[string][]stretch{} // lock group → reserved spans
	// Spans of node faults, and of the long ones among them: the long ones
	// do not count against MaxNodesDown (they would crowd the one-of-each
	// faults out of a short soak), but one node always stays untouched.
	var nodeSpans, longSpans []stretch
	// clear is the span of a long fault kept free of Consul faults.
	clear := func(at time.Duration) stretch { return stretch{at, at + o.LongClear} }
	feasible := func(e Event, at time.Duration) bool {
		sp := stretch{at, at + e.Hold + o.Reserve}
		for _, r := range reserved[lockOf(e)] {
			if r.overlaps(sp) {
				return false
			}
		}
		if e.Hold > o.MaxHold {
			for _, r := range reserved["consul"] {
				if r.overlaps(clear(at)) {
					return false
				}
			}
		}
		if !e.Kind.nodeFault() {
			return true
		}
		// The most node faults running at once within sp, counted at sp's
		// start and at every start of another node fault inside it.
		points := []time.Duration{sp.from}
		for _, r := range nodeSpans {
			if r.from > sp.from && r.from < sp.to {
				points = append(points, r.from)
			}
		}
		for _, r := range longSpans {
			if r.from > sp.from && r.from < sp.to {
				points = append(points, r.from)
			}
		}
		long := e.Hold > o.MaxHold
		for _, p := range points {
			n, nl := running(nodeSpans, p), running(longSpans, p)
			if (!long && n >= o.MaxNodesDown) || n+nl >= len(o.Nodes)-1 {
				return false
			}
		}
		return true
	}
	for i, d := range drafts {
		var candidates []Event
		switch {
		case d.kind.nodeFault():
			for _, node := range o.Nodes {
				candidates = append(candidates, Event{Kind: d.kind, Target: node})
			}
		case d.kind == SelectorKill:
			for _, s := range o.Selectors {
				candidates = append(candidates, Event{Kind: d.kind, Target: s})
			}
		case d.kind == ConsulServerKill:
			candidates = []Event{{Kind: d.kind, Target: []string{"leader", "follower"}[rng.IntN(2)]}}
		case d.kind == ConsulAgentRestart:
			candidates = []Event{{Kind: d.kind, Target: "agent"}}
		case d.kind == PrometheusStop:
			candidates = []Event{{Kind: d.kind, Target: "prometheus"}}
		}
		for j := range candidates {
			candidates[j].Hold = d.hold
		}
		order := rng.Perm(len(candidates))
		// A busy target delays the fault; a long or one-of-each fault that
		// finds no room later also looks earlier in the window.
		starts := []time.Duration{d.at, o.Warmup}
		if i >= first {
			starts = starts[:1]
		}
		last := o.Duration - o.Cooldown - d.hold // latest start
		if d.hold <= o.MaxHold {
			last = o.Warmup + span
		}
		placed := false
		for _, from := range starts {
			for at := from; at <= last && !placed; at += 250 * time.Millisecond {
				for _, j := range order {
					if e := candidates[j]; feasible(e, at) {
						e.At = at
						sp := stretch{at, at + e.Hold + o.Reserve}
						reserved[lockOf(e)] = append(reserved[lockOf(e)], sp)
						switch {
						case e.Hold > o.MaxHold:
							longSpans = append(longSpans, sp)
							reserved["consul"] = append(reserved["consul"], clear(at))
						case e.Kind.nodeFault():
							nodeSpans = append(nodeSpans, sp)
						}
						plan = append(plan, e)
						placed = true
						break
					}
				}
			}
			if placed {
				break
			}
		}
	}
	slices.SortStableFunc(plan, func(a, b Event) int { return int(a.At - b.At) })
	return plan, nil
}

// running counts the spans that cover p.
func running(spans []stretch, p time.Duration) int {
	n := 0
	for _, r := range spans {
		if r.from <= p && p < r.to {
			n++
		}
	}
	return n
}
