package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// dataPath models Prometheus and the selector's poll: per-node scrapes at each node's own offset,
// a recording rule evaluated on its own clock over the samples of the rate window, and a poll
// that reads what the rule recorded last.
type dataPath struct {
	groups  int     // scrape phase groups: Prometheus spreads targets over the scrape interval
	group   []int32 // node → its phase group
	members [][]int32
	slots   int       // samples kept per node: the rate window's plus spare
	sampT   []int64   // node k's samples are [k*slots, (k+1)*slots), a ring
	sampV   []float64 // busy counter at sampT
	count   []int64   // samples taken per node
	rate    []float64 // recorded rule value per node; NaN without two samples in the window
	rateT   []int64   // time of the newest sample behind rate
	evalAt  int64     // phase of the rule evaluation clock
	pollAt  int64     // phase of the selector's poll clock
}

// newDataPath draws the phases from the scenario seed alone, so every policy sees the same clocks.
func newDataPath(o Options) dataPath {
	rnd := rand.New(rand.NewPCG(o.Seed, 0x7068617365))
	g := max(1, min(o.pool(), int(o.Scrape/time.Second), 60))
	d := dataPath{
		groups: g, group: make([]int32, o.pool()), members: make([][]int32, g),
		slots: int(o.RateWindow/o.Scrape) + 3,
		count: make([]int64, o.pool()), rate: make([]float64, o.pool()), rateT: make([]int64, o.pool()),
		evalAt: rnd.Int64N(int64(o.Eval)), pollAt: rnd.Int64N(int64(o.Poll)),
	}
	for k := range d.group {
		d.group[k] = int32(rnd.IntN(g))
		d.members[d.group[k]] = append(d.members[d.group[k]], int32(k))
		d.rate[k] = math.NaN()
	}
	d.sampT = make([]int64, o.pool()*d.slots)
	d.sampV = make([]float64, o.pool()*d.slots)
	return d
}

// loadView returns what the selector knows of node k's load now and how old it is.
func (r *run) loadView(k int) (float64, time.Duration) {
	if r.o.ZeroDelay {
		if !r.nodes[k].alive {
			return math.NaN(), 0
		}
		if r.clairvoyant {
			return (r.nodes[k].demand + r.nodes[k].reserved) / r.o.VCPUs, 0
		}
		return min(r.nodes[k].demand/r.o.VCPUs, 1), 0
	}
	// What the recording rule recorded last; the selector computes the age at its poll.
	if math.IsNaN(r.view.rate[k]) {
		return math.NaN(), 0
	}
	return r.view.rate[k], time.Duration(r.now - r.view.rateT[k])
}

// rebuild gives every selector replica a new snapshot, as their catalog/load refresh does.
func (r *run) rebuild() {
	for k := range r.nodes {
		load, age := r.loadView(k)
		st := r.nodes[k].state
		if r.nodes[k].phase != serving { // not in the catalog yet (or any more)
			st = placement.Gone
		}
		r.buf[k] = placement.Node{
			ID: r.ids[k], URL: r.urls[k], Capacity: r.o.VCPUs, Region: regionNames[r.regions[k]],
			Load: load, Stress: math.NaN(), Age: age, State: st,
		}
	}
	for i := range r.replicas {
		r.replicas[i].snap = r.replicas[i].ledger.Snapshot(r.buf)
	}
	r.dirty = false
	if r.free != nil { // a state may have changed: the oracle's tree follows the snapshot
		for k := range r.nodes {
			r.touch(int32(k))
		}
	}
}

// doScrape scrapes the nodes of phase group g; a crashed node yields no sample.
func (r *run) doScrape(g int) {
	v := &r.view
	for _, k := range v.members[g] {
		if !r.nodes[k].alive {
			continue
		}
		r.advance(k)
		i := int(k)*v.slots + int(v.count[k]%int64(v.slots))
		v.sampT[i], v.sampV[i] = r.now, r.nodes[k].busy
		v.count[k]++
	}
}

// evaluate runs the recording rule: each node's rate over the samples in the window ending now,
// NaN (no series) with fewer than two.
func (r *run) evaluate() {
	v := &r.view
	from := r.now - int64(r.o.RateWindow)
	for k := range r.nodes {
		n := min(v.count[k], int64(v.slots))
		if n < 2 {
			v.rate[k] = math.NaN()
			continue
		}
		base := k * v.slots
		last := base + int((v.count[k]-1)%int64(v.slots))
		first := -1
		for j := n - 1; j >= 0; j-- { // walk back from the newest sample
			i := base + int((v.count[k]-1-j)%int64(v.slots))
			if v.sampT[i] > from {
				first = i
				break
			}
		}
		if first < 0 || first == last || v.sampT[last] <= from {
			v.rate[k] = math.NaN()
			continue
		}
		v.rate[k] = (v.sampV[last] - v.sampV[first]) / (float64(v.sampT[last]-v.sampT[first]) / float64(time.Second))
		v.rateT[k] = v.sampT[last]
	}
}
