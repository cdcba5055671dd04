package soak

import (
	"context"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// Observed marks a window in which Consul itself showed a node's check
// critical (or the node missing), whatever the cause: an injected fault,
// or a check that timed out on a starved machine. Such windows justify a
// room moving off the node (the selectors rebind rooms of nodes Consul
// calls critical) but do not count for invariant 1, which is about what
// the injector knows.
const Observed Kind = "observed-critical"

// observe follows the nodes' health in Consul with a blocking query until
// ctx ends, records every span in which a node was critical or absent, and
// returns how many answers it had (the caller fails the run on none).
// While Consul does not answer, nothing is recorded.
func observe(ctx context.Context, c *api.Client, nodes []string, tl *timeline) int {
	answers := 0
	open := map[string]int{} // node → window index while critical
	var index uint64
	for ctx.Err() == nil {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Second, AllowStale: true}).WithContext(ctx)
		entries, meta, err := c.Health().Service(fleet.ServiceName, "", false, q)
		if err != nil {
			index = 0
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		answers++
		if meta.LastIndex < index {
			index = 0
		} else {
			index = meta.LastIndex
		}
		now := time.Now()
		critical := map[string]bool{}
		for _, n := range nodes {
			critical[n] = true // absent counts as critical
		}
		for _, e := range entries {
			if e.Checks.AggregatedStatus() != api.HealthCritical {
				critical[e.Service.ID] = false
			}
		}
		for _, n := range nodes {
			i, isOpen := open[n]
			switch {
			case critical[n] && !isOpen:
				open[n] = tl.Open(Window{Node: n, State: Down, Kind: Observed, Start: now})
			case !critical[n] && isOpen:
				tl.Close(i, now)
				delete(open, n)
			}
		}
	}
	for _, i := range open {
		tl.Close(i, time.Now())
	}
	return answers
}

// LeaderLoss marks a span in which the fleet's Consul agent knew no
// leader, or the leader changed, whatever the cause (a killed leader, or a
// restarted server that called an election when it came back). Consul
// cannot write then, and blocking reads stall.
const LeaderLoss Kind = "leader-loss"

// watchLeader asks the fleet's agent for the raft leader every 100 ms until
// ctx ends, and records a Blind window for each span without one, and for
// each change of leader (from the last poll that saw the old one). It
// returns how many polls saw a leader (the caller fails the run on none).
func watchLeader(ctx context.Context, f *fleet.Fleet, tl *timeline) int {
	const every = 100 * time.Millisecond
	seen := 0
	var (
		last     string // leader at the last poll that saw one
		lastSeen time.Time
		open     = -1
	)
	for ctx.Err() == nil {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		leader, err := f.Consul.Leader(qctx)
		cancel()
		now := time.Now()
		switch {
		case err != nil || leader == "":
			if open < 0 && ctx.Err() == nil {
				start := now
				if !lastSeen.IsZero() {
					start = lastSeen
				}
				open = tl.Open(Window{State: Blind, Kind: LeaderLoss, Start: start})
			}
		default:
			if open >= 0 {
				tl.Close(open, now)
				open = -1
			} else if last != "" && leader != last {
				i := tl.Open(Window{State: Blind, Kind: LeaderLoss, Start: lastSeen})
				tl.Close(i, now)
			}
			last, lastSeen = leader, now
			seen++
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
	if open >= 0 {
		tl.Close(open, time.Now())
	}
	return seen
}
