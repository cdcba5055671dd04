package soak

import (
	"sync"
	"time"
)

// State is what a fault does to a node, as the selectors should see it.
type State string

// Node states the timeline records. A node in none of them is serving.
const (
	// Down: the node fails its health check (sidecar dead, bridge failing,
	// nginx stopped, frozen); no selector may send anyone there once the
	// detection bound has passed, and its rooms may move.
	Down State = "down"
	// Draining: no new rooms once the detection bound has passed; rooms
	// bound to it stay.
	Draining State = "draining"
	// Degraded: the node still passes its check but its load is unknown
	// (bridge statistics broken); no invariant depends on it.
	Degraded State = "degraded"
	// Blind (fleet-wide): the selectors' Consul view cannot change (their
	// agent is down, or the cluster has no leader), so the detection bound
	// does not run; new bindings cannot be written.
	Blind State = "blind"
	// Churn (fleet-wide): a selector replica or a Consul server is down or
	// restarting; room bindings must survive it.
	Churn State = "churn"
)

// Window is a span of time during which a fault was in force. End is zero
// while it still is.
type Window struct {
	// Node is the node it affects, or "" for a fleet-wide window.
	Node  string
	State State
	// Kind is the fault behind it.
	Kind Kind
	// Target is the part a fleet-wide window hit (a selector replica, a
	// Consul server), "" if none in particular.
	Target     string
	Start, End time.Time
}

// covers reports whether the window covers t.
func (w Window) covers(t time.Time) bool {
	return !t.Before(w.Start) && (w.End.IsZero() || t.Before(w.End))
}

// timeline is the ground truth of the soak: when each fault was in force,
// as the injector did it (not as any part of the fleet saw it).
type timeline struct {
	mu      sync.Mutex
	windows []Window
}

// Open starts a window and returns its index for Close.
func (tl *timeline) Open(w Window) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.windows = append(tl.windows, w)
	return len(tl.windows) - 1
}

// Close ends window i at t.
func (tl *timeline) Close(i int, t time.Time) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.windows[i].End = t
}

// Windows returns a copy of every window.
func (tl *timeline) Windows() []Window {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]Window(nil), tl.windows...)
}
