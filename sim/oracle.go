package sim

import (
	"math"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// oracle is least-loaded under its own name, run on the true, instant load without pending
// correction, plus what only the simulator knows: how many participants each room will get. A
// new room reserves its eventual cost on its node, and each arrival turns its share into demand.
// No online policy has that knowledge, so the oracle is the floor the tables are read against.
//
// It picks what placement.LeastLoaded would pick on a snapshot rebuilt before every decision
// (the lowest load, ties to the lowest index), but from r.free, a tree of the nodes' loads kept
// current as demand moves. Rebuilding the snapshot for every new room cost O(nodes) per room,
// which made the oracle, and so every default run, quadratic in the fleet size.
type oracle struct{ r *run }

// Name implements placement.Policy.
func (oracle) Name() string { return OraclePolicy }

// Pick implements placement.Policy. The snapshot's states are current (every state change
// rebuilds it); only its loads are stale, and the tree has the true ones.
func (o oracle) Pick(s *placement.Snapshot, room string, rnd placement.Rand) (placement.Choice, error) {
	if o.r.free == nil || s.Degraded() { // degraded: no alive eligible node, loads count as zero
		return placement.LeastLoaded{}.Pick(s, room, rnd)
	}
	lo, hi := 0, len(o.r.nodes)
	if reg := s.Region(); reg != "" {
		lo, hi = o.r.regionRange(reg)
	}
	k, load := o.r.free.min(lo, hi)
	if k < 0 {
		return placement.Choice{}, placement.ErrNoNode
	}
	return placement.Choice{Index: k, Saturated: load >= s.Config().HighWater}, nil
}

// oracleLoad is node k's load as the oracle sees it, +Inf when the snapshot does not list it as
// eligible with data (the same rule as rebuild and placement.Ledger.Snapshot).
func (r *run) oracleLoad(k int) float64 {
	n := &r.nodes[k]
	if !n.alive || n.phase != serving || n.state != placement.Eligible {
		return math.Inf(1)
	}
	return (n.demand + n.reserved) / r.o.VCPUs
}

// touch brings node k's entry in the oracle's tree up to date.
func (r *run) touch(k int32) {
	if r.free != nil {
		r.free.set(int(k), r.oracleLoad(int(k)))
	}
}

// regionRange returns the node indexes [lo, hi) of region reg: regions are contiguous halves.
func (r *run) regionRange(reg string) (lo, hi int) {
	for k := range r.regions {
		if regionNames[r.regions[k]] == reg {
			lo = k
			break
		}
	}
	hi = lo
	for hi < len(r.regions) && regionNames[r.regions[hi]] == reg {
		hi++
	}
	return lo, hi
}

// book keeps the oracle's reservation of room rm (index room) current when one of its participants
// arrives at node k holding c of them: the first arrival reserves the room's eventual cost, each
// later one turns its share of the reservation into demand.
func (r *run) book(rm *room, room int32, k int32, c int) {
	if !rm.booked {
		rm.booked, rm.resNode = true, k
		rm.reserved = max(0, r.o.Cost.Of(int(r.size[room]))-r.o.Cost.Of(1))
		r.nodes[k].reserved += rm.reserved
		r.touch(k)
		r.dirty = true
		return
	}
	r.release(rm, r.o.Cost.Join(c))
}

// release turns up to cost of room rm's reservation back: a participant arrived, or was refused.
func (r *run) release(rm *room, cost float64) {
	take := min(rm.reserved, cost)
	rm.reserved -= take
	r.nodes[rm.resNode].reserved = max(0, r.nodes[rm.resNode].reserved-take)
	r.touch(rm.resNode)
	r.dirty = true
}

// minTree is a segment tree over node loads answering "the lowest load in [lo, hi), ties to the
// lowest index" in O(log n), and updated in O(log n).
type minTree struct {
	size int       // leaves: a power of two
	load []float64 // node i at size+i; internal node j holds the minimum of 2j and 2j+1
	at   []int32   // index of the node holding load[j]
}

func newMinTree(n int) *minTree {
	size := 1
	for size < n {
		size *= 2
	}
	t := &minTree{size: size, load: make([]float64, 2*size), at: make([]int32, 2*size)}
	for j := range t.load {
		t.load[j], t.at[j] = math.Inf(1), -1
	}
	for i := range size {
		t.at[size+i] = int32(i)
	}
	return t
}

func (t *minTree) set(i int, v float64) {
	j := t.size + i
	t.load[j] = v
	for j > 1 {
		j /= 2
		t.pull(j)
	}
}

// pull recomputes internal node j from its children; the left child wins ties.
func (t *minTree) pull(j int) {
	l, r := 2*j, 2*j+1
	if t.load[r] < t.load[l] {
		t.load[j], t.at[j] = t.load[r], t.at[r]
	} else {
		t.load[j], t.at[j] = t.load[l], t.at[l]
	}
}

// min returns the index and load of the lowest load in [lo, hi), ties to the lowest index; -1 when
// every load there is +Inf.
func (t *minTree) min(lo, hi int) (int, float64) {
	best, bestLoad := -1, math.Inf(1)
	consider := func(j int) {
		if v, i := t.load[j], int(t.at[j]); v < bestLoad || v == bestLoad && i < best && !math.IsInf(v, 1) {
			best, bestLoad = i, v
		}
	}
	for l, r := lo+t.size, hi+t.size; l < r; l, r = l/2, r/2 {
		if l&1 == 1 {
			consider(l)
			l++
		}
		if r&1 == 1 {
			r--
			consider(r)
		}
	}
	return best, bestLoad
}
