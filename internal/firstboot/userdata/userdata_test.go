package userdata

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// now is inside the validity of the test certificates (testdata/gen).
var now = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseGood(t *testing.T) {
	want := map[string]func(t *testing.T, c *Config){
		"provided.yaml": func(t *testing.T, c *Config) {
			expect(t, "public name", c.PublicName, "meet-0003.example.org")
			expect(t, "region", c.Region, "fr-par")
			expect(t, "interface", c.PrivateInterface, "ens5")
			expect(t, "mode", c.TLS.Mode, ModeProvided)
			expect(t, "datacenter", c.Consul.Datacenter, "par1")
			expect(t, "retry_join", strings.Join(c.Consul.RetryJoin, "|"), "172.16.0.2|172.16.0.3|provider=scaleway tag_name=consul-server")
			expect(t, "monitoring", strings.Join(c.MonitoringSources, "|"), "172.16.0.10/32|172.16.0.11/32")
			expect(t, "certificate", c.TLS.Certificate, string(read(t, "testdata/pki/wildcard.pem")))
			expect(t, "key", c.TLS.Key, string(read(t, "testdata/pki/wildcard.key")))
			expect(t, "CA", c.Consul.CACertificate, string(read(t, "testdata/pki/consul-ca.pem")))
			expect(t, "agent token", c.Consul.AgentToken, "3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f")
			expect(t, "turn", c.TURN.Secret, "0123456789abcdef0123456789abcdef-turn")
		},
		"acme.yaml": func(t *testing.T, c *Config) {
			expect(t, "mode", c.TLS.Mode, ModeACME)
			expect(t, "email", c.TLS.ACMEEmail, "ops@example.org")
			expect(t, "directory", c.TLS.ACMEDirectory, DefaultACMEDirectory)
		},
		"minimal.yaml": func(t *testing.T, c *Config) {
			expect(t, "datacenter default", c.Consul.Datacenter, "dc1")
			expect(t, "region", c.Region, "")
			expect(t, "cidr", c.PrivateCIDR, "100.64.8.0/24")
		},
		"rsa.yaml": func(t *testing.T, c *Config) {
			expect(t, "cidr", c.PrivateCIDR, "fd12:3456:789a::/48")
		},
	}
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) != len(want) {
		t.Fatalf("testdata/good has %d files, the test knows %d", len(files), len(want))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Parse(read(t, f), now)
			if err != nil {
				t.Fatal(err)
			}
			want[filepath.Base(f)](t, c)
		})
	}
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// TestParseBad runs every broken variant: each must fail with an error naming its field
// (the "# want:" line of the file).
func TestParseBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) < 40 {
		t.Fatalf("only %d bad cases; run go run ./testdata/gen", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc := read(t, f)
			_, rest, ok := strings.Cut(string(doc), "# want: ")
			if !ok {
				t.Fatal("no # want: line")
			}
			want, _, _ := strings.Cut(rest, "\n")
			_, err := Parse(doc, now)
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not contain %q", err, want)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *userdata.Error", err)
			}
			if !strings.HasPrefix(err.Error(), "user-data: ") {
				t.Errorf("error %q does not start with user-data:", err)
			}
		})
	}
}

func TestParseNotYetValid(t *testing.T) {
	_, err := Parse(read(t, "testdata/good/provided.yaml"), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	if err == nil || !strings.Contains(err.Error(), "ensemble.tls.certificate is not valid before 2026-01-01") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	doc := append([]byte("#cloud-config\n"), make([]byte, MaxSize)...)
	if _, err := Parse(doc, now); err == nil || !strings.Contains(err.Error(), "more than the") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"meet.example.org", true},
		{"xn--rnion-bsa.example.org", true},
		{"a.b", true},
		{"meet-1.example.org", true},
		{"-meet.example.org", false},
		{"meet-.example.org", false},
		{"meet..example.org", false},
		{"meet.example.org.", false},
		{"10.0.0.1", false},
		{strings.Repeat("a", 64) + ".org", false},
		{strings.Repeat("abcdefg.", 32) + "org", false},
		{"", false},
	} {
		if err := ValidateName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
