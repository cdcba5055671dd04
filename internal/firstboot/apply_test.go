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

// TestACMEFailure: an ACME order that fails at boot keeps a certificate that still works
// (the timer retries), and fails the boot when there is none.
func TestACMEFailure(t *testing.T) {
	// Nothing listens on port 1: the order fails at once.
	n := newNode(t, "good/acme.yaml", func(doc string) string {
		return strings.Replace(doc, "    mode: acme\n", "    mode: acme\n    acme_directory: https://127.0.0.1:1/directory\n", 1)
	})
	o := n.options()
	o.ACMEHTTPAddress = "127.0.0.1:0"
	o.ACMERetryFor, o.ACMERetryMin = 300*time.Millisecond, 50*time.Millisecond
	ctx := context.Background()

	st, err := firstboot.Apply(ctx, o)
	if err == nil || st.OK || !strings.Contains(st.Error, "acme: registering with https://127.0.0.1:1/directory") ||
		!strings.Contains(st.Error, "attempts in 300ms") {
		t.Fatalf("apply without a certificate: %+v, %v", st, err)
	}
	if s, err := status.Read(o.StatusFile); err != nil || s.OK || s.Error != st.Error || s.PublicName != "meet-0003.example.org" {
		t.Fatalf("verdict %+v, %v", s, err)
	}

	// The wildcard test certificate (valid until 2046-01-01) covers the node's name: two
	// weeks before it expires, renewal is due, fails, and the boot goes on with it.
	for _, f := range []struct{ src, dst string }{{"wildcard.pem", o.TLSCertFile}, {"wildcard.key", o.TLSKeyFile}} {
		b, err := os.ReadFile(filepath.Join("userdata", "testdata", "pki", f.src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(f.dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.dst, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	o.Now = func() time.Time { return time.Date(2045, 12, 18, 0, 0, 0, 0, time.UTC) }
	st, err = firstboot.Apply(ctx, o)
	if err != nil || !st.OK {
		t.Fatalf("apply with a working certificate: %+v, %v", st, err)
	}
	// renew fails the unit (so the timer's failure is visible) but keeps the pair.
	if renewed, err := firstboot.Renew(ctx, o); err == nil || renewed {
		t.Fatalf("renew against a dead CA: %v, %v", renewed, err)
	}
	if b, _ := os.ReadFile(o.TLSCertFile); !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatal("certificate lost")
	}
}

// TestProvidedClearsACME: moving a node to a provided certificate stops renewals.
func TestProvidedClearsACME(t *testing.T) {
	n := newNode(t, "good/provided.yaml", func(s string) string { return s })
	o := n.options()
	if err := os.MkdirAll(o.ACMEDir, 0o700); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(o.ACMEDir, "state.json")
	if err := os.WriteFile(state, []byte(`{"public_name":"meet-0003.example.org","directory":"https://127.0.0.1:1/d"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := firstboot.Apply(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("ACME state still there: %v", err)
	}
	if renewed, err := firstboot.Renew(context.Background(), o); err != nil || renewed {
		t.Fatalf("renew: %v, %v", renewed, err)
	}
}
