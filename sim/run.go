package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// regionNames are the simulated regions' names.
var regionNames = [2]string{"r1", "r2"}

// run is one policy's replay of the workload.
type run struct {
	o        Options
	w        *workload
	policy   placement.Policy
	replicas []replica
	rnd      *rand.Rand
	base     time.Time
	now      int64 // simulated nanoseconds since the start of the day
	horizon  int64

	nodes   []node
	regions []int8 // region of each node: index into regionNames
	ids     []string
	urls    []string
	byID    map[string]int32
	buf     []placement.Node
	dirty   bool // zero-delay mode: demand changed since the snapshots
	rooms   []room
	present []int32 // node of each participant, -1 when not connected
	events  eventHeap
	seq     uint64

	view        dataPath
	crashed     int32 // -1 until the crash
	detectAt    int64
	hist        histogram
	minuteAvg   []float64
	res         Result
	clairvoyant bool    // the oracle: sees reservations for participants still to come
	size        []int32 // participants per room, for the oracle's reservations
	noNode      int     // joins refused because no node was eligible
	noNodeSince int64   // time of the first of them
	// away records, per participant turned away at the ceiling, the demand they left on the node
	// that refused them (allocated at the first such refusal).
	away []awayDemand

	done          *atomic.Int64
	total         int64
	sinceProgress int64
}

// replica is one selector instance: its own pending accounts and snapshot; all replicas share
// the binding store, as with --rooms.store=consul.
type replica struct {
	fleet    *placement.Fleet
	resolver *rooms.Resolver
	snap     *placement.Snapshot
}

type node struct {
	demand float64 // CPUs asked for by the meetings present
	last   int64   // time of the last demand change
	busy   float64 // ∫ busy ratio dt in seconds (what the CPU counter shows)
	over   int64   // time spent with served demand above 90 % of the CPUs
	alive  bool
	// unserved is the CPUs of the participants this node turned away at the ceiling who would still
	// be in their meetings: demand it did not serve. It is accounting only (overDemand): neither
	// the ceiling, the busy counter nor the selector's view sees it.
	unserved   float64
	overDemand int64 // time spent with served plus unserved demand above 90 % of the CPUs
	lastDemand int64 // time overDemand was integrated up to
	// gen counts the node's crash and removals, so that a turned-away participant's leave queued
	// before one does not take demand off the node that came back.
	gen   uint32
	state placement.State
	// reserved is what the oracle knows and no selector can: the CPUs the participants of the
	// node's rooms who have not joined yet will add.
	reserved float64
	// With autoscaling: a node is absent (not running, not paid), booting until bootAt, or
	// serving; scaledIn marks a drain the autoscaler started, which removes the node once empty.
	phase    phase
	bootAt   int64
	scaledIn bool
}

type phase uint8

const (
	serving phase = iota
	absent
	booting
)

// room tracks where a room's participants are; placements maps node → participants present.
type room struct {
	placements []nodeCount
	started    bool
	booked     bool    // the oracle reserved the room's eventual size on resNode
	reserved   float64 // CPUs still reserved for participants who have not joined yet
	resNode    int32
	split      bool
	moved      bool
	onCrashed  bool
}

// awayDemand is a turned-away participant's demand on the node that refused them, until their
// planned leave.
type awayDemand struct {
	node int32
	gen  uint32
	cost float64
}

type nodeCount struct {
	node  int32
	count int32
}

// count returns how many of the room's participants are on node k.
func (rm *room) count(k int32) int {
	for _, nc := range rm.placements {
		if nc.node == k {
			return int(nc.count)
		}
	}
	return 0
}

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

