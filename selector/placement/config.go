package placement

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config holds the knobs that shape every policy's view of the fleet.
type Config struct {
	// HighWater is the corrected score at or above which a node is full for new rooms. 0.8 is
	// Jicofo's stress-threshold: it leaves headroom for the rooms already bound to the node to grow,
	// since the selector never moves a room.
	HighWater float64
	// MaxAge is how old a node's load data may be before it counts as unknown. 30 s covers a 5 s
	// Prometheus poll, a 5 s scrape and one missed scrape plus the rate window's centre of mass
	// lag of about 15 s; older data describes a different fleet.
	MaxAge time.Duration
	// Window is how long an assignment stays in a node's pending account. It must cover the time
	// the load data needs to show a new room: scrape interval + rate window + poll interval
	// (5 + 30 + 5 s with the shipped Prometheus config) plus the first minute in which the
	// room's participants arrive. Jicofo uses 20 s because bridges report every 5-10 s without
	// a rate window; Ensemble's Prometheus path is slower, hence 90 s.
	Window time.Duration
	// Cost is the CPU (in logical CPUs) that one new room is expected to add beyond its
	// participants: 0.1, the conference itself plus the participants about to follow the first
	// one, whom no join has announced yet. The simulator's tuning seeds put it between 0.1 and
	// 0.25 with JoinCost 0.06 (docs/placement.md).
	Cost float64
	// JoinCost is the CPU (in logical CPUs) one participant sent to a node is expected to add
	// before the load data shows it. It is counted for every join, of new and bound rooms alike,
	// so the correction grows with a room's size: every join passes through the selector before
	// any metric sees it. 0.06 is the cost model's marginal participant in a meeting of about
	// ten (0.02 plus 0.002 per stream each way); Jicofo's equivalent is 0.01 stress per
	// participant.
	JoinCost float64
	// Choices is how many random nodes best-of-d compares (0 counts as 2, p2c). 8 came out of the
	// simulator's tuning seeds: at 2 a burst of large rooms stacks on unlucky pairs, at 4 it
	// still did in one seed, and 8 stayed within a few per cent of the best policy on every shape.
	Choices int
	// Replicas is how many selector instances share the fleet behind a load balancer that
	// spreads requests evenly. Each sees only its own share of the joins and new rooms, so its
	// pending counts are scaled by Replicas to estimate everyone's. 0 counts as 1.
	Replicas int
	// Replica is this selector's position among the Replicas, 1 to Replicas; 0 means not told.
	// A replica that knows its position places new rooms on its own share of the nodes (every
	// Replicas-th node in ID order, starting at its position) while the share has a node under
	// the high-water mark and no node outside it scores shareSlack lower, and on the whole fleet
	// otherwise. Replicas do not see each other's
	// new rooms, so without shares two of them give the same emptiest node a room each within
	// the same data interval: on the simulator's drawn days with classes on the hour, least-loaded
	// turned away up to 3.4× the joins with three replicas as with one, best-of-d up to 1.35×
	// (docs/placement.md). Positions must differ: two replicas with the same one herd on their
	// share as replicas without shares do.
	Replica int
	// Epsilon is bounded-hash's slack: a node takes a room by hash only while its load is at most
	// (1+Epsilon) times the fleet mean. 0.25 is the value of liblb/bounded and brpc's 1.25 load factor;
	// smaller values move more rooms off their hash-preferred node, larger ones allow more skew.
	Epsilon float64
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{HighWater: 0.8, MaxAge: 30 * time.Second, Window: 90 * time.Second, Cost: 0.1, JoinCost: 0.06,
		Choices: 8, Replicas: 1, Epsilon: 0.25}
}

// Validate reports every field that cannot work.
func (c Config) Validate() error {
	var errs []error
	if !(c.HighWater > 0) || math.IsInf(c.HighWater, 0) {
		errs = append(errs, fmt.Errorf("high-water mark must be positive, got %v", c.HighWater))
	}
	if c.MaxAge <= 0 {
		errs = append(errs, fmt.Errorf("max data age must be positive, got %v", c.MaxAge))
	}
	if c.Window < pendingBuckets {
		errs = append(errs, fmt.Errorf("pending window must be at least %dns, got %v", pendingBuckets, c.Window))
	}
	if !(c.Cost >= 0) || math.IsInf(c.Cost, 0) {
		errs = append(errs, fmt.Errorf("per-room cost must be zero or positive, got %v", c.Cost))
	}
	if !(c.JoinCost >= 0) || math.IsInf(c.JoinCost, 0) {
		errs = append(errs, fmt.Errorf("per-join cost must be zero or positive, got %v", c.JoinCost))
	}
	if c.Choices < 0 || c.Choices > 64 {
		errs = append(errs, fmt.Errorf("choices must be in [0, 64], got %d", c.Choices))
	}
	if c.Replicas < 0 || c.Replicas > 1000 {
		errs = append(errs, fmt.Errorf("selector replicas must be in [0, 1000], got %d", c.Replicas))
	}
	if !(c.Epsilon >= 0) || math.IsInf(c.Epsilon, 0) {
		errs = append(errs, fmt.Errorf("bounded-hash epsilon must be zero or positive, got %v", c.Epsilon))
	}
	if c.Replica < 0 || c.Replica > c.replicas() {
		errs = append(errs, fmt.Errorf("selector replica position must be in [0, %d] (0: not told), got %d", c.replicas(), c.Replica))
	}
	return errors.Join(errs...)
}

func (c Config) replicas() int { return max(1, c.Replicas) }

// shares returns how many shares the nodes are split into for new rooms (1: none) and this
// replica's share, in [0, shares).
func (c Config) shares() (n, mine int) {
	if c.Replica == 0 || c.replicas() == 1 {
		return 1, 0
	}
	return c.replicas(), c.Replica - 1
}

func (c Config) choices() int {
	if c.Choices == 0 {
		return 2
	}
	return max(2, c.Choices)
}
