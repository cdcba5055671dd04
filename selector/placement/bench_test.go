package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func benchNodes(n int) []Node {
	r := rand.New(rand.NewPCG(1, 1))
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{
			ID: fmt.Sprintf("jitsi-%05d", i), URL: fmt.Sprintf("https://jitsi-%05d.example.org", i),
			Region: "fr-par", Capacity: 4, Load: 0.1 + 0.6*r.Float64(), Stress: 0.1, Endpoints: 20,
			Age: 3 * time.Second,
		}
	}
	return nodes
}

// BenchmarkPick measures one placement decision per policy and fleet size, with a pending account
// on every tenth node so the corrected score has work to do.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000} {
		f, err := NewLedger(DefaultConfig(), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		s := f.Snapshot(benchNodes(n))
		for i := 0; i < n; i += 10 {
			s.Assign(i)
		}
		reg := Builtin()
		for _, name := range reg.Names() {
			p, _ := reg.Get(name)
			b.Run(fmt.Sprintf("%s/nodes=%d", name, n), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				// The first pick of a snapshot pays least-loaded's one-off sort; BenchmarkSnapshot
				// reports that cost separately.
				if _, err := p.Pick(s, "warm-up", r); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Pick(s, "weekly-standup-042", r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSnapshot measures rebuilding the snapshot of a 10,000-node fleet after a load refresh
// (same nodes, new loads); B/op is the heap one snapshot allocates. "sorted" adds the by-load
// order that least-loaded and most-free-cpu build on their first pick. "copy" is the baseline:
// cloning the input, which any immutable snapshot must do.
func BenchmarkSnapshot(b *testing.B) {
	nodes := benchNodes(10_000)
	b.Run("copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = slices.Clone(nodes)
		}
	})
	for _, sorted := range []bool{false, true} {
		b.Run(fmt.Sprintf("sorted=%v", sorted), func(b *testing.B) {
			f, err := NewLedger(DefaultConfig(), time.Now)
			if err != nil {
				b.Fatal(err)
			}
			f.Snapshot(nodes) // accounts exist, as in steady state
			b.ReportAllocs()
			for b.Loop() {
				s := f.Snapshot(nodes)
				if sorted {
					s.sorted()
				}
			}
		})
	}
}

// BenchmarkPickSaturated measures p2c on a fleet whose every node is over the high-water mark through
// its pending account (a burst of new rooms faster than the load data moves): the case that used to
// scan every node per pick.
func BenchmarkPickSaturated(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			f, err := NewLedger(DefaultConfig(), time.Now)
			if err != nil {
				b.Fatal(err)
			}
			s := f.Snapshot(benchNodes(n))
			for i := range n {
				for range 16 { // 16 × 0.25/4 = 1.0 on top of the reported load
					s.Assign(i)
				}
			}
			r := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				if ch, err := (P2C{}).Pick(s, "weekly-standup-042", r); err != nil || !ch.Saturated {
					b.Fatal(ch, err)
				}
			}
		})
	}
}
