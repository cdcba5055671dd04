package sidecar_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/jvbemu"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

// TestNodeCheck: a sidecar whose service ID is its agent's node name, holding the token
// consul-acl-sync.py makes for it (deploy/consul/jitsi-sidecar.hcl verbatim plus the node's
// identity), registers the node-level check the selector trusts; a drain shows on it as a
// warning; when the sidecar stops, the check is left critical and the service is gone. With the
// policy alone (no node identity) the log says node:write is missing and the service stays; a
// node check lost behind the sidecar's back is written again at the next resync.
func TestNodeCheck(t *testing.T) {
	const node = "meet-n"
	e := newEnv(t, testenv.ConsulOptions{ACLDefaultDeny: true, NodeName: node}, jvbemu.Options{})
	rules, err := os.ReadFile("../deploy/consul/jitsi-sidecar.hcl")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := e.client.ACL().PolicyCreate(&api.ACLPolicy{Name: "ensemble-jitsi-sidecar", Rules: string(rules)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	token := func(ids ...*api.ACLNodeIdentity) string {
		tok, _, err := e.client.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}, NodeIdentities: ids}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok.SecretID
	}

	var denied testenv.Buffer
	o := e.options(node, &denied)
	o.Consul = &api.Config{Address: e.consul.Addr, Token: token()}
	r := start(t, o)
	testenv.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(denied.String(), "lacks permission node:write on this node") {
			return fmt.Errorf("no node:write error logged yet")
		}
		return nil
	})
	// The service stays registered (unbound selectors use it) while the node check is retried.
	waitAgent(t, e.client, node, true, false, 5*time.Second)
	r.cancel()
	_ = r.wait(t, 10*time.Second)

	var logs testenv.Buffer
	o = e.options(node, &logs)
	o.Consul = &api.Config{Address: e.consul.Addr, Token: token(&api.ACLNodeIdentity{NodeName: node, Datacenter: "dc1"})}
	r = start(t, o)
	waitNodeCheck := func(status, notes string) {
		t.Helper()
		testenv.WaitFor(t, 10*time.Second, func() error {
			checks, _, err := e.client.Health().Node(node, nil)
			if err != nil {
				return err
			}
			for _, c := range checks {
				if c.CheckID == registration.NodeCheckID(node) {
					if c.ServiceID != "" || c.Status != status || !strings.Contains(c.Notes, notes) {
						return fmt.Errorf("node check %+v, want a node-level check %s with notes %q", c, status, notes)
					}
					return nil
				}
			}
			return fmt.Errorf("no node check among %d checks", len(checks))
		})
	}
	waitNodeCheck(api.HealthPassing, "only this node")
	// Lost behind its back (an agent restarted empty keeps the service only if re-registered):
	// the resync writes it again.
	if err := e.client.Agent().CheckDeregister(registration.NodeCheckID(node)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "node check differs; writing it again") {
			return fmt.Errorf("the resync did not write the node check again")
		}
		return nil
	})
	waitNodeCheck(api.HealthPassing, "only this node")
	conf := e.emu.StartConference(1)
	post(t, r.ctl+"/drain")
	waitNodeCheck(api.HealthWarning, "only this node")
	post(t, r.ctl+"/undrain")
	waitNodeCheck(api.HealthPassing, "only this node")

	r.cancel() // stops after a drain: the meeting must end first
	e.emu.EndConference(conf)
	if err := r.wait(t, 10*time.Second); err != nil {
		t.Fatalf("Run = %v", err)
	}
	waitNodeCheck(api.HealthCritical, "stopped")
	waitAgent(t, e.client, node, false, false, time.Second)
}
