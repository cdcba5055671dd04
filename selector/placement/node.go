// Package placement chooses the node that hosts a new meeting. It is pure: no I/O, no package state
// that changes, and time and randomness are passed in, so the selector and the simulator run the
// same code and the simulator is reproducible from a seed.
package placement

import "time"

// State is a node's membership state as the catalog sees it.
type State uint8

const (
	// Eligible nodes pass every health check and take new rooms.
	Eligible State = iota
	// Draining nodes take no new rooms but keep the rooms already bound to them (maintenance mode).
	Draining
	// Gone nodes failed their own health check or left the catalog; their rooms must be rebound.
	Gone
)

// String returns the lower-case state name used in the selector's API and logs.
func (s State) String() string {
	switch s {
	case Eligible:
		return "eligible"
	case Draining:
		return "draining"
	case Gone:
		return "gone"
	}
	return "unknown"
}

// Node is one Jitsi Meet server as the selector sees it at one moment.
type Node struct {
	ID     string
	URL    string // public https URL, no path
	Region string
	// Capacity is the node's logical CPU count. It converts the per-room cost, which is in CPUs,
	// into the busy-ratio units of Load. Zero or less means unknown and counts as one CPU, which
	// over-estimates a new room's share and so errs towards spreading.
	Capacity float64
	// Load is the figure placement compares with the high-water mark, about 0..1 (above 1 when
	// over-committed); NaN when unknown. The selector sets it from --load.score: by default the larger
	// of the CPU busy ratio and the JVB stress level.
	Load float64
	// Stress is the JVB's own stress level (NaN when unknown), carried for the fleet view.
	Stress    float64
	Endpoints int
	// Age is how old the load data was when the snapshot was built.
	Age   time.Duration
	State State
	// LiveSince is when the selector last saw the node come back (first listed, or out of Gone);
	// zero when unknown. A local copy of a room binding older than it is not trusted (rooms).
	LiveSince time.Time
	// GoneSince is when the selector saw the node go Gone; zero unless Gone. Its rooms move only
	// once it has been gone for a while (rooms.ResolverOptions.MoveAfter): a health check that
	// flaps, or a restarted Consul agent whose checks start critical, must not split meetings.
	GoneSince time.Time
	// GoneIndex names the node's current spell of being gone, the same on every replica (Consul's
	// index of the check change that made it gone); zero unless Gone, or unknown. With a shared
	// store the hold counts from the first replica's GoneSince for this spell (rooms.GoneClock).
	GoneIndex uint64
}
