package sim

import (
	"math"
	"time"
)

// awayDemand is a turned-away participant's demand on the node that refused them, until their
// planned leave.
type awayDemand struct {
	node int32
	gen  uint32
	cost float64
}

// demandEpsilon is far below any participant's cost (0.02 CPU and up) and far above the rounding
// error of summing a day of them.
const demandEpsilon = 1e-9

// change moves node k's demand by delta CPUs at the current time, integrating what came before.
func (r *run) change(k int32, delta float64) {
	r.advance(k)
	n := &r.nodes[k]
	n.demand += delta
	if n.demand < demandEpsilon { // the float residue of a node whose participants all left
		n.demand = 0
	}
	if ratio := n.demand / r.o.VCPUs; ratio > r.res.PeakNodeLoad {
		r.res.PeakNodeLoad = ratio
	}
	r.dirty = true
	r.touch(k)
}

// advance integrates node k's busy counter and time over 90 % up to now.
func (r *run) advance(k int32) {
	r.advanceDemand(k)
	n := &r.nodes[k]
	dt := r.now - n.last
	if dt <= 0 {
		return
	}
	ratio := n.demand / r.o.VCPUs
	n.busy += min(ratio, 1) * float64(dt) / float64(time.Second)
	if ratio > 0.9 {
		n.over += dt
	}
	n.last = r.now
}

// advanceDemand integrates node k's time with served plus unserved demand over 90 % up to now. It
// leaves the busy counter alone (splitting its integral would change its rounding, and so what the
// selector sees), so the unserved-demand accounting cannot move a placement.
func (r *run) advanceDemand(k int32) {
	n := &r.nodes[k]
	if dt := r.now - n.lastDemand; dt > 0 {
		if (n.demand+n.unserved)/r.o.VCPUs > 0.9 {
			n.overDemand += dt
		}
		n.lastDemand = r.now
	}
}

// turnAway counts participant p, refused at the ceiling by node k where the room had c of them, as
// demand on k the node did not serve, until p's planned leave.
func (r *run) turnAway(k, p int32, c int) {
	if r.o.servedOnly {
		return
	}
	cost := r.o.Cost.Join(c)
	r.advanceDemand(k)
	n := &r.nodes[k]
	n.unserved += cost
	if r.away == nil {
		r.away = make([]awayDemand, len(r.w.parts))
	}
	r.away[p] = awayDemand{node: k, gen: n.gen, cost: cost}
	r.push(int64(r.w.parts[p].leave), evAwayLeave, p)
}

// awayLeave ends turned-away participant p's unserved demand at their planned leave, unless the
// node crashed or was removed since (its unserved demand went with it).
func (r *run) awayLeave(p int32) {
	a := r.away[p]
	n := &r.nodes[a.node]
	if n.gen != a.gen {
		return
	}
	r.advanceDemand(a.node)
	n.unserved = max(0, n.unserved-a.cost)
}

// forget ends node k's unserved demand: the node crashed or was removed.
func (r *run) forget(k int32) {
	r.advanceDemand(k)
	r.nodes[k].unserved = 0
	r.nodes[k].gen++
}

func (r *run) sample() {
	sum, alive, billed := 0.0, 0, 0
	var row []float32
	if r.o.Series {
		row = make([]float32, len(r.nodes))
	}
	for k := range r.nodes {
		n := r.nodes[k]
		ratio := n.demand / r.o.VCPUs
		if row != nil {
			row[k] = float32(ratio)
		}
		if !n.alive || n.phase == absent {
			continue
		}
		billed++
		if n.phase == booting {
			continue
		}
		alive++
		sum += ratio
		r.hist.add(ratio)
	}
	r.res.NodeHours += float64(billed) / 60
	if alive > 0 {
		r.minuteAvg = append(r.minuteAvg, sum/float64(alive))
	}
	if row != nil {
		r.res.Series = append(r.res.Series, row)
	}
}

// histogram counts node load samples in 0.001-wide bins up to 4 (beyond: the last bin).
type histogram struct {
	bins [4001]int64
	n    int64
}

func (h *histogram) add(v float64) {
	i := int(v * 1000)
	i = max(0, min(i, len(h.bins)-1))
	h.bins[i]++
	h.n++
}

func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	var c int64
	for i, b := range h.bins {
		c += b
		if c >= rank {
			return float64(i) / 1000
		}
	}
	return float64(len(h.bins)-1) / 1000
}
