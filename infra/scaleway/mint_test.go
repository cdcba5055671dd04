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

type nodeSecrets struct {
	NodeSecrets map[string]struct {
		AgentToken   string `json:"agent_token"`
		SidecarToken string `json:"sidecar_token"`
		TurnSecret   string `json:"turn_secret"`
	} `json:"node_secrets"`
}

// TestMintNodeSecrets runs mint-node-secrets.py against a real Consul with ACLs: the tokens it
// prints exist, carry the node identity or the sidecar policy, a second run for more nodes
// keeps the first ones, and --rotate replaces one node's.
func TestMintNodeSecrets(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := services.StartConsul(ctx, services.ConsulOptions{ACLDefaultDeny: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client, err := api.NewClient(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.ACL().PolicyCreate(&api.ACLPolicy{Name: "ensemble-jitsi-sidecar", Rules: `service "jitsi" { policy = "write" }`}, nil); err != nil {
		t.Fatal(err)
	}
	consul, err := services.ConsulPath()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The CLI needs "consul" on PATH; give it the pinned build.
	if err := os.Symlink(consul, filepath.Join(dir, "consul")); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "node-secrets.auto.tfvars.json")
	run := func(args ...string) nodeSecrets {
		t.Helper()
		cmd := exec.CommandContext(ctx, "python3", append([]string{"mint-node-secrets.py", "--existing", existing}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "CONSUL_HTTP_ADDR="+c.HTTPAddr, "CONSUL_HTTP_TOKEN="+c.Token)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mint-node-secrets.py %v: %v\n%s", args, err, stderr.String())
		}
		var s nodeSecrets
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		if err := os.WriteFile(existing, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return s
	}

	first := run("--prefix", "meet", "--count", "2", "--datacenter", "dc1")
	if len(first.NodeSecrets) != 2 {
		t.Fatalf("want secrets for 2 nodes: %+v", first)
	}
	seen := map[string]bool{}
	for name, s := range first.NodeSecrets {
		for _, v := range []string{s.AgentToken, s.SidecarToken, s.TurnSecret} {
			if seen[v] {
				t.Fatalf("%s: secret %s is not unique", name, v)
			}
			seen[v] = true
		}
		if len(s.TurnSecret) < 32 {
			t.Errorf("%s: turn secret %q is shorter than 32", name, s.TurnSecret)
		}
		agent, _, err := client.ACL().TokenReadSelf(&api.QueryOptions{Token: s.AgentToken})
		if err != nil {
			t.Fatalf("%s: agent token not in Consul: %v", name, err)
		}
		if len(agent.NodeIdentities) != 1 || agent.NodeIdentities[0].NodeName != name || agent.NodeIdentities[0].Datacenter != "dc1" {
			t.Errorf("%s: agent token identities %+v, want the node identity %s:dc1", name, agent.NodeIdentities, name)
		}
		sidecar, _, err := client.ACL().TokenReadSelf(&api.QueryOptions{Token: s.SidecarToken})
		if err != nil {
			t.Fatalf("%s: sidecar token not in Consul: %v", name, err)
		}
		if len(sidecar.Policies) != 1 || sidecar.Policies[0].Name != "ensemble-jitsi-sidecar" || len(sidecar.NodeIdentities) != 0 {
			t.Errorf("%s: sidecar token has %+v / %+v, want only the ensemble-jitsi-sidecar policy", name, sidecar.Policies, sidecar.NodeIdentities)
		}
	}

	second := run("--prefix", "meet", "--count", "3", "--datacenter", "dc1")
	if len(second.NodeSecrets) != 3 || second.NodeSecrets["meet-0001"] != first.NodeSecrets["meet-0001"] || second.NodeSecrets["meet-0002"] != first.NodeSecrets["meet-0002"] {
		t.Fatalf("a second run must keep meet-0001/0002 and add meet-0003: %+v", second)
	}

	rotated := run("--prefix", "meet", "--count", "3", "--datacenter", "dc1", "--rotate", "meet-0002")
	if rotated.NodeSecrets["meet-0002"] == second.NodeSecrets["meet-0002"] || rotated.NodeSecrets["meet-0001"] != second.NodeSecrets["meet-0001"] {
		t.Fatalf("--rotate meet-0002 must change only meet-0002: %+v", rotated)
	}
}
