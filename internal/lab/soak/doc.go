// Package soak runs a chaos soak against a running fleet (internal/lab/fleet):
// a steady client load through a small load balancer in front of the
// selector replicas, while faults drawn from a seeded random schedule hit
// every part of the fleet, overlapping. Every answer is recorded, and the
// invariants users care about are counted over all of them: no redirect to a
// node known down or draining for longer than the detection bound, no room
// split across replicas, no answer other than 2xx/302 except the documented
// 503s, no room binding lost across a selector restart or a Consul leader
// change, and no daemon that grew (goroutines, open files, RSS) or outlived
// the fleet.
package soak
