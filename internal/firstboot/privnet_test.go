package firstboot_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/status"
)

// TestPrivateNetworkNeverUp: when no interface ever gets an address in private_cidr, the
// verdict says so and nothing is written (Consul could not bind anyway).
func TestPrivateNetworkNeverUp(t *testing.T) {
	n := newNode(t, "good/provided.yaml", func(s string) string { return s })
	o := n.options()
	o.PrivateNetworkWait = 500 * time.Millisecond // this machine has no 172.16.0.0/22 on ens5
	st, err := firstboot.Apply(context.Background(), o)
	if err == nil || st.OK || !strings.Contains(st.Error, "no address in private_cidr 172.16.0.0/22 on interface ens5") {
		t.Fatalf("apply: %v, %+v", err, st)
	}
	if v, err := status.Read(o.StatusFile); err != nil || v.Error != st.Error {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(n.dir, "ssl", "node.crt")); !os.IsNotExist(err) {
		t.Errorf("the certificate was written: %v", err)
	}
}
