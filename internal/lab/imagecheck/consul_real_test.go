package imagecheck_test

import (
	"context"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/imagecheck"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// TestPassingRealConsul runs the passing checks against a real Consul agent: an instance whose
// service check fails leaves the passing set, and so does every instance of a node whose
// node-level check fails (a sidecar that registers its health as a node check instead of a
// service check is judged the same way).
func TestPassingRealConsul(t *testing.T) {
	c := testenv.StartConsul(t, testenv.ConsulOptions{}).Client(t)
	agent := c.Agent()
	for id, url := range map[string]string{"a": nodeA, "b": nodeB} {
		if err := agent.ServiceRegister(&api.AgentServiceRegistration{
			ID: id, Name: "jitsi", Meta: map[string]string{registration.MetaPublicURL: url},
			Check: &api.AgentServiceCheck{CheckID: "service:" + id, TTL: "1h", Status: api.HealthPassing},
		}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	both := imagecheck.WantPassing(c.Health(), "jitsi", []string{nodeA, nodeB})
	assertErr(t, both(ctx), "")
	index, err := imagecheck.CreateIndex(ctx, c.Catalog(), "jitsi", nodeB)
	if err != nil || index == 0 {
		t.Fatalf("CreateIndex = %d, %v; want the registration's index", index, err)
	}
	assertErr(t, imagecheck.NodeAbsent(c.Catalog(), "node-c")(ctx), "")

	if err := agent.UpdateTTL("service:b", "prosody down", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	assertErr(t, both(ctx), `passing jitsi instances: ["https://node-a.ci.invalid"], want`)
	assertErr(t, imagecheck.WantNotPassing(c.Health(), "jitsi", nodeB)(ctx), "")
	if err := agent.UpdateTTL("service:b", "", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	assertErr(t, both(ctx), "")

	if err := agent.CheckRegister(&api.AgentCheckRegistration{
		ID: "node-health", Name: "node health", AgentServiceCheck: api.AgentServiceCheck{TTL: "1h", Status: api.HealthCritical},
	}); err != nil {
		t.Fatal(err)
	}
	assertErr(t, imagecheck.WantNotPassing(c.Health(), "jitsi", nodeA)(ctx), "")
	assertErr(t, both(ctx), "passing jitsi instances: [], want")
}
