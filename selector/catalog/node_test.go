package catalog

import (
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/testenv"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
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
	if n < 10 {
		t.Fatalf("only %d cases read", n)
	}
}

func FuzzParsePublicURL(f *testing.F) {
	f.Add("https://meet.example.org")
	f.Add("https://a@b/c?d#e")
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
		if strings.ContainsAny(strings.TrimPrefix(got, "https://"), "/?#@\\") {
			t.Fatalf("%q accepted as %q", raw, got)
		}
	})
}

func TestClassify(t *testing.T) {
	chk := func(id, status string) *api.HealthCheck { return &api.HealthCheck{CheckID: id, Status: status} }
	cases := []struct {
		name   string
		checks api.HealthChecks
		want   placement.State
	}{
		{"no checks", nil, placement.Eligible},
		{"all passing", api.HealthChecks{chk("serfHealth", "passing"), chk("service:a", "passing")}, placement.Eligible},
		{"maintenance", api.HealthChecks{chk("service:a", "passing"), chk("_service_maintenance:a", "critical")}, placement.Draining},
		{"node maintenance", api.HealthChecks{chk("_node_maintenance", "critical")}, placement.Draining},
		{"warning", api.HealthChecks{chk("service:a", "warning")}, placement.Draining},
		{"own check critical", api.HealthChecks{chk("service:a", "critical")}, placement.Gone},
		{"critical beats maintenance", api.HealthChecks{chk("_service_maintenance:a", "critical"), chk("service:a", "critical")}, placement.Gone},
		{"serf critical", api.HealthChecks{chk("serfHealth", "critical"), chk("service:a", "passing")}, placement.Gone},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.checks); got != c.want {
				t.Fatalf("classify = %v, want %v", got, c.want)
			}
		})
	}
}

func TestNextIndex(t *testing.T) {
	cases := []struct{ prev, got, want uint64 }{
		{0, 5, 5},
		{5, 5, 5},
		{5, 9, 9},
		{9, 3, 0}, // went backwards: Consul's store was reset
		{9, 0, 0},
		{0, 0, 1}, // never block on 0
	}
	for _, c := range cases {
		if got := nextIndex(c.prev, c.got); got != c.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", c.prev, c.got, got, c.want)
		}
	}
}
