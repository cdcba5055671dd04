package placement

import (
	"math"
	"slices"
)

// DefaultHeadroom is the share of the high-water mark kept free when sizing the fleet: with the
// high-water mark at 0.8, the fleet is sized for a mean load of 0.8 × (1 − 0.2) = 0.64, because
// placement fills nodes unevenly (large meetings cannot be split) and a node takes minutes to boot.
// The simulator's autoscaling mode refused no more joins than the fixed fleet with it
// (docs/placement.md).
const DefaultHeadroom = 0.2

// Capacity is one region's sizing: the nodes serving (eligible), the nodes leaving (draining), and
// the serving nodes that would carry the region's load at the target mean.
type Capacity struct {
	Region  string
	Serving int
	Leaving int
	Desired int
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
