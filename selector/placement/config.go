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
	// Cost is the CPU (in logical CPUs) that one new room is expected to add once its participants
	// have joined. 0.25 CPU is a typical 3-4 person meeting on a JVB + prosody + jicofo + nginx
	// node (see docs/placement.md for the sizing figures); Jicofo's equivalent is 0.01 stress per
	// participant on a bridge.
	Cost float64
	// Epsilon is bounded-hash's slack: a node takes a room by hash only while its load is at most
	// (1+Epsilon) times the fleet mean. 0.25 is the value of liblb/bounded and brpc's 1.25 load factor;
	// smaller values move more rooms off their hash-preferred node, larger ones allow more skew.
	Epsilon float64
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{HighWater: 0.8, MaxAge: 30 * time.Second, Window: 90 * time.Second, Cost: 0.25, Epsilon: 0.25}
}

// Validate reports the first field that cannot work.
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
	if !(c.Epsilon >= 0) || math.IsInf(c.Epsilon, 0) {
		errs = append(errs, fmt.Errorf("bounded-hash epsilon must be zero or positive, got %v", c.Epsilon))
	}
	return errors.Join(errs...)
}
