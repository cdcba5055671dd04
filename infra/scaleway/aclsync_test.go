package scaleway

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// TestConsulACLSync runs the first run's token step against a real Consul with ACLs whose
// initial management token is the module's: consul-acl-sync.py, fed the consul_acl output of a
// real plan, creates the shipped policies and every token with the IDs the hosts carry; a
// second run changes nothing; after a node is removed from the module, its tokens are gone and
// a token the module does not manage is untouched.
func TestConsulACLSync(t *testing.T) {
	t.Parallel()
	dir := initModule(t, nil, nil)
	three, err := savedPlan(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	two, err := savedPlan(t, dir, "-var=node_count=2")
	if err != nil {
		t.Fatal(err)
	}
	mgmt, _ := three.PlannedValues.Outputs["consul_management_token"].Value.(string)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := services.StartConsul(ctx, services.ConsulOptions{ACLDefaultDeny: true, ManagementToken: mgmt})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client, err := api.NewClient(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := client.ACL().TokenCreate(&api.ACLToken{Description: "operator's own token"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	consul, err := services.ConsulPath()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	// The script runs the consul CLI from PATH; give it the pinned build.
	if err := os.Symlink(consul, filepath.Join(bin, "consul")); err != nil {
		t.Fatal(err)
	}
	sync := func(p *plan, args ...string) string {
		t.Helper()
		in, err := json.Marshal(p.PlannedValues.Outputs["consul_acl"].Value)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, "python3", append([]string{"consul-acl-sync.py"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CONSUL_HTTP_ADDR="+c.HTTPAddr, "CONSUL_HTTP_TOKEN="+mgmt)
		cmd.Stdin = strings.NewReader(string(in))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("consul-acl-sync.py %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	if out := sync(three, "--dry-run"); !strings.Contains(out, "would create token 'ensemble-managed meet-0001 agent'") {
		t.Fatalf("--dry-run:\n%s", out)
	}
	if list, _, err := client.ACL().TokenList(nil); err != nil || len(list) != 3 { // management, anonymous, the operator's
		t.Fatalf("--dry-run changed Consul: %d tokens, %v", len(list), err)
	}
	sync(three)
	tokens := three.PlannedValues.Outputs["consul_acl"].Value.(map[string]any)["tokens"].([]any)
	if len(tokens) != 3*2+3+2*3 {
		t.Fatalf("consul_acl lists %d tokens, want 15 (3 nodes x 2, 3 control, 2 selectors x 3)", len(tokens))
	}
	for _, x := range tokens {
		tok := x.(map[string]any)
		got, _, err := client.ACL().TokenReadSelf(&api.QueryOptions{Token: tok["secret_id"].(string)})
		if err != nil {
			t.Fatalf("%s: not in Consul: %v", tok["description"], err)
		}
		if got.AccessorID != tok["accessor_id"] || got.Description != tok["description"] {
			t.Errorf("%s: Consul has accessor %s, description %q", tok["description"], got.AccessorID, got.Description)
		}
		switch tok["purpose"] {
		case "agent":
			if len(got.NodeIdentities) != 1 || got.NodeIdentities[0].NodeName != tok["host"] || len(got.Policies) != 0 {
				t.Errorf("%s: identities %+v policies %+v, want only the node identity", tok["description"], got.NodeIdentities, got.Policies)
			}
		case "sidecar":
			if len(got.Policies) != 1 || len(got.NodeIdentities) != 1 || got.NodeIdentities[0].NodeName != tok["host"] {
				t.Errorf("%s: policies %+v identities %+v, want the sidecar policy and the node identity", tok["description"], got.Policies, got.NodeIdentities)
			}
		default:
			if len(got.Policies) != 1 || len(got.NodeIdentities) != 0 {
				t.Errorf("%s: policies %+v identities %+v, want one policy", tok["description"], got.Policies, got.NodeIdentities)
			}
		}
	}
	// The sidecar policy is the shipped one: it may register the jitsi service, nothing else.
	var sidecar string
	for _, x := range tokens {
		if tok := x.(map[string]any); tok["description"] == "ensemble-managed meet-0001 sidecar" {
			sidecar = tok["secret_id"].(string)
		}
	}
	if _, err := client.KV().Put(&api.KVPair{Key: "ensemble/rooms/x", Value: []byte("x")}, &api.WriteOptions{Token: sidecar}); err == nil {
		t.Error("the sidecar token may write the selector's keys")
	}
	// Its node identity lets it write node-level checks on its own node only.
	for node, allowed := range map[string]bool{"meet-0001": true, "meet-0002": false} {
		_, err := client.Catalog().Register(&api.CatalogRegistration{Node: node, Address: "192.0.2.1",
			Check: &api.AgentCheck{Node: node, CheckID: "ensemble-sidecar:" + node, Status: api.HealthPassing}}, &api.WriteOptions{Token: sidecar})
		if (err == nil) != allowed {
			t.Errorf("the sidecar token of meet-0001 writing a node check on %s: %v, want allowed=%v", node, err, allowed)
		}
	}

	if out := sync(three); strings.TrimSpace(out) != "" {
		t.Fatalf("a second run must change nothing:\n%s", out)
	}

	out := sync(two)
	for _, want := range []string{"delete token 'ensemble-managed meet-0003 agent'", "delete token 'ensemble-managed meet-0003 sidecar'"} {
		if !strings.Contains(out, want) {
			t.Errorf("after node_count = 2, want %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 2 {
		t.Errorf("after node_count = 2, want exactly the two deletions:\n%s", out)
	}
	list, _, err := client.ACL().TokenList(nil)
	if err != nil {
		t.Fatal(err)
	}
	var kept bool
	for _, tok := range list {
		if strings.Contains(tok.Description, "meet-0003") {
			t.Errorf("meet-0003's token %q is still in Consul", tok.Description)
		}
		kept = kept || tok.AccessorID == other.AccessorID
	}
	if !kept || len(list) != 2*2+3+2*3+3 {
		t.Fatalf("want 13 managed tokens plus management, anonymous and the operator's own (kept=%v): %d", kept, len(list))
	}
}
