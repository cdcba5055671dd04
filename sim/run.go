package sim

import (
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
	store   rooms.Store
	free    *minTree // the oracle's index of true loads
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
	ledger   *placement.Ledger
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
	r.store = store
	if clairvoyant {
		p = oracle{r: r}
		r.policy = p
		if !o.oracleSnapshots {
			r.free = newMinTree(o.pool())
		}
	}
	r.replicas = make([]replica, o.Replicas)
	for i := range r.replicas {
		rp := &r.replicas[i]
		rc := cfg
		if o.Shares && rc.Replicas > 1 {
			rc.Replica = i + 1
		}
		if rp.ledger, err = placement.NewLedger(rc, clock); err != nil {
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
	if clairvoyant || o.SizeHistory {
		r.size = make([]int32, len(w.rooms))
		for _, pt := range w.parts {
			r.size[pt.room]++
		}
	}
	if !o.ZeroDelay {
		r.view = newDataPath(o)
	}
	r.rebuild()
	if r.free != nil { // the oracle answers with node indexes: they must be the snapshot's
		for k, n := range r.replicas[0].snap.Nodes() {
			if n.ID != r.ids[k] {
				return nil, fmt.Errorf("oracle: snapshot index %d is %s, not %s", k, n.ID, r.ids[k])
			}
		}
	}
	return r, nil
}

func (r *run) push(t int64, kind eventKind, p int32) {
	r.seq++
	r.events.push(event{t: t, seq: r.seq, kind: kind, part: p})
}

// join asks the selector for participant p's room and connects them, or turns them away.
func (r *run) join(ctx context.Context, p int32) error {
	pt := r.w.parts[p]
	rm := &r.rooms[pt.room]
	first := !rm.started
	rm.started = true
	if r.o.ZeroDelay && r.dirty && r.free == nil && !r.bound(ctx, pt.room) {
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
	if r.o.SizeHistory && !r.clairvoyant && res.Outcome == rooms.Created {
		// The experiment: the selector expects the room's eventual size, as one that kept each
		// recurring room name's size would, and counts the participants still to come as pending
		// joins on its node (the real joins count again when they come: an overestimate).
		if i, ok := rp.snap.Index(res.Node.ID); ok {
			for range r.size[pt.room] - 1 {
				rp.snap.Join(i)
			}
		}
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

// bound reports that room i is bound to a node the selector does not list as gone, so that the
// resolver will not pick a node for it: in zero-delay mode only a pick needs a fresh snapshot, and
// rebuilding one for every join made the mode quadratic in the fleet size.
func (r *run) bound(ctx context.Context, i int32) bool {
	name, err := rooms.Normalize(r.w.rooms[i])
	if err != nil {
		return false
	}
	b, ok, err := r.store.Get(ctx, name)
	if err != nil || !ok {
		return false
	}
	k, known := r.byID[b.Node]
	return known && r.buf[k].State != placement.Gone
}

// refuse turns participant p away for good: the rest of their visit is unserved demand.
func (r *run) refuse(p int32, first bool) {
	if rm := &r.rooms[r.w.parts[p].room]; r.clairvoyant && rm.booked {
		r.release(rm, r.o.Cost.Join(1))
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
			if e := r.events.pop(); e.kind == evLeave {
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
				p = r.events.pop().part
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
