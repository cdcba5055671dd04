package catalog

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func TestClassify(t *testing.T) {
	chk := func(id, status string) *api.HealthCheck {
		c := &api.HealthCheck{CheckID: id, Status: status}
		if id != "serfHealth" && id != api.NodeMaint && id != "node-disk" {
			c.ServiceID = "a"
		}
		return c
	}
	cases := []struct {
		name   string
		checks api.HealthChecks
		want   placement.State
	}{
		{"no checks", nil, placement.Eligible},
		{"all passing", api.HealthChecks{chk("serfHealth", "passing"), chk("service:a", "passing")}, placement.Eligible},
		{"maintenance", api.HealthChecks{chk("service:a", "passing"), chk("_service_maintenance:a", "critical")}, placement.Draining},
		{"node maintenance", api.HealthChecks{chk("_node_maintenance", "critical")}, placement.Draining},
		{"warning", api.HealthChecks{chk("service:a", "warning")}, placement.Draining},
		{"own check critical", api.HealthChecks{chk("service:a", "critical")}, placement.Gone},
		{"critical beats maintenance", api.HealthChecks{chk("_service_maintenance:a", "critical"), chk("service:a", "critical")}, placement.Gone},
		{"serf critical", api.HealthChecks{chk("serfHealth", "critical"), chk("service:a", "passing")}, placement.Gone},
		{"node-level check critical", api.HealthChecks{chk("node-disk", "critical"), chk("service:a", "passing")}, placement.Gone},
		// Checks any jitsi service writer can add to any node's instance: not the node's own.
		{"foreign service check critical", api.HealthChecks{chk("service:a", "passing"), chk("evil", "critical")}, placement.Eligible},
		{"foreign service check warning", api.HealthChecks{chk("service:a", "passing"), chk("service:b", "warning")}, placement.Eligible},
		{"another instance's maintenance", api.HealthChecks{chk("_service_maintenance:b", "critical")}, placement.Eligible},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify("a", c.checks); got != c.want {
				t.Fatalf("classify = %v, want %v", got, c.want)
			}
		})
	}
}

func TestNextIndex(t *testing.T) {
	cases := []struct{ prev, got, want uint64 }{
		{0, 5, 5},
		{5, 5, 5},
		{5, 9, 9},
		{9, 3, 0}, // went backwards: Consul's store was reset
		{9, 0, 0},
		{0, 0, 1}, // never block on 0
	}
	for _, c := range cases {
		if got := nextIndex(c.prev, c.got); got != c.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", c.prev, c.got, got, c.want)
		}
	}
}

// TestSince follows one node through a watcher's snapshots: it is live since it was first listed,
// keeps that time while it stays (draining included), loses it while gone, and gets the time of its
// return; it is gone since the first snapshot that shows it gone, and only while gone.
func TestSince(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var old *Snapshot
	for i, step := range []struct {
		state      placement.State
		spell      uint64
		live, gone time.Time
	}{
		{placement.Eligible, 0, at(0), time.Time{}},
		{placement.Draining, 0, at(0), time.Time{}},
		{placement.Eligible, 0, at(0), time.Time{}},
		{placement.Gone, 10, time.Time{}, at(3)},
		{placement.Gone, 10, time.Time{}, at(3)},
		{placement.Eligible, 0, at(5), time.Time{}},
		{placement.Eligible, 0, at(5), time.Time{}},
		{placement.Gone, 20, time.Time{}, at(7)},
		{placement.Gone, 20, time.Time{}, at(7)},
		// Back and gone again between two answers: a new spell starts the hold again.
		{placement.Gone, 30, time.Time{}, at(9)},
	} {
		nodes := []Node{{ID: "n", State: step.state, GoneIndex: step.spell}}
		since(old, nodes, at(i))
		if !nodes[0].LiveSince.Equal(step.live) || !nodes[0].GoneSince.Equal(step.gone) {
			t.Fatalf("step %d (%v): LiveSince = %v, GoneSince = %v; want %v, %v", i, step.state,
				nodes[0].LiveSince, nodes[0].GoneSince, step.live, step.gone)
		}
		old = &Snapshot{Nodes: nodes}
	}
	// A node that leaves the catalog and returns counts as back; one that returns gone, as just gone.
	nodes := []Node{{ID: "m", State: placement.Eligible}}
	since(old, nodes, t0.Add(time.Minute))
	since(&Snapshot{}, nodes, t0.Add(2*time.Minute))
	if !nodes[0].LiveSince.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("returning node: LiveSince = %v, want its return", nodes[0].LiveSince)
	}
	gone := []Node{{ID: "g", State: placement.Gone}}
	since(&Snapshot{}, gone, t0.Add(3*time.Minute))
	if !gone[0].GoneSince.Equal(t0.Add(3 * time.Minute)) {
		t.Fatalf("node first seen gone: GoneSince = %v, want now", gone[0].GoneSince)
	}
}
