package placement

// MostFreeCPU is the original service's rule: the eligible node with the lowest reported CPU busy
// ratio, ties to the lowest ID. It ignores pending assignments and the high-water mark, so every
// request between two data refreshes goes to the same node; it is kept as the baseline that shows
// the herd.
type MostFreeCPU struct{}

// Name implements Policy.
func (MostFreeCPU) Name() string { return "most-free-cpu" }

// Pick implements Policy.
func (MostFreeCPU) Pick(s *Snapshot, _ string, _ Rand) (Choice, error) {
	if len(s.eligible) == 0 {
		return Choice{}, ErrNoNode
	}
	// sorted is by reported load, ties by ID.
	return Choice{Index: int(s.sorted()[0]), Saturated: len(s.below) == 0}, nil
}

// LeastLoaded picks the eligible node with the lowest corrected score (Jicofo's rule). The pending
// correction is what stops it herding. It scans the eligible nodes in order of reported load and
// stops at the first one that cannot beat the best so far, so it costs O(nodes within a few rooms'
// cost of the minimum), O(n) in the worst case, plus one O(n log n) sort per snapshot.
type LeastLoaded struct{}

// Name implements Policy.
func (LeastLoaded) Name() string { return "least-loaded" }

// Pick implements Policy. A replica that knows its position (Config.Replica) takes the least
// loaded node of its own share while that node is under the high-water mark.
func (LeastLoaded) Pick(s *Snapshot, _ string, _ Rand) (Choice, error) {
	epoch := s.ledger.epoch()
	if i, ok := s.ownLeast(epoch); ok {
		j, _ := s.leastOf(epoch, false)
		return Choice{Index: s.orBetter(i, j, epoch)}, nil
	}
	return s.least(epoch)
}

// P2C samples two distinct nodes under the high-water mark and takes the one with the lower
// corrected score. Mitzenmacher (2000) shows that with stale load data two random choices beat the
// global minimum, which herds; the pending correction covers the rest. With two or fewer
// candidates it is least-loaded. Once a scan has found every node at or over the mark, a fleet of
// more than maxExactScan nodes gets the lowest of saturatedDraws random eligible nodes until the
// pending epoch ends, instead of a scan per room. The expected cost is O(1).
type P2C struct{}

// Name implements Policy.
func (P2C) Name() string { return "p2c" }

// p2cDraws bounds the resampling when a sampled node's pending assignments pushed it over the
// high-water mark; after that the policy falls back to a full scan.
const p2cDraws = 16

// Pick implements Policy.
func (P2C) Pick(s *Snapshot, _ string, r Rand) (Choice, error) {
	epoch := s.ledger.epoch()
	if s.saturated(epoch) {
		return Choice{Index: s.lowest(s.eligible, saturatedDraws, r, epoch), Saturated: true}, nil
	}
	if len(s.below) <= 2 {
		return s.least(epoch)
	}
	hw := s.ledger.cfg.HighWater
	for range p2cDraws {
		if i, score := s.better(s.below, r, epoch); score < hw {
			return Choice{Index: i}, nil
		}
	}
	return s.least(epoch)
}

// BestOfD is p2c with d = Config.Choices random draws: the node with the lowest corrected score
// among d drawn (with replacement) from the nodes under the high-water mark. More draws come closer
// to least-loaded's spread of a burst of large rooms, which two draws stack (in the simulator's
// day of classes opening on the hour, p2c turned away up to 1.3× the joins); the randomness keeps
// several replicas, each with its own pending accounts, from herding onto one minimum, which
// least-loaded does. With no more than d such nodes it is least-loaded; a saturated fleet is
// handled as in P2C. The expected cost is O(d).
type BestOfD struct{}

// Name implements Policy.
func (BestOfD) Name() string { return "best-of-d" }

// Pick implements Policy.
func (BestOfD) Pick(s *Snapshot, _ string, r Rand) (Choice, error) {
	epoch := s.ledger.epoch()
	if s.saturated(epoch) {
		return Choice{Index: s.lowest(s.eligible, saturatedDraws, r, epoch), Saturated: true}, nil
	}
	d := s.ledger.cfg.choices()
	hw := s.ledger.cfg.HighWater
	if len(s.own) > d { // a replica that knows its position draws from its own share first
		for range p2cDraws {
			if i := s.lowest(s.own, d, r, epoch); s.score(i, epoch) < hw {
				return Choice{Index: s.orBetter(i, s.drawn(d, r, epoch), epoch)}, nil
			}
		}
	}
	if i, ok := s.ownLeast(epoch); ok {
		return Choice{Index: s.orBetter(i, s.drawn(d, r, epoch), epoch)}, nil
	}
	if len(s.below) <= d {
		return s.least(epoch)
	}
	for range p2cDraws {
		if i := s.lowest(s.below, d, r, epoch); s.score(i, epoch) < hw {
			return Choice{Index: i}, nil
		}
	}
	return s.least(epoch)
}

// BoundedHash is consistent hashing with bounded loads over rendezvous hashing: the room goes to
// the node with the highest hash of (room, node) among nodes whose reported load is under both the
// high-water mark and (1+Epsilon) times the fleet mean. It ignores pending accounts on purpose, so
// replicas that see the same data give the same answer without a shared binding store; uniform
// hashing already spreads a burst of different rooms. Adding or removing a node moves only the
// rooms that hash to it.
type BoundedHash struct{}

// Name implements Policy.
func (BoundedHash) Name() string { return "bounded-hash" }

// Pick implements Policy.
func (BoundedHash) Pick(s *Snapshot, room string, _ Rand) (Choice, error) {
	limit := min((1+s.ledger.cfg.Epsilon)*s.mean, s.ledger.cfg.HighWater)
	h := hashString(room)
	best, bestHash := -1, uint64(0)
	for _, i := range s.below {
		if s.load[i] > limit {
			continue
		}
		if v := mix(h ^ s.hash[i]); best < 0 || v > bestHash {
			best, bestHash = int(i), v
		}
	}
	if best < 0 { // every node is at or over the high-water mark
		return s.least(s.ledger.epoch())
	}
	return Choice{Index: best}, nil
}

// Random picks a uniformly random eligible node: the floor any policy must beat in the simulator.
type Random struct{}

// Name implements Policy.
func (Random) Name() string { return "random" }

// Pick implements Policy.
func (Random) Pick(s *Snapshot, _ string, r Rand) (Choice, error) {
	if len(s.eligible) == 0 {
		return Choice{}, ErrNoNode
	}
	return Choice{Index: int(s.eligible[r.IntN(len(s.eligible))]), Saturated: len(s.below) == 0}, nil
}

var (
	_ Policy = MostFreeCPU{}
	_ Policy = LeastLoaded{}
	_ Policy = P2C{}
	_ Policy = BestOfD{}
	_ Policy = BoundedHash{}
	_ Policy = Random{}
)