func newRun(o Options, w *workload, p placement.Policy, done *atomic.Int64, total int64) (*run, error) {
	_, clairvoyant := p.(oracle)
	r := &run{
		o: o, w: w, policy: p, rnd: policySeed(o.Seed, p.Name()),
		base:    time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC),
		horizon: int64(o.Day),
		nodes:   make([]node, o.pool()),
		ids:     make([]string, o.pool()),
		urls:    make([]string, o.pool()),
		byID:    make(map[string]int32, o.pool()),
		buf:     make([]placement.Node, o.pool()),
		rooms:   make([]room, len(w.rooms)),
		present: make([]int32, len(w.parts)),
		regions: make([]int8, o.pool()),
		crashed: -1, clairvoyant: clairvoyant,
		done: done, total: total,
		res: Result{Policy: p.Name()},
	}
	clock := func() time.Time { return r.base.Add(time.Duration(r.now)) }
	cfg := o.Placement
	if cfg.Replicas == 0 { // the replicas know how many they are, as --selector.replicas tells them
		cfg.Replicas = o.Replicas
	}
	if o.ZeroDelay { // the true load already counts every placed participant
		cfg.Cost, cfg.JoinCost = 0, 0
	}
	store, err := rooms.NewMemory(o.RoomsTTL, 0, clock)
	if err != nil {
		return nil, err
	}
	r.replicas = make([]replica, o.Replicas)
	for i := range r.replicas {
		rp := &r.replicas[i]
		if rp.fleet, err = placement.NewFleet(cfg, clock); err != nil {
			return nil, err
		}
		rp.resolver, err = rooms.NewResolver(rooms.ResolverOptions{
			Store: store, Policy: p, Now: clock, TouchEvery: rooms.DefaultTouchEvery,
			Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Neighbours: map[string][]string{regionNames[0]: {regionNames[1]}, regionNames[1]: {regionNames[0]}},
		})
		if err != nil {
			return nil, err
		}
	}
	width := len(fmt.Sprint(o.pool()))
	for i := range r.nodes {
		r.nodes[i] = node{alive: true}
		if o.Autoscale && i%(o.pool()/o.Regions) >= o.minNodes() {
			r.nodes[i].phase = absent
		}
		r.ids[i] = fmt.Sprintf("node-%0*d", width, i+1)
		if o.Regions == 2 {
			r.regions[i] = int8(2 * i / o.pool())
		}
		r.urls[i] = "https://" + r.ids[i] + ".sim.invalid"
		r.byID[r.ids[i]] = int32(i)
	}
	for i := range r.present {
		r.present[i] = -1
	}
	if clairvoyant {
		r.size = make([]int32, len(w.rooms))
		for _, pt := range w.parts {
			r.size[pt.room]++
		}
	}
	if !o.ZeroDelay {
		r.view = newDataPath(o)
	}
	r.rebuild()
	return r, nil
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
		r.replicas[i].snap = r.replicas[i].fleet.Snapshot(r.buf)
	}
	r.dirty = false
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

func (r *run) push(t int64, kind eventKind, p int32) {
	r.seq++
	heap.Push(&r.events, event{t: t, seq: r.seq, kind: kind, part: p})
}

// join asks the selector for participant p's room and connects them, or turns them away.
func (r *run) join(ctx context.Context, p int32) error {
	pt := r.w.parts[p]
	rm := &r.rooms[pt.room]
	first := !rm.started
	rm.started = true
	if r.o.ZeroDelay && r.dirty {
		r.rebuild()
	}
	rp := &r.replicas[0]
	if len(r.replicas) > 1 { // the load balancer in front of the selectors
		rp = &r.replicas[r.rnd.IntN(len(r.replicas))]
	}
	home := ""
	if r.w.region != nil && !r.o.RegionBlind {
		home = regionNames[r.w.region[pt.room]]
	}
	res, err := rp.resolver.ResolveIn(ctx, rp.snap, r.w.rooms[pt.room], home, r.rnd)
	if errors.Is(err, placement.ErrNoNode) {
		if r.noNode == 0 {
			r.noNodeSince = r.now
		}
		r.noNode++
		r.refuse(p, first)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: resolve %s: %w", r.policy.Name(), r.w.rooms[pt.room], err)
	}
	if res.Saturated {
		r.res.SaturatedDecisions++
	}
	if res.Spilled {
		r.res.RoomsSpilled++
	}
	if res.Outcome == rooms.Rebound && rm.onCrashed && !rm.moved {
		rm.moved = true
		r.res.RoomsMovedByCrash++
	}
	k := r.byID[res.Node.ID]
	n := &r.nodes[k]
	if !n.alive {
		// The selector still lists the crashed node: the join fails and the client retries once
		// the node is marked gone (a retry that never comes is unserved).
		r.res.JoinsRefused++
		t := max(r.now, r.detectAt) + r.jitter()
		r.res.UnservedMinutes += time.Duration(min(t, int64(pt.leave)) - r.now).Minutes()
		if t < int64(pt.leave) {
			r.push(t, evRejoin, p)
		}
		return nil
	}
	if n.demand/r.o.VCPUs >= r.o.Ceiling {
		r.turnAway(k, p, rm.count(k))
		r.refuse(p, first)
		return nil
	}
	idx := -1
	for i, nc := range rm.placements {
		if nc.node == k {
			idx = i
		} else if nc.count > 0 && !rm.split {
			rm.split = true
			r.res.RoomsSplit++
		}
	}
	if idx < 0 {
		rm.placements = append(rm.placements, nodeCount{node: k})
		idx = len(rm.placements) - 1
	}
	c := int(rm.placements[idx].count)
	r.change(k, r.o.Cost.Join(c))
	if r.clairvoyant {
		r.book(rm, pt.room, k, c)
	}
	rm.placements[idx].count++
	r.present[p] = k
	if r.w.region != nil && uint8(r.regions[k]) != r.w.region[pt.room] {
		r.res.RemoteJoins++
	}
	r.push(int64(pt.leave), evLeave, p)
	return nil
}

