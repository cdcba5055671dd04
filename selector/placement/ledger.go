package placement

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ledger is the placement state that outlives one view of the nodes: the configuration, the clock
// and each node's pending account (the rooms and joins sent to it since its load data last moved).
// It builds the immutable Snapshots the policies pick from; the selector builds one whenever the
// catalog or the load data changes and swaps it in atomically, and the simulator builds one per
// data interval. A Ledger is safe for concurrent use. (It was called Fleet, a name the demo's
// fleet supervisor also uses.)
type Ledger struct {
	cfg   Config
	now   func() time.Time
	width int64 // pending bucket width in nanoseconds

	mu       sync.Mutex
	accounts map[string]*account
	joins    map[string]*account
	layout   *layout // of the last snapshot
}

// NewLedger returns a Ledger using cfg and the clock now (time.Now in production, simulated time in
// the simulator).
func NewLedger(cfg Config, now func() time.Time) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("placement config: %w", err)
	}
	if now == nil {
		return nil, fmt.Errorf("placement: nil clock")
	}
	return &Ledger{cfg: cfg, now: now, width: int64(cfg.Window) / pendingBuckets, accounts: map[string]*account{}, joins: map[string]*account{}}, nil
}

// Config returns the configuration the Ledger was built with.
func (f *Ledger) Config() Config { return f.cfg }

// Snapshot is an immutable view of the fleet at one moment, indexed for placement. Indexes used by
// its methods and returned by policies refer to Nodes(), which is sorted by ID so that every
// replica given the same nodes sees the same order. Only the pending accounts it points to change.
type Snapshot struct {
	ledger   *Ledger
	nodes    []Node
	index    map[string]int // shared with other snapshots of the same node IDs, read-only
	load     []float64      // reported load used for scoring: NaN/stale → excluded, or 0 when degraded
	step     []float64      // Cost / Capacity: score added per pending assignment
	joinStep []float64      // JoinCost / Capacity: score added per pending join
	hash     []uint64       // per-node rendezvous hash seed, shared like index
	accounts []*account     // pending account per node, owned by the Ledger
	joins    []*account     // pending joins per node, owned by the Ledger
	eligible []int32        // Eligible state with usable load data, in index order
	below    []int32        // eligible with reported load under the high-water mark
	own      []int32        // below and in this replica's share (Config.Replica); nil without shares
	mean     float64        // mean reported load over eligible nodes
	degraded bool
	region   string // the region an InRegion view is limited to, "" for the whole fleet

	sortOnce sync.Once
	byLoad   []int32 // eligible by ascending reported load, then index; built on first use

	// saturatedAt is 1 + the pending epoch in which least found every eligible node at or over the
	// high-water mark, 0 before. Within one epoch corrected scores only grow (assignments add, none
	// age out), so the fleet stays saturated until the epoch ends: p2c then samples saturatedDraws
	// nodes instead of scanning every node for every new room.
	saturatedAt atomic.Int64

	regionMu sync.Mutex
	regions  map[string]*Snapshot // InRegion's views, built on first use
}

// layout is the part of a snapshot that depends only on the node IDs. Consecutive snapshots of
// an unchanged fleet share it, which saves the map building on every load refresh.
type layout struct {
	ids      []string
	index    map[string]int
	hash     []uint64   // per-node rendezvous hash seed
	accounts []*account // pending account per node, owned by the Ledger
	joins    []*account // pending joins per node, owned by the Ledger
}

// layoutFor returns the layout of sorted nodes, reusing the previous one when the IDs are the same.
func (f *Ledger) layoutFor(nodes []Node) *layout {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.layout; l != nil && len(l.ids) == len(nodes) {
		same := true
		for i := range nodes {
			if nodes[i].ID != l.ids[i] {
				same = false
				break
			}
		}
		if same {
			return l
		}
	}
	l := &layout{
		ids:      make([]string, len(nodes)),
		index:    make(map[string]int, len(nodes)),
		hash:     make([]uint64, len(nodes)),
		accounts: make([]*account, len(nodes)),
		joins:    make([]*account, len(nodes)),
	}
	for i, n := range nodes {
		l.ids[i] = n.ID
		l.index[n.ID] = i
		l.hash[i] = mix(hashString(n.ID))
		a := f.accounts[n.ID]
		if a == nil {
			a = &account{}
			f.accounts[n.ID] = a
		}
		l.accounts[i] = a
		j := f.joins[n.ID]
		if j == nil {
			j = &account{}
			f.joins[n.ID] = j
		}
		l.joins[i] = j
	}
	// Forget nodes that left the catalog once their pending assignments have aged out, so churn
	// cannot grow the map without bound.
	if len(f.accounts) > len(nodes) {
		e := f.epoch()
		for id, a := range f.accounts {
			if _, ok := l.index[id]; !ok && a.count(e) == 0 && f.joins[id].count(e) == 0 {
				delete(f.accounts, id)
				delete(f.joins, id)
			}
		}
	}
	f.layout = l
	return l
}

