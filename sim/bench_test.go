package sim

import (
	"context"
	"testing"
)

// BenchmarkSimulate replays the default 8-hour day on a 10,000-node fleet at 80 % mean load in
// the busiest hour (about two million meetings) with the default policy, and reports simulated
// meetings per second of wall time. One iteration is the goal's "a day of a 10,000-node fleet".
func BenchmarkSimulate(b *testing.B) {
	o := DefaultOptions()
	o.Nodes = 10_000
	o.MeanLoad = 0.8
	o.Policies = []string{"p2c"}
	var meetings int
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Run(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		meetings += rep.Scenario.Meetings
	}
	b.ReportMetric(float64(meetings)/b.Elapsed().Seconds(), "meetings/s")
}