// book keeps the oracle's reservation of room rm (index room) current when one of its participants
// arrives at node k holding c of them: the first arrival reserves the room's eventual cost, each
// later one turns its share of the reservation into demand.
func (r *run) book(rm *room, room int32, k int32, c int) {
	if !rm.booked {
		rm.booked, rm.resNode = true, k
		rm.reserved = max(0, r.o.Cost.Of(int(r.size[room]))-r.o.Cost.Of(1))
		r.nodes[k].reserved += rm.reserved
		r.dirty = true
		return
	}
	take := min(rm.reserved, r.o.Cost.Join(c))
	rm.reserved -= take
	r.nodes[rm.resNode].reserved = max(0, r.nodes[rm.resNode].reserved-take)
}

// refuse turns participant p away for good: the rest of their visit is unserved demand.
func (r *run) refuse(p int32, first bool) {
	if rm := &r.rooms[r.w.parts[p].room]; r.clairvoyant && rm.booked {
		take := min(rm.reserved, r.o.Cost.Join(1))
		rm.reserved -= take
		r.nodes[rm.resNode].reserved = max(0, r.nodes[rm.resNode].reserved-take)
	}
	r.res.JoinsRefused++
	r.res.UnservedMinutes += time.Duration(int64(r.w.parts[p].leave) - r.now).Minutes()
	if first {
		r.res.MeetingsRefused++
	}
}

func (r *run) jitter() int64 {
	if r.o.Reconnect <= 0 {
		return 0
	}
	return r.rnd.Int64N(int64(r.o.Reconnect))
}

// disconnect removes participant p from its node.
func (r *run) disconnect(p int32) {
	k := r.present[p]
	if k < 0 {
		return
	}
	r.present[p] = -1
	rm := &r.rooms[r.w.parts[p].room]
	for i := range rm.placements {
		if nc := &rm.placements[i]; nc.node == k {
			c := int(nc.count)
			if r.nodes[k].alive {
				r.change(k, -r.o.Cost.Join(c-1))
			}
			nc.count--
			return
		}
	}
}

// busiest returns the alive node with the highest demand that is not draining.
func (r *run) busiest() int32 {
	best := int32(-1)
	for k := range r.nodes {
		n := r.nodes[k]
		if n.alive && n.phase == serving && n.state == placement.Eligible && (best < 0 || n.demand > r.nodes[best].demand) {
			best = int32(k)
		}
	}
	return best
}