// Snapshot builds a view of nodes. The input slice is copied, never kept.
func (f *Ledger) Snapshot(nodes []Node) *Snapshot {
	s := &Snapshot{
		ledger:   f,
		nodes:    slices.Clone(nodes),
		load:     make([]float64, len(nodes)),
		step:     make([]float64, len(nodes)),
		joinStep: make([]float64, len(nodes)),
	}
	byID := func(a, b Node) int { return cmp.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(s.nodes, byID) {
		slices.SortFunc(s.nodes, byID)
	}
	l := f.layoutFor(s.nodes)
	s.index, s.hash, s.accounts, s.joins = l.index, l.hash, l.accounts, l.joins
	known, members := false, false
	for i, n := range s.nodes {
		s.load[i] = n.Load
		if n.Age > f.cfg.MaxAge || n.Age < 0 || math.IsInf(n.Load, 0) || n.Load < 0 {
			s.load[i] = math.NaN()
		}
		if n.State == Eligible {
			members = true
			known = known || !math.IsNaN(s.load[i])
		}
		c := n.Capacity
		if !(c > 0) {
			c = 1
		}
		// Each of Replicas selectors sees about 1/Replicas of the joins and rooms, since the load
		// balancer spreads requests: scaling its own counts estimates the whole fleet's.
		s.step[i] = f.cfg.Cost * float64(f.cfg.replicas()) / c
		s.joinStep[i] = f.cfg.JoinCost * float64(f.cfg.replicas()) / c
	}
	// Without any usable load data (Prometheus down, fleet just started) the selector still places
	// rooms: loads count as zero and the pending accounts alone spread the rooms.
	s.degraded = members && !known
	sum := 0.0
	for i, n := range s.nodes {
		if s.degraded {
			s.load[i] = 0
		}
		if n.State != Eligible || math.IsNaN(s.load[i]) {
			continue
		}
		s.eligible = append(s.eligible, int32(i))
		if s.load[i] < f.cfg.HighWater {
			s.below = append(s.below, int32(i))
			if s.mine(int32(i)) && f.cfg.Replica > 0 {
				s.own = append(s.own, int32(i))
			}
		}
		sum += s.load[i]
	}
	if len(s.eligible) > 0 {
		s.mean = sum / float64(len(s.eligible))
	}
	return s
}

// mine reports that node i is in this replica's share of the nodes: every shares-th node in ID
// order, so that replicas given the same catalog split it evenly and without overlap.
func (s *Snapshot) mine(i int32) bool {
	n, mine := s.ledger.cfg.shares()
	return int(i)%n == mine
}

func (f *Ledger) epoch() int64 { return f.now().UnixNano() / f.width }

// InRegion returns the view of s in which only the nodes of region can take new rooms. It shares the
// nodes, their indexes and pending accounts with s, so a policy's choice in it is an index of s, and
// an assignment counts in both. The view is built once per snapshot and region.
func (s *Snapshot) InRegion(region string) *Snapshot {
	s.regionMu.Lock()
	defer s.regionMu.Unlock()
	if v, ok := s.regions[region]; ok {
		return v
	}
	v := &Snapshot{
		ledger: s.ledger, nodes: s.nodes, index: s.index, load: s.load, step: s.step, joinStep: s.joinStep,
		hash: s.hash, accounts: s.accounts, joins: s.joins, degraded: s.degraded, region: region,
	}
	sum := 0.0
	for _, i := range s.eligible {
		if s.nodes[i].Region != region {
			continue
		}
		v.eligible = append(v.eligible, i)
		if s.load[i] < s.ledger.cfg.HighWater {
			v.below = append(v.below, i)
			if s.mine(i) && s.ledger.cfg.Replica > 0 {
				v.own = append(v.own, i)
			}
		}
		sum += s.load[i]
	}
	if len(v.eligible) > 0 {
		v.mean = sum / float64(len(v.eligible))
	}
	if s.regions == nil {
		s.regions = map[string]*Snapshot{}
	}
	s.regions[region] = v
	return v
}

// Region returns the region an InRegion view is limited to, or "" for a whole snapshot: a policy
// that keeps its own index of the nodes (the simulator's oracle) needs it to search the same nodes.
func (s *Snapshot) Region() string { return s.region }

// Len returns the number of nodes.
func (s *Snapshot) Len() int { return len(s.nodes) }

// Node returns node i.
func (s *Snapshot) Node(i int) Node { return s.nodes[i] }

// Nodes returns all nodes sorted by ID; callers must not modify the slice.
func (s *Snapshot) Nodes() []Node { return s.nodes }

// Index returns the index of the node with this ID.
func (s *Snapshot) Index(id string) (int, bool) {
	i, ok := s.index[id]
	return i, ok
}

// Eligible returns how many nodes can take new rooms (state eligible, usable data).
func (s *Snapshot) Eligible() int { return len(s.eligible) }

// Degraded reports that there are eligible nodes but none has usable load data, so placement runs
// on pending accounts alone.
func (s *Snapshot) Degraded() bool { return s.degraded }

// Config returns the configuration of the Ledger that built the snapshot.
func (s *Snapshot) Config() Config { return s.ledger.cfg }

// Pending returns the assignments node i received within the pending window.
func (s *Snapshot) Pending(i int) int { return s.accounts[i].count(s.ledger.epoch()) }

// PendingJoins returns the joins this selector sent to node i within the pending window.
func (s *Snapshot) PendingJoins(i int) int { return s.joins[i].count(s.ledger.epoch()) }

// Score returns node i's corrected score: reported load plus the expected load of the rooms
// assigned and the participants sent to it since (approximately) that load was measured. NaN when
// its load is unusable.
func (s *Snapshot) Score(i int) float64 { return s.score(i, s.ledger.epoch()) }

func (s *Snapshot) score(i int, epoch int64) float64 {
	sc := s.load[i] + float64(s.accounts[i].count(epoch))*s.step[i]
	if s.joinStep[i] != 0 {
		sc += float64(s.joins[i].count(epoch)) * s.joinStep[i]
	}
	return sc
}

// Assign records that node i received a new room now, and returns the epoch it was counted in.
// Call it once per room, as soon as the room is headed for the node (before the binding store's
// round trip, so concurrent picks see it); Unassign takes it back when the bind was lost.
func (s *Snapshot) Assign(i int) int64 {
	e := s.ledger.epoch()
	s.accounts[i].add(e)
	return e
}

// Unassign takes back an Assign of node i made in epoch, unless that epoch has already left
// the pending window (then there is nothing left to take back).
func (s *Snapshot) Unassign(i int, epoch int64) { s.accounts[i].remove(epoch) }

// Join records that a participant was sent to node i now, for a new room or a bound one. Every
// join passes through the selector before any metric shows it, so counting joins tracks a room's
// growth, which the per-room account cannot: a 30-person class costs ten times a 3-person call.
func (s *Snapshot) Join(i int) { s.joins[i].add(s.ledger.epoch()) }

// sorted returns the eligible nodes by ascending reported load. Sorting 10,000 nodes takes about a
// millisecond, more than the rest of a rebuild, so it is done only for the policies that need it
// (least-loaded, most-free-cpu, p2c's rare fallback), once per snapshot.
func (s *Snapshot) sorted() []int32 {
	s.sortOnce.Do(func() {
		type entry struct {
			load float64
			i    int32
		}
		order := make([]entry, len(s.eligible))
		for j, i := range s.eligible {
			order[j] = entry{s.load[i], i}
		}
		slices.SortFunc(order, func(a, b entry) int {
			switch {
			case a.load < b.load:
				return -1
			case a.load > b.load:
				return 1
			}
			return int(a.i - b.i)
		})
		s.byLoad = make([]int32, len(order))
		for j, e := range order {
			s.byLoad[j] = e.i
		}
	})
	return s.byLoad
}

// least returns the eligible node with the lowest corrected score. It scans in order of reported
// load: pending assignments only add to it, so once the reported load reaches the best score no
// later node can win.
func (s *Snapshot) least(epoch int64) (Choice, error) {
	best, bestScore := s.leastOf(epoch, false)
	if best < 0 {
		return Choice{}, ErrNoNode
	}
	saturated := bestScore >= s.ledger.cfg.HighWater
	if saturated {
		s.saturatedAt.Store(epoch + 1)
	}
	return Choice{Index: best, Saturated: saturated}, nil
}

// leastOf returns the eligible node with the lowest corrected score, among this replica's share
// only if own, and that score; -1 when there is none.
func (s *Snapshot) leastOf(epoch int64, own bool) (int, float64) {
	best, bestScore := -1, math.Inf(1)
	for _, i := range s.sorted() {
		if s.load[i] >= bestScore {
			break
		}
		if own && !s.mine(i) {
			continue
		}
		if sc := s.score(int(i), epoch); sc < bestScore {
			best, bestScore = int(i), sc
		}
	}
	return best, bestScore
}

// ownLeast returns the node of this replica's share with the lowest corrected score, if the
// share has one under the high-water mark.
func (s *Snapshot) ownLeast(epoch int64) (int, bool) {
	if len(s.own) == 0 {
		return -1, false
	}
	i, score := s.leastOf(epoch, true)
	return i, i >= 0 && score < s.ledger.cfg.HighWater
}

// shareSlack is how much lower a node outside the replica's share must score to take a new room
// the share would have had: replicas prefer their own shares, but not at any price, so that the
// share of a replica that is down (or of a position no replica has) fills with the rest of the
// fleet, at most this much behind it, instead of waiting for every other share to be full. 0.15 is
// about a class of 25 on a 4-CPU node: a difference a burst of new rooms rarely builds up before the
// load data shows it.
const shareSlack = 0.15

// orBetter returns other, a node from the whole fleet, if it scores more than shareSlack below own,
// a node of this replica's share; else own.
func (s *Snapshot) orBetter(own, other int, epoch int64) int {
	if other >= 0 && s.score(other, epoch) < s.score(own, epoch)-shareSlack {
		return other
	}
	return own
}

// drawn returns best-of-d's candidate from the whole fleet: the lowest of d drawn from the nodes
// under the mark, or the least loaded when there are no more than d of them.
func (s *Snapshot) drawn(d int, r Rand, epoch int64) int {
	if len(s.below) <= d {
		i, _ := s.leastOf(epoch, false)
		return i
	}
	return s.lowest(s.below, d, r, epoch)
}

// maxExactScan is the fleet size up to which a saturated p2c still scans for the least loaded node on
// every pick: below it a scan costs less than a microsecond.
const maxExactScan = 64

// saturated reports that least found the whole fleet saturated in this epoch and the fleet is too
// large to rescan per pick.
func (s *Snapshot) saturated(epoch int64) bool {
	return len(s.eligible) > maxExactScan && s.saturatedAt.Load() == epoch+1
}

// saturatedDraws is how many nodes a saturated p2c compares per pick. Two, as in p2c proper, cost the
// simulator's 95 % day 12 refused meetings that a scan avoided; eight matched the scan's refused joins
// and node-minutes over 90 % within the spread of two seeds.
const saturatedDraws = 8

// lowest returns the node with the lowest corrected score among d drawn from pool at random (with
// replacement: d is much smaller than the pool).
func (s *Snapshot) lowest(pool []int32, d int, r Rand, epoch int64) int {
	best, bestScore := -1, math.Inf(1)
	for range d {
		i := int(pool[r.IntN(len(pool))])
		if sc := s.score(i, epoch); best < 0 || sc < bestScore {
			best, bestScore = i, sc
		}
	}
	return best
}

// better draws two distinct nodes from pool (at least two) and returns the one with the lower
// corrected score, and that score.
func (s *Snapshot) better(pool []int32, r Rand, epoch int64) (int, float64) {
	n := len(pool)
	a := int(pool[r.IntN(n)])
	b := int(pool[r.IntN(n-1)])
	if b == a { // draw b from the other n-1 slots: swap the collision for the last slot
		b = int(pool[n-1])
	}
	sa, sb := s.score(a, epoch), s.score(b, epoch)
	if sb < sa {
		return b, sb
	}
	return a, sa
}
