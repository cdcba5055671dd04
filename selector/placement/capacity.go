package placement

import (
	"math"
	"slices"
	"time"
)

// DefaultHeadroom is the share of the high-water mark kept free when sizing the fleet: with the
// high-water mark at 0.8, the fleet is sized for a mean load of 0.8 × (1 − 0.2) = 0.64, because
// placement fills nodes unevenly (large meetings cannot be split) and a node takes minutes to boot.
// The simulator's autoscaling mode refused no more joins than the fixed fleet with it
// (docs/placement.md).
const DefaultHeadroom = 0.2

// Capacity is one region's sizing: the nodes serving (eligible), the nodes leaving (draining), the
// serving nodes that would carry the region's load at the target mean, that load in CPUs (what
// a Profile is learned from), and the CPUs of the node Desired counts in (what Anticipate needs).
type Capacity struct {
	Region   string
	Serving  int
	Leaving  int
	Desired  int
	Demand   float64
	NodeCPUs float64
}

// DesiredNodes sizes each region of nodes for a mean load of highWater × (1 − headroom). The
// region's demand is the load of every serving and leaving node with usable data (the meetings on a
// draining node still run, but the node's CPUs are going away), in CPUs; the desired count divides it
// by the target load of a serving node of the region's mean capacity, rounded up, and is never below
// one while the region has any node. Nodes whose load is unknown add no demand. Gone nodes count for
// nothing. Regions are returned sorted by name.
func DesiredNodes(nodes []Node, highWater, headroom float64) []Capacity {
	type acc struct {
		c        Capacity
		demand   float64
		capSum   float64
		capCount int
	}
	by := map[string]*acc{}
	for _, n := range nodes {
		if n.State == Gone {
			continue
		}
		a := by[n.Region]
		if a == nil {
			a = &acc{c: Capacity{Region: n.Region}}
			by[n.Region] = a
		}
		c := n.Capacity
		if !(c > 0) {
			c = 1
		}
		if n.State == Eligible {
			a.c.Serving++
			a.capSum += c
			a.capCount++
		} else {
			a.c.Leaving++
		}
		if !math.IsNaN(n.Load) && !math.IsInf(n.Load, 0) && n.Load > 0 {
			a.demand += n.Load * c
		}
	}
	out := make([]Capacity, 0, len(by))
	target := highWater * (1 - headroom)
	for _, a := range by {
		perNode := 1.0
		switch {
		case a.capCount > 0:
			perNode = a.capSum / float64(a.capCount)
		case len(nodes) > 0: // only draining nodes left: size replacements like them
			perNode = 0
			for _, n := range nodes {
				if n.Region == a.c.Region && n.State != Gone && n.Capacity > 0 {
					perNode = max(perNode, n.Capacity)
				}
			}
			if perNode == 0 {
				perNode = 1
			}
		}
		a.c.Desired = max(1, int(math.Ceil(a.demand/(perNode*target)-1e-9)))
		a.c.Demand = a.demand
		a.c.NodeCPUs = perNode
		out = append(out, a.c)
	}
	slices.SortFunc(out, func(x, y Capacity) int {
		if x.Region < y.Region {
			return -1
		}
		if x.Region > y.Region {
			return 1
		}
		return 0
	})
	return out
}

// Profile is a region's demand by time of day, learned from previous days: Demand[i] is the most
// CPUs any of those days asked for during [i·Step, (i+1)·Step) after the start of the day. A fleet
// that has the same day every weekday can boot nodes for the classes of 09:00 before 09:00, which a
// desired count computed from the load at hand cannot: the load shows a step only after it came,
// and a node takes minutes to boot.
type Profile struct {
	Step   time.Duration
	Demand []float64
}

// LearnProfile returns the profile of days, each the demand (CPUs) per step from the start of the
// day: per step, the most any day asked for. Days may differ in length; the profile is as long as
// the longest. Taking the most, not the mean, sizes for the worst of the days seen, which is what
// pre-warming is for: a day lighter than the profile costs node-hours, not refused joins.
func LearnProfile(step time.Duration, days ...[]float64) Profile {
	p := Profile{Step: step}
	for _, d := range days {
		for i, v := range d {
			if i == len(p.Demand) {
				p.Demand = append(p.Demand, 0)
			}
			if v > p.Demand[i] && !math.IsInf(v, 0) {
				p.Demand[i] = v
			}
		}
	}
	return p
}

// Ahead returns the most demand the profile holds for the time of day [at, at+lead]: what the
// fleet must be able to carry by the time a node ordered now has booted. 0 outside the profile.
func (p Profile) Ahead(at, lead time.Duration) float64 {
	if p.Step <= 0 || at < 0 || lead < 0 {
		return 0
	}
	most := 0.0
	for i := int(at / p.Step); i <= int((at+lead)/p.Step) && i < len(p.Demand); i++ {
		most = max(most, p.Demand[i])
	}
	return most
}

// Anticipate raises c.Desired to the serving nodes that would carry demand (CPUs, from a Profile)
// at the same target mean load as DesiredNodes, with nodes of perNode CPUs. It never lowers it: on a
// day busier than the profile the load at hand still sizes the fleet, so a day unlike the previous
// ones costs at most the node-hours of the profile, never joins.
func Anticipate(c Capacity, demand, perNode, highWater, headroom float64) Capacity {
	if !(demand > 0) || !(perNode > 0) || math.IsInf(demand, 0) {
		return c
	}
	c.Desired = max(c.Desired, int(math.Ceil(demand/(perNode*highWater*(1-headroom))-1e-9)))
	return c
}
