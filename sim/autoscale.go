package sim

import (
	"context"
	"fmt"
	"math"
	"time"

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
		if int(reg) < len(r.o.Profiles) {
			ahead := r.o.Profiles[reg].Ahead(time.Duration(r.now), r.o.Lead)
			c = placement.Anticipate(c, ahead, r.o.VCPUs, r.o.Placement.HighWater, r.o.Headroom)
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

// learnProfiles runs o.HistoryDays previous days, day(k) giving the options of the k-th (its seed
// or trace), on the fixed fleet with the default policy, and learns each region's demand profile
// from their served demand per minute.
func learnProfiles(ctx context.Context, o Options, day func(k int) (Options, error)) ([]placement.Profile, error) {
	days := make([][][]float64, o.Regions)
	for k := 1; k <= o.HistoryDays; k++ {
		oh, err := day(k)
		if err != nil {
			return nil, fmt.Errorf("history day %d: %w", k, err)
		}
		oh.Autoscale, oh.HistoryDays, oh.Profiles = false, 0, nil
		oh.Policies, oh.Oracle, oh.Series, oh.Progress = []string{placement.DefaultPolicy}, false, true, nil
		rep, err := Run(ctx, oh)
		if err != nil {
			return nil, fmt.Errorf("history day %d: %w", k, err)
		}
		series := rep.Results[0].Series
		for reg := range days {
			d := make([]float64, len(series))
			for m, row := range series {
				for n, v := range row {
					if o.Regions == 1 || 2*n/len(row) == reg {
						d[m] += float64(v) * o.VCPUs
					}
				}
			}
			days[reg] = append(days[reg], d)
		}
	}
	out := make([]placement.Profile, o.Regions)
	for reg := range out {
		out[reg] = placement.LearnProfile(time.Minute, days[reg]...)
	}
	return out, nil
}
