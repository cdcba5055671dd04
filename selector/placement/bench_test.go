package placement

import (
	"fmt"
	"math/rand/v2"
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
		f, err := NewFleet(DefaultConfig(), time.Now)
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

// BenchmarkSnapshot measures rebuilding the snapshot of a 10,000-node fleet; B/op is the heap
// one snapshot allocates.
func BenchmarkSnapshot(b *testing.B) {
	nodes := benchNodes(10_000)
	f, err := NewFleet(DefaultConfig(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	f.Snapshot(nodes) // accounts exist, as in steady state
	b.ReportAllocs()
	for b.Loop() {
		f.Snapshot(nodes)
	}
}
