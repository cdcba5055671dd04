package selector

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
	"github.com/ensemble-jitsi/ensemble/internal/testenv"
)

// ACL policies of the tests, as docs/security.md documents them.
const (
	selectorRules = `service "jitsi" { policy = "read" }
node_prefix "" { policy = "read" }
key_prefix "ensemble/rooms/" { policy = "write" }`
	sidecarRules = `service "jitsi" { policy = "write" }
node_prefix "" { policy = "read" }`
)

// aclClient returns a client of consul that acts with token.
func aclClient(t *testing.T, consul *testenv.Consul, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: consul.Addr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRogueRegistrations replays the review's H2 against Consul with ACLs on (default deny): a
// rogue node registered with the shared sidecar token and a public_url outside
// --nodes.allowed-domains gets no meeting, and a second registration of an existing service ID
// from another Consul node takes neither new rooms nor the rooms bound to the real node: both
// copies are left out, a metric counts the conflict and a log line names both.
func TestRogueRegistrations(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{ACLDefaultDeny: true})
	admin := consul.Client(t)
	nodes := addNodes(t, admin, 2)
	opts := testOptions(t, consul)
	opts.Consul = aclClient(t, consul, testenv.ACLToken(t, admin, "selector", selectorRules))
	opts.NodesAllowedDomains = []string{"example.org"}
	var logs testenv.Buffer
	opts.Logger = promslog.New(&promslog.Config{Writer: &logs})
	in := start(t, opts)
	in.waitEligible(t, nodes)
	if got := in.room(t, "standup"); got.Node == "" {
		t.Fatal("standup not placed")
	}
	bound := in.room(t, "standup").Node

	// (a) A rogue node with the sidecar token: idle, and pointing users elsewhere.
	sidecar := aclClient(t, consul, testenv.ACLToken(t, admin, "sidecar", sidecarRules))
	addNode(t, sidecar, "rogue", "https://attacker.example", 64)
	testenv.WaitFor(t, 10*time.Second, func() error {
		if v := in.metric(t, "ensemble_selector_catalog_ignored_instances_total", nil); v < 1 {
			return fmt.Errorf("ignored instances = %v", v)
		}
		return nil
	})
	for i := range 40 {
		if b := in.room(t, fmt.Sprintf("rogue-test-%d", i)); strings.Contains(b.URL, "attacker") || b.Node == "rogue" {
			t.Fatalf("room %d placed on %s (%s)", i, b.Node, b.URL)
		}
	}
	if !strings.Contains(logs.String(), `id=rogue`) || !strings.Contains(logs.String(), "not under --nodes.allowed-domains") {
		t.Errorf("no log line about the rogue node:\n%s", logs.String())
	}

	// (b) A duplicate of the bound node's ID from another Consul node, as a compromised node's
	// own agent would register it, with a URL inside the allowed domain.
	evilURL := "https://" + bound + "-evil.example.org"
	if _, err := admin.Catalog().Register(&api.CatalogRegistration{
		Node: "aaa-evil", Address: "127.0.0.1",
		Service: &api.AgentService{ID: bound, Service: "jitsi", Port: 1, Meta: map[string]string{
			registration.MetaPublicURL: evilURL, registration.MetaSidecarPort: "1",
		}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	in.waitNodes(t, 10*time.Second, map[string]string{bound: "absent"})
	if v := in.metric(t, "ensemble_selector_catalog_conflicts", nil); v != 1 {
		t.Errorf("ensemble_selector_catalog_conflicts = %v, want 1", v)
	}
	for _, room := range []string{"standup", "probe-room-1"} {
		b := in.room(t, room)
		if b.Node == bound || strings.Contains(b.URL, "evil") {
			t.Errorf("room %s went to %s (%s) during the conflict", room, b.Node, b.URL)
		}
	}
	line := ""
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "several Consul nodes") {
			line = l
		}
	}
	if !strings.Contains(line, `\"aaa-evil\"`) || !strings.Contains(line, evilURL) || !strings.Contains(line, "https://"+bound+".example.org") {
		t.Errorf("the conflict log line does not name both registrations: %q", line)
	}

	// The duplicate gone, the real node is back.
	if _, err := admin.Catalog().Deregister(&api.CatalogDeregistration{Node: "aaa-evil"}, nil); err != nil {
		t.Fatal(err)
	}
	in.waitNodes(t, 10*time.Second, map[string]string{bound: "eligible"})
	if v := in.metric(t, "ensemble_selector_catalog_conflicts", nil); v != 0 {
		t.Errorf("ensemble_selector_catalog_conflicts = %v after the duplicate left, want 0", v)
	}
	resp, err := in.get("/api/v1/nodes", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/api/v1/nodes: %v", err)
	}
}

// TestAllowedDomainsFlagValidated: a malformed allowlist entry is refused at start.
func TestAllowedDomainsFlagValidated(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	opts := testOptions(t, consul)
	for _, bad := range []string{"exa mple.org", "exämple.org", "a..b"} {
		o := opts
		o.NodesAllowedDomains = []string{bad}
		o.Registry = prometheus.NewRegistry()
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), "nodes.allowed-domains") {
			t.Errorf("%q: New = %v, want an allowed-domains error", bad, err)
		}
	}
}
