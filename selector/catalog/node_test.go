package catalog

import (
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

func TestClassify(t *testing.T) {
	chk := func(id, status string) *api.HealthCheck { return &api.HealthCheck{CheckID: id, Status: status} }
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
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.checks); got != c.want {
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
