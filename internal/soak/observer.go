package soak

import (
	"context"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/fleet"
)

// Observed marks a window in which Consul itself showed a node's check
// critical (or the node missing), whatever the cause: an injected fault,
// or a check that timed out on a starved machine. Such windows justify a
// room moving off the node (the selectors rebind rooms of nodes Consul
// calls critical) but do not count for invariant 1, which is about what
// the injector knows.
const Observed Kind = "observed-critical"

// observe follows the nodes' health in Consul with a blocking query until
// ctx ends and records every span in which a node was critical or absent.
// While Consul does not answer, nothing is recorded.
func observe(ctx context.Context, f *fleet.Fleet, nodes []string, tl *Timeline) {
	c, err := api.NewClient(f.Consul.Config())
	if err != nil {
		return
	}
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
}
