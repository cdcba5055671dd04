package selector

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/catalog"
	"github.com/ensemble-jitsi/ensemble/selector/load"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
)

// BenchmarkPublishView measures the rebuild after a catalog change or a load poll: joining the catalog
// with the load samples and building the placement snapshot. It reports the heap the view holds.
func BenchmarkPublishView(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, _ := inProcess(b)
			cat := &catalog.Snapshot{Index: 1}
			samples := map[string]load.Sample{}
			now := time.Now()
			for i := range n {
				id := fmt.Sprintf("node-%05d", i)
				cat.Nodes = append(cat.Nodes, catalog.Node{ID: id, PublicURL: "https://" + id + ".example.org", State: placement.Eligible, Capacity: 8})
				samples[id] = load.Sample{CPU: float64(i%90) / 100, Stress: 0.1, Endpoints: 20, At: now}
			}
			s.loaded.Store(&loadState{samples: samples})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s.publish(cat)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportAllocs()
			for b.Loop() {
				s.publish(cat)
			}
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "view-MiB")
		})
	}
}
