package sim

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSimulate replays the default 8-hour day at 80 % mean load in the busiest hour with the
// default policy and the oracle row (what `ensemble-sim --policy best-of-d` runs) on 1,000, 2,000,
// 4,000 and 10,000 nodes, one day per iteration. It reports the process's CPU time per day
// (user + system, both rows) and per simulated meeting: a cost that grows linearly in the fleet
// keeps cpu-µs/meeting flat, so the growth reads straight off that column. Run it with
// -benchtime 1x (a 10,000-node day is about two million meetings); docs/placement.md has figures.
func BenchmarkSimulate(b *testing.B) {
	for _, n := range []int{1_000, 2_000, 4_000, 10_000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			o := DefaultOptions()
			o.Nodes = n
			o.MeanLoad = 0.8
			o.Policies = []string{"best-of-d"}
			var meetings int
			start := cpuTime(b)
			for b.Loop() {
				rep, err := Run(context.Background(), o)
				if err != nil {
					b.Fatal(err)
				}
				meetings += rep.Scenario.Meetings
			}
			cpu := cpuTime(b) - start
			b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(cpu.Microseconds())/float64(meetings), "cpu-µs/meeting")
			b.ReportMetric(float64(meetings)/b.Elapsed().Seconds(), "meetings/s")
		})
	}
}

// cpuTime returns the CPU time (user + system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
