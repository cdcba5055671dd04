package registration

import (
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

func TestParsePublicURL(t *testing.T) {
	n := 0
	for _, line := range testenv.Lines(t, "testdata/public_urls.txt") {
		in, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n++
		t.Run(in, func(t *testing.T) {
			got, err := ParsePublicURL(in)
			if want == "error" {
				if err == nil {
					t.Fatalf("ParsePublicURL(%q) = %q, want an error", in, got)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("ParsePublicURL(%q) = %q, %v; want %q", in, got, err, want)
			}
		})
	}
	if n < 40 {
		t.Fatalf("only %d cases read", n)
	}
}

func FuzzParsePublicURL(f *testing.F) {
	f.Add("https://meet.example.org")
	f.Add("https://a@b/c?d#e")
	f.Add("https://xn--exmple-cua.com:8443")
	f.Add("https://[::1%eth0]:443")
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParsePublicURL(raw)
		if err != nil {
			return
		}
		// Whatever was accepted must be a bare https origin that parses back to itself.
		again, err := ParsePublicURL(got)
		if err != nil || again != got {
			t.Fatalf("%q -> %q does not round-trip: %q, %v", raw, got, again, err)
		}
		rest := strings.TrimPrefix(got, "https://")
		if strings.ContainsAny(rest, "/?#@\\%<>\"' ") {
			t.Fatalf("%q accepted as %q", raw, got)
		}
		for _, c := range rest {
			if c >= 0x7f || !(c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
				t.Fatalf("%q accepted as %q with %q", raw, got, c)
			}
		}
	})
}

func TestValidServiceID(t *testing.T) {
	for id, ok := range map[string]bool{
		"meet1": true, "node-1": true, "meet1.example.org": true, "a_b": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "-a": false, "a b": false, "a/b": false, "a<b": false,
		"é": false, "a\nb": false, "a\"b": false,
	} {
		if err := ValidServiceID(id); (err == nil) != ok {
			t.Errorf("ValidServiceID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

func TestDomains(t *testing.T) {
	d, err := ParseDomains([]string{"example.org", "*.meet.example.net", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	for host, ok := range map[string]bool{
		"example.org": true, "meet1.example.org": true, "a.b.example.org": true,
		"meet.example.net": true, "x.meet.example.net": true, "example.net": false,
		"evilexample.org": false, "example.org.evil.example": false, "attacker.example": false,
		"192.0.2.7": true, "192.0.2.8": false, "1.192.0.2.7": false,
	} {
		if got := d.Allows(host); got != ok {
			t.Errorf("Allows(%q) = %v, want %v", host, got, ok)
		}
	}
	if !(Domains{}).Allows("anything.example") {
		t.Error("the empty allowlist refused a host")
	}
	for _, bad := range []string{"", "exa mple.org", "exämple.org", "a..b"} {
		if _, err := ParseDomains([]string{bad}); err == nil {
			t.Errorf("ParseDomains(%q) accepted", bad)
		}
	}
}

func TestBoundURL(t *testing.T) {
	d, err := ParseDomains([]string{"example.org", "*.meet.example.net", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range testenv.Lines(t, "testdata/bound_urls.txt") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("bad line %q", line)
		}
		if got := d.BoundURL(f[0], f[1]); got != (f[2] == "bound") {
			t.Errorf("BoundURL(%q, %q) = %v, want %s", f[0], f[1], got, f[2])
		}
	}
	if (Domains{}).BoundURL("meet1", "https://meet1.example.org") {
		t.Error("the empty allowlist bound a URL")
	}
}
