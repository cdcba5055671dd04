package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// TestClassify: unbound (labs), the node's service checks and its agent's node checks count;
// bound (the default), only node-level checks, which need node:write on the node, and the node's
// own check must be there.
func TestClassify(t *testing.T) {
	const (
		E = placement.Eligible
		D = placement.Draining
		G = placement.Gone
	)
	// chk is a check on instance "a": a service check unless its ID names a node-level one.
	chk := func(id, status string) *api.HealthCheck {
		c := &api.HealthCheck{CheckID: id, Status: status}
		if id != "serfHealth" && id != api.NodeMaint && id != "node-disk" && !strings.HasPrefix(id, registration.NodeCheckPrefix) {
			c.ServiceID = "a"
		}
		return c
	}
	own := chk(registration.NodeCheckID("a"), api.HealthPassing)
	cases := []struct {
		name           string
		checks         api.HealthChecks
		unbound, bound placement.State
	}{
		{"no checks", nil, E, D},
		{"all passing", api.HealthChecks{chk("serfHealth", "passing"), own, chk("service:a", "passing")}, E, E},
		{"only the service check", api.HealthChecks{chk("serfHealth", "passing"), chk("service:a", "passing")}, E, D},
		{"service maintenance", api.HealthChecks{own, chk("service:a", "passing"), chk("_service_maintenance:a", "critical")}, D, E},
		{"node maintenance", api.HealthChecks{own, chk("_node_maintenance", "critical")}, D, D},
		{"service check warning", api.HealthChecks{own, chk("service:a", "warning")}, D, E},
		{"node check warning (draining)", api.HealthChecks{chk(registration.NodeCheckID("a"), "warning")}, D, D},
		// N1d: any jitsi service writer can write the instance's service check critical.
		{"service check critical", api.HealthChecks{own, chk("service:a", "critical")}, G, E},
		{"node check critical", api.HealthChecks{chk(registration.NodeCheckID("a"), "critical")}, G, G},
		{"critical beats maintenance", api.HealthChecks{chk("_node_maintenance", "critical"), chk(registration.NodeCheckID("a"), "critical")}, G, G},
		{"serf critical", api.HealthChecks{chk("serfHealth", "critical"), own, chk("service:a", "passing")}, G, G},
		{"other node-level check critical", api.HealthChecks{chk("node-disk", "critical"), own}, G, G},
		{"foreign service check critical", api.HealthChecks{own, chk("service:a", "passing"), chk("evil", "critical")}, E, E},
		{"foreign service check warning", api.HealthChecks{own, chk("service:a", "passing"), chk("service:b", "warning")}, E, E},
		{"another instance's maintenance", api.HealthChecks{own, chk("_service_maintenance:b", "critical")}, E, E},
		// Labs: the sidecar of instance b shares the agent, and its node check is not a's.
		{"another sidecar's node check critical", api.HealthChecks{own, chk(registration.NodeCheckID("b"), "critical")}, E, G},
		// Consul lets a jitsi service writer turn the node check into a service check of the same ID.
		{"own node check turned into a service check", api.HealthChecks{
			{CheckID: registration.NodeCheckID("a"), ServiceID: "a", Status: api.HealthCritical}, chk("service:a", "passing")}, E, D},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify("a", c.checks, true); got != c.unbound {
				t.Errorf("unbound: classify = %v, want %v", got, c.unbound)
			}
			if got := classify("a", c.checks, false); got != c.bound {
				t.Errorf("bound: classify = %v, want %v", got, c.bound)
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