func (r *run) crash() {
	k := r.busiest()
	if k < 0 {
		return
	}
	r.advance(k)
	r.forget(k)
	r.crashed = k
	r.nodes[k].alive = false
	r.nodes[k].demand = 0
	r.nodes[k].reserved = 0
	r.detectAt = r.now + int64(r.o.CrashDetect)
	for p, at := range r.present {
		if at != k {
			continue
		}
		pt := r.w.parts[p]
		r.rooms[pt.room].onCrashed = true
		r.disconnect(int32(p))
		if t := r.detectAt + r.jitter(); t < int64(pt.leave) {
			r.push(t, evRejoin, int32(p))
		}
	}
	r.dirty = true
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
	if changed {
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

// run replays the day and returns the policy's result.
func (r *run) run(ctx context.Context) (Result, error) {
	const never = math.MaxInt64
	at := func(d time.Duration) int64 {
		if d < 0 {
			return never
		}
		return int64(d)
	}
	nextScrape, nextEval, nextPoll := int64(never), int64(never), int64(never)
	var scrapeTick int64
	if !r.o.ZeroDelay {
		nextScrape, nextEval, nextPoll = 0, r.view.evalAt, r.view.pollAt
	}
	nextSample := int64(0)
	nextScale := int64(never)
	if r.o.Autoscale {
		nextScale = int64(r.o.ScaleEvery)
	}
	crashAt, drainAt := at(r.o.CrashAt), at(r.o.DrainAt)
	detectPending := false
	j := 0 // next participant to join
	for steps := 0; ; steps++ {
		if steps%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
		}
		// The next event of each kind; ties go in this order: departures, data and catalog
		// updates, samples, arrivals.
		t := int64(never)
		if len(r.events) > 0 && r.events[0].kind != evRejoin { // a departure
			t = r.events[0].t
		}
		detect := int64(never)
		if detectPending {
			detect = r.detectAt
		}
		tJoin := int64(never)
		if j < len(r.w.parts) {
			tJoin = int64(r.w.parts[j].join)
		}
		if len(r.events) > 0 && r.events[0].kind == evRejoin {
			tJoin = min(tJoin, r.events[0].t)
		}
		next := min(t, nextScrape, nextEval, nextPoll, detect, crashAt, drainAt, nextSample, nextScale, tJoin)
		if next >= r.horizon {
			break
		}
		r.now = next
		switch next {
		case t:
			if e := heap.Pop(&r.events).(event); e.kind == evLeave {
				r.disconnect(e.part)
			} else {
				r.awayLeave(e.part)
			}
		case nextScrape:
			r.doScrape(int(scrapeTick % int64(r.view.groups)))
			scrapeTick++
			nextScrape = scrapeTick * int64(r.o.Scrape) / int64(r.view.groups)
		case nextEval:
			r.evaluate()
			nextEval += int64(r.o.Eval)
		case nextPoll:
			r.rebuild()
			nextPoll += int64(r.o.Poll)
		case detect:
			r.nodes[r.crashed].state = placement.Gone
			detectPending = false
			r.rebuild()
		case crashAt:
			r.crash()
			crashAt = never
			detectPending = r.crashed >= 0
			if r.o.ZeroDelay {
				r.rebuild()
			}
		case drainAt:
			if k := r.busiest(); k >= 0 {
				r.nodes[k].state = placement.Draining
			}
			drainAt = never
			r.rebuild()
		case nextSample:
			r.sample()
			nextSample += int64(time.Minute)
		case nextScale:
			r.scale()
			nextScale += int64(r.o.ScaleEvery)
		case tJoin:
			var p int32
			if j < len(r.w.parts) && int64(r.w.parts[j].join) == tJoin {
				p = int32(j)
				j++
				r.progress()
			} else {
				p = heap.Pop(&r.events).(event).part
			}
			if err := r.join(ctx, p); err != nil {
				return Result{}, err
			}
		}
	}
	r.now = r.horizon
	var over, overDemand int64
	for k := range r.nodes {
		if r.nodes[k].alive {
			r.advance(int32(k))
		}
		over += r.nodes[k].over
		overDemand += r.nodes[k].overDemand
	}
	r.res.NodeMinutesOver90 = time.Duration(overDemand).Minutes()
	r.res.NodeMinutesOver90Served = time.Duration(over).Minutes()
	if r.noNode > 0 {
		r.res.warnings = append(r.res.warnings, fmt.Sprintf("%s: the fleet had no eligible node for %d joins, the first at %v (did a crash or drain empty it?)",
			r.res.Policy, r.noNode, time.Duration(r.noNodeSince)))
	}
	r.res.P99NodeLoad = r.hist.quantile(0.99)
	hour := maxHourMean(r.minuteAvg)
	if hour > 0 {
		r.res.PeakOverMean = r.res.PeakNodeLoad / hour
	}
	// Participants who would join after the end of the day are done too.
	if d := r.done.Add(r.sinceProgress + int64(len(r.w.parts)-j)); r.o.Progress != nil {
		r.o.Progress(d, r.total)
	}
	return r.res, nil
}

func (r *run) progress() {
	r.sinceProgress++
	if r.sinceProgress == 1024 {
		d := r.done.Add(r.sinceProgress)
		r.sinceProgress = 0
		if r.o.Progress != nil {
			r.o.Progress(d, r.total)
		}
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

// eventKind tells a queued participant event apart: a departure, a reconnection after the crash,
// or the planned departure of a participant turned away at the ceiling (the end of their unserved
// demand). Queued events at the same time run in the order they were queued.
type eventKind uint8

const (
	evLeave eventKind = iota
	evRejoin
	evAwayLeave
)

type event struct {
	t    int64
	seq  uint64
	kind eventKind
	part int32
}

type eventHeap []event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
