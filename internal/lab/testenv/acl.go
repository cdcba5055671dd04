package testenv

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

// ACLToken creates a policy from rules (Consul's HCL ACL language) and a token holding it
// through client, which needs the management token, and returns the token's secret. Tests use
// it to act with exactly the rights a sidecar or a selector is documented to get.
func ACLToken(t testing.TB, client *api.Client, name, rules string) string {
	t.Helper()
	p, _, err := client.ACL().PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil)
	if err != nil {
		t.Fatalf("create ACL policy %s: %v", name, err)
	}
	tok, _, err := client.ACL().TokenCreate(&api.ACLToken{
		Description: name,
		Policies:    []*api.ACLTokenPolicyLink{{ID: p.ID}},
	}, nil)
	if err != nil {
		t.Fatalf("create ACL token %s: %v", name, err)
	}
	return tok.SecretID
}
