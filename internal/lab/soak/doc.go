// Package soak runs a chaos soak against a running fleet (internal/lab/fleet):
// a steady client load through a small load balancer in front of the
// selector replicas, while faults drawn from a seeded random schedule hit
// every part of the fleet, overlapping, some node faults held long enough
// that their rooms must move. Every answer is recorded, the room prefix in
// Consul is read about once a second and around every selector or Consul
// fault, and every daemon is sampled before each fault kills it and at the
// end. The judge (check.go) counts, each with a fixture in testdata/check
// that breaks it: redirects to a node down or draining past the detection
// bound; rooms moved off a node not down for --rooms.move-after, or that no
// fault hit; answers other than 302 and the 503s inside the window of the
// fault that explains them, and the share of 302s outside faults; bindings
// lost, made again or moved without cause in Consul's KV; long node faults
// whose rooms did not move; and daemons that grew, could not be read, or
// outlived the fleet.
package soak
