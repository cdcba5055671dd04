package sim

import (
	"math"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// phase is where a node is in the autoscaler's life cycle.
type phase uint8

const (
	serving phase = iota
	absent
	booting
)

// scale is one autoscaler step: finish boots, remove emptied nodes it drained, then compare each
// region's desired nodes (from the selector's view, as ensemble_fleet_desired_nodes) with the nodes
// serving and booting.
func (r *run) scale() {
	changed := false
	for k := range r.nodes {
		n := &r.nodes[k]
		switch {
		case n.phase == booting && n.bootAt <= r.now:
			n.phase, n.state = serving, placement.Eligible
			changed = true
		case n.phase == serving && n.scaledIn && n.demand == 0:
			r.forget(int32(k))
			n.phase, n.scaledIn, n.state = absent, false, placement.Eligible
			changed = true
		}
	}
	if changed || r.o.ZeroDelay && r.dirty { // zero-delay: the scaler sees the true load too
		r.rebuild()
	}
	var bootingIn [2]int
	for k := range r.nodes {
		if r.nodes[k].phase == booting {
			bootingIn[r.regions[k]]++
		}
	}
	for _, c := range placement.DesiredNodes(r.buf, r.o.Placement.HighWater, r.o.Headroom) {
		reg := int8(0)
		if c.Region == regionNames[1] {
			reg = 1
		}
		switch want := c.Desired - c.Serving - bootingIn[reg]; {
		case want > 0:
			for k := range r.nodes {
				if n := &r.nodes[k]; want > 0 && r.regions[k] == reg && n.phase == absent && n.alive {
					n.phase, n.bootAt = booting, r.now+int64(r.o.BootDelay)
					want--
				}
			}
		case c.Desired < c.Serving-1-c.Serving/10 && c.Serving > r.o.minNodes():
			// A band of 10 % + 1 node below the serving count: a drained node's load still counts
			// while its CPUs do not, so scaling in at the first dip would boot its replacement next.
			// Drain the serving node the view shows least loaded: it empties first.
			best := -1
			for k := range r.nodes {
				n := r.nodes[k]
				if r.regions[k] == reg && n.phase == serving && n.alive && n.state == placement.Eligible && !n.scaledIn &&
					(best < 0 || r.buf[k].Load < r.buf[best].Load || math.IsNaN(r.buf[best].Load)) {
					best = k
				}
			}
			if best >= 0 {
				r.nodes[best].state, r.nodes[best].scaledIn = placement.Draining, true
				r.rebuild()
			}
		}
	}
}
