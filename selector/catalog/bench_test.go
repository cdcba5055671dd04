package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/registration"
)

func entries(n int) []*api.ServiceEntry {
	out := make([]*api.ServiceEntry, n)
	for i := range out {
		id := fmt.Sprintf("node-%05d", i)
		out[i] = &api.ServiceEntry{
			Node: &api.Node{Node: id, Address: "10.0.0.1"},
			Service: &api.AgentService{ID: id, Service: "jitsi", Address: "10.0.0.1", Port: 9100, Meta: map[string]string{
				registration.MetaPublicURL: "https://" + id + ".example.org", registration.MetaRegion: "eu", registration.MetaCapacity: "8", registration.MetaSidecarPort: "9100",
			}},
			Checks: api.HealthChecks{
				{CheckID: "serfHealth", Status: api.HealthPassing},
				{CheckID: registration.NodeCheckID(id), Status: api.HealthPassing},
				{CheckID: "service:" + id, ServiceID: id, Status: api.HealthPassing},
			},
		}
	}
	return out
}

// BenchmarkPublish measures turning one Consul answer into a snapshot (the work after each change).
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			es := entries(n)
			w := &Watcher{opts: DefaultOptions(), logger: slog.New(slog.DiscardHandler)}
			w.opts.Now = time.Now
			w.opts.AllowedDomains, _ = registration.ParseDomains([]string{"example.org"})
			b.ReportAllocs()
			for b.Loop() {
				w.current.Store(nil) // force a full build and swap each time
				w.publish(context.Background(), es, 1)
			}
		})
	}
}
