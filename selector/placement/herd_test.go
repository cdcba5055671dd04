package placement

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// burst places rooms new rooms on a fleet whose load data does not change during the burst (they
// all arrive within one data interval), recording each assignment as the selector would.
func burst(t *testing.T, p Policy, loads []float64, rooms int) (s *Snapshot, perNode []int) {
	t.Helper()
	c := newClock()
	f := newLedger(t, DefaultConfig(), c)
	nodes := make([]Node, len(loads))
	for i, l := range loads {
		nodes[i] = Node{ID: fmt.Sprintf("node-%02d", i), Load: l, Capacity: 4, Age: 5 * time.Second}
	}
	s = f.Snapshot(nodes)
	perNode = make([]int, len(nodes))
	r := rand.New(rand.NewPCG(7, 7))
	for k := range rooms {
		ch, err := p.Pick(s, fmt.Sprintf("burst-%d", k), r)
		if err != nil {
			t.Fatal(err)
		}
		s.Assign(ch.Index)
		perNode[ch.Index]++
		c.Advance(50 * time.Millisecond) // 100 rooms in 5 s: inside one 5 s poll interval
	}
	return s, perNode
}

// TestHerd is the stale-data herd: 100 new rooms within one data interval over 20 nodes whose
// reported loads differ. The original rule sends the whole burst to the node that looked
// emptiest; the corrected policies spread it.
func TestHerd(t *testing.T) {
	const nodes, rooms = 20, 100
	r := rand.New(rand.NewPCG(3, 4))
	loads := make([]float64, nodes)
	for i := range loads {
		loads[i] = 0.2 + 0.3*r.Float64()
	}
	mean := float64(rooms) / nodes
	maxOf := map[string]int{}
	for _, name := range Builtin().Names() {
		p, _ := Builtin().Get(name)
		s, per := burst(t, p, loads, rooms)
		maxOf[name] = slices.Max(per)
		t.Logf("%-14s max %3d rooms on one node, max/mean %.2f", name, maxOf[name], float64(maxOf[name])/mean)

		switch name {
		case "most-free-cpu":
			if maxOf[name] != rooms {
				t.Errorf("most-free-cpu spread the burst (max %d of %d): the baseline no longer shows the herd", maxOf[name], rooms)
			}
		case "least-loaded":
			// Water-filling: every node that received a room was, before its last one, no fuller than
			// any node ended up.
			low := s.Score(0)
			for i := range per {
				low = min(low, s.Score(i))
			}
			for i, n := range per {
				if n > 0 && s.Score(i)-s.step[i] > low+1e-9 {
					t.Errorf("least-loaded gave node %d a room at score %.3f while another stayed at %.3f", i, s.Score(i)-s.step[i], low)
				}
			}
		}
	}
	for _, name := range []string{"least-loaded", "p2c"} {
		// The corrected policies must not herd: no node takes even a quarter of what the herd put
		// on one node.
		if maxOf[name] > rooms/4 {
			t.Errorf("%s put %d of %d rooms on one node", name, maxOf[name], rooms)
		}
	}
}
