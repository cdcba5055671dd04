package userdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary documents to Parse: it must never panic, and whatever it accepts
// must be a complete node (the required fields set, defaults filled).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("#cloud-config\nensemble: &a [*a]\n"))
	f.Add([]byte("#cloud-config\nensemble: {version: 1, tls: {mode: acme}}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc, now)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "user-data: ") {
				t.Fatalf("error without the user-data prefix: %v", err)
			}
			return
		}
		if c.Version != 1 || c.PublicName == "" || c.PrivateCIDR == "" || len(c.MonitoringSources) == 0 ||
			c.Consul.Datacenter == "" || len(c.Consul.RetryJoin) == 0 || c.Consul.AgentToken == "" || len(c.TURN.Secret) < 32 {
			t.Fatalf("accepted an incomplete node: %+v", c)
		}
		if c.TLS.Mode == ModeACME && c.TLS.ACMEDirectory == "" {
			t.Fatal("acme without a directory")
		}
	})
}
