package firstboot_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
)

// TestFirewallChecked renders the images' real firewall templates and checks them with the
// real nft before the verdict: user-data the validation accepts but nft refuses (an IPv6
// private network in an "ip saddr" rule) fails the boot and leaves the old rules in place.
func TestFirewallChecked(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatalf("nft not found (run scripts/install-deps.sh): %v", err)
	}
	for _, tc := range []struct {
		name, from, to string
		want           string // in the verdict's error; empty: ok
	}{
		{"good", "", "", ""},
		{"ipv6 private network", "private_cidr: 172.16.0.0/22", "private_cidr: fd00:42::/64", "do not load, nothing was written"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, "good/provided.yaml", func(s string) string { return strings.Replace(s, tc.from, tc.to, 1) })
			rules := filepath.Join(n.dir, "nftables.d")
			if err := os.Mkdir(rules, 0o755); err != nil {
				t.Fatal(err)
			}
			root, _ := filepath.Abs(filepath.Join("..", "..", "ansible", "roles"))
			list := []map[string]string{
				{"template": filepath.Join(root, "base", "files", "firstboot", "nftables-node.nft.tmpl"), "dest": filepath.Join(rules, "input-node.nft"), "mode": "0644"},
				{"template": filepath.Join(root, "jitsi", "files", "firstboot", "nftables-jitsi-node.nft.tmpl"), "dest": filepath.Join(rules, "input-node-jitsi.nft"), "mode": "0644"},
			}
			b, _ := json.Marshal(list)
			if err := os.WriteFile(filepath.Join(n.dir, "outputs.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			old := []byte("# the rules of the previous boot\n")
			if err := os.WriteFile(list[0]["dest"], old, 0o644); err != nil {
				t.Fatal(err)
			}
			o := n.options()
			o.NftFragments = filepath.Join(rules, "input-*.nft")
			st, err := firstboot.Apply(context.Background(), o)
			if v, rerr := status.Read(o.StatusFile); rerr != nil || v.OK != st.OK {
				t.Fatalf("verdict %+v, %v", v, rerr)
			}
			got, _ := os.ReadFile(list[0]["dest"])
			if tc.want == "" {
				if err != nil || !st.OK || !strings.Contains(string(got), "th dport 8301 ip saddr { 172.16.0.0/22 }") {
					t.Fatalf("apply: %v %+v; rules %q", err, st, got)
				}
				return
			}
			if err == nil || st.OK || !strings.Contains(st.Error, tc.want) || !strings.Contains(st.Error, list[0]["dest"]) {
				t.Fatalf("apply: %v; verdict %+v; want a failure naming %s with %q", err, st, list[0]["dest"], tc.want)
			}
			if string(got) != string(old) {
				t.Errorf("the old rules were replaced by %q", got)
			}
			t.Logf("verdict: %s", st.Error)
		})
	}
}
